// FtpClient against servers that lie or attack: replies smuggled in before TLS, certificates for
// another name, transfers without data connections, listings that point outside, reply floods.
// Scripted servers on 127.0.0.1; every socket and wait is bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { Readable, Writable } from 'node:stream';
import { FtpClient, FtpServer, FtpError, FtpConnectionError } from '../../dist/index.js';
import { fakeServer } from '../helpers/fake-server.js';

const connect = (port, extra = {}) => FtpClient.connect({
  host: '127.0.0.1', port, user: 'u', password: 'p', timeouts: { connect: 5000, reply: 3000, dataIdle: 5000 }, ...extra,
});

test('a reply smuggled in clear after 234 (AUTH TLS) stops the login: nothing is sent over TLS', async () => {
  const { generate } = await import('selfsigned');
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], { keyType: 'ec', algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] }] });
  const seen = [];
  const server = net.createServer((ctl) => {
    ctl.setTimeout(10_000, () => ctl.destroy());
    ctl.on('error', () => {});
    ctl.write('220 hello\r\n');
    ctl.once('data', () => {
      // One segment: the 234 and a forged 230 for the USER that will come over TLS.
      ctl.write('234 go ahead\r\n230 injected\r\n');
      const s = new tls.TLSSocket(ctl, { isServer: true, cert: pems.cert, key: pems.private });
      s.on('error', () => {});
      s.on('data', (d) => seen.push(...d.toString().split('\r\n').filter(Boolean)));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    await assert.rejects(connect(server.address().port, { security: 'explicit', tls: { ca: pems.cert } }), FtpConnectionError);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(seen, [], 'no command went out over the TLS connection');
  } finally { server.close(); }
});

test('ftpes:// to an IP address checks the certificate against that address, not "localhost"', async () => {
  const { generate } = await import('selfsigned');
  const cert = async (altNames) => generate([{ name: 'commonName', value: 'test' }], { keyType: 'ec', algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames }] });
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-hostile-'));
  await fs.writeFile(path.join(root, 'f.txt'), 'secret');
  try {
    for (const [altNames, ok] of [[[{ type: 7, ip: '127.0.0.1' }], true], [[{ type: 2, value: 'localhost' }], false]]) {
      const pems = await cert(altNames);
      const srv = new FtpServer({ host: '127.0.0.1', port: 0, root, users: [{ username: 'u', password: 'p' }], tls: { cert: pems.cert, key: pems.private } });
      const { port } = await srv.listen();
      try {
        const attempt = connect(port, { security: 'explicit', tls: { ca: pems.cert } });
        if (ok) {
          const c = await attempt;
          const chunks = [];
          await c.download('f.txt', new Writable({ write(ch, _e, cb) { chunks.push(ch); cb(); } }));
          assert.equal(Buffer.concat(chunks).toString(), 'secret', 'the data connection is checked the same way');
          await c.close();
        } else {
          await assert.rejects(attempt, (err) => /altname|does not match|IP: 127\.0\.0\.1 is not in the cert/i.test(err.message), 'a certificate for localhost is not one for 127.0.0.1');
        }
      } finally { await srv.close(); }
    }
  } finally { await fs.rm(root, { recursive: true, force: true }); }
});

test('RETR or STOR answered 226 with no 150 and no data connection is an error, and the local file is kept', async () => {
  const srv = await fakeServer({
    RETR: (_a, ctx) => ctx.reply('226 all done, trust me'),
    STOR: (_a, ctx) => ctx.reply('226 stored, trust me'),
  });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-hostile-'));
  try {
    const local = path.join(dir, 'keep.txt');
    await fs.writeFile(local, 'precious contents');
    const c = await connect(srv.port);
    await assert.rejects(c.download('x', local), FtpError);
    assert.equal(await fs.readFile(local, 'utf8'), 'precious contents');
    await assert.rejects(c.upload(Readable.from([Buffer.from('data')]), 'up.bin'), FtpError);
    await assert.rejects(c.upload(local, 'up.bin'), FtpError);
    assert.equal((await c.send('NOOP')).code, 200, 'still in step');
    await c.close();
  } finally {
    await srv.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

/** A server whose listings are `lines`; records the DELE/RMD/LIST commands. */
function listingServer(lines) {
  return fakeServer({
    LIST: async (_a, ctx) => {
      ctx.reply('150 listing');
      const s = await ctx.data();
      s.end(lines(_a).join('\r\n') + '\r\n');
      await new Promise((r) => s.once('close', r));
      ctx.reply('226 done');
    },
    DELE: (_a, ctx) => ctx.reply('550 not a file'),
    RMD: (_a, ctx) => ctx.reply('250 removed'),
  });
}

test('removeDir({ recursive }) never acts on names from the listing that leave the folder', async () => {
  const srv = await listingServer((arg) => (arg === 'target' ? [
    '-rw-r--r--   1 u g   10 Jan 01 2020 ../../home/alice/.ssh/authorized_keys',
    'drwxr-xr-x   2 u g 4096 Jan 01 2020 ../other-project',
    '-rw-r--r--   1 u g   10 Jan 01 2020 /etc/passwd',
    '-rw-r--r--   1 u g   10 Jan 01 2020 ..',
    'drwxr-xr-x   2 u g 4096 Jan 01 2020 sub',
  ] : []));
  try {
    const c = await connect(srv.port);
    await c.removeDir('target', { recursive: true });
    const acted = srv.commands.filter((l) => /^(DELE|RMD|LIST) /.test(l));
    assert.ok(acted.every((l) => !l.includes('..') && !l.includes('/etc') && !l.includes('//')), acted.join('\n'));
    assert.deepEqual(acted.filter((l) => l.startsWith('RMD')), ['RMD target/sub', 'RMD target']);
    await c.close();
  } finally { await srv.close(); }
});

test('removeDir({ recursive }) stops at 64 levels when every folder holds another', async () => {
  const srv = await listingServer(() => ['drwxr-xr-x   2 u g 4096 Jan 01 2020 d']);
  try {
    const c = await connect(srv.port);
    await assert.rejects(c.removeDir('top', { recursive: true }), /64 levels/);
    assert.ok(srv.commands.filter((l) => l.startsWith('LIST')).length <= 65);
    await c.close();
  } finally { await srv.close(); }
});

test('a flood of replies nobody asked for ends the connection instead of filling memory', async () => {
  const srv = await fakeServer({
    NOOP: (_a, ctx) => { for (let i = 0; i < 2000; i++) ctx.reply('200 zzz'); },
  });
  try {
    const c = await connect(srv.port);
    await c.send('NOOP');
    await new Promise((r) => setTimeout(r, 300));
    await assert.rejects(c.send('PWD'), FtpConnectionError);
  } finally { await srv.close(); }
});

test('replies RFC 959 allows that servers seldom send: 120 before 220, a 150 before a final reply', async () => {
  const srv = await fakeServer({
    CWD: (_a, ctx) => { ctx.reply('150 working on it'); ctx.reply('250 changed'); },
  }, { greeting: '120 ready in a minute\r\n220 ready now' });
  try {
    const c = await connect(srv.port);
    await c.cd('somewhere');
    assert.equal((await c.send('NOOP')).code, 200, 'the 250 was read as the answer to CWD');
    assert.equal(await c.pwd(), '/');
    await c.close();
  } finally { await srv.close(); }
});

test('a reply code outside 1xx-5xx, or run into its text, is not taken for an answer', async () => {
  const srv = await fakeServer({
    DELE: (_a, ctx) => ctx.reply('2500 deleted, honest'),
    MKD: (_a, ctx) => ctx.reply('099 made it'),
  });
  try {
    for (const op of [(c) => c.remove('x'), (c) => c.mkdir('y')]) {
      const c = await connect(srv.port, { timeouts: { connect: 5000, reply: 500 } });
      await assert.rejects(op(c));
      c.close().catch(() => {});
    }
  } finally { await srv.close(); }
});
