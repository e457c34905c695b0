// FtpClient behaviour that real servers rarely show on demand: a scripted server for NAT-broken
// PASV replies, missing EPSV, silence and slow greetings; wharf for IPv6, overlapping calls, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { FtpClient, FtpError, FtpTimeoutError, AbortError } from '../../dist/index.js';
import { fakeServer } from '../helpers/fake-server.js';
import { startServer, USER, PASSWORD } from '../helpers/server.js';

test('PASV fallback when EPSV is refused; a private or foreign address in 227 is replaced by the server we reached', async () => {
  const payload = crypto.randomBytes(50_000);
  const srv = await fakeServer({
    FEAT: () => '211-Features:\r\n SIZE\r\n211 End',
    EPSV: () => '500 EPSV not understood',
    PASV: async (_a, ctx) => {
      const port = await ctx.passive();
      // The payload goes to the first data connection, as soon as it is made.
      ctx.data().then((s) => s?.end(ctx.file));
      // A server behind NAT that tells the world its LAN address, then one naming a public host
      // that is not itself (followed, that would let a server aim the client anywhere).
      ctx.state.pasv = (ctx.state.pasv ?? 0) + 1;
      const host = ctx.state.pasv === 1 ? '192,168,77,5' : '8,8,4,4';
      return `227 Entering Passive Mode (${host},${port >> 8},${port & 255}).`;
    },
    // Both replies at once: the final one arrives before the data is read.
    RETR: () => '150 here it comes\r\n226 done',
  }, { file: payload });
  try {
    const c = await FtpClient.connect({ host: '127.0.0.1', port: srv.port, user: 'u', password: 'p', timeouts: { reply: 5000, connect: 5000 } });
    for (let i = 0; i < 2; i++) {
      const chunks = [];
      await c.download('f.bin', new Writable({ write(ch, _e, cb) { chunks.push(ch); cb(); } }));
      assert.ok(payload.equals(Buffer.concat(chunks)));
    }
    await c.close();
    // EPSV is tried once; after a 500 the client sticks to PASV.
    assert.equal(srv.commands.filter((x) => x === 'EPSV').length, 1);
    assert.equal(srv.commands.filter((x) => x === 'PASV').length, 2);
  } finally {
    await srv.close();
  }
});

test('a silent server: connect and reply timeouts raise FtpTimeoutError, quickly', async () => {
  const mute = await fakeServer({}, { greeting: null });
  try {
    await assert.rejects(FtpClient.connect({ host: '127.0.0.1', port: mute.port, timeouts: { connect: 300, reply: 300 } }), FtpTimeoutError);
  } finally {
    await mute.close();
  }
  const stalls = await fakeServer({ FEAT: () => '211 none', PWD: () => undefined });
  try {
    const c = await FtpClient.connect({ host: '127.0.0.1', port: stalls.port, user: 'u', password: 'p', timeouts: { reply: 300 } });
    await assert.rejects(c.pwd(), FtpTimeoutError);
    await assert.rejects(c.pwd(), /closed|timed out/, 'the connection is given up, not left out of step');
    await c.close();
  } finally {
    await stalls.close();
  }
});

test('over IPv6 (::1): passive (EPSV) and active (EPRT) transfers byte for byte', async (t) => {
  const probe = net.createServer();
  const ok = await new Promise((r) => { probe.once('error', () => r(false)); probe.listen(0, '::1', () => { probe.close(); r(true); }); });
  if (!ok) { t.skip('no IPv6 loopback here'); return; }
  const srv = await startServer({ host: '::1' });
  try {
    const data = crypto.randomBytes(400_000);
    for (const passive of [true, false]) {
      const c = await FtpClient.connect({ host: '::1', port: srv.port, user: USER, password: PASSWORD, passive });
      await c.upload(Readable.from([data]), `v6-${passive}.bin`);
      assert.ok(data.equals(await fs.readFile(path.join(srv.root, `v6-${passive}.bin`))));
      const chunks = [];
      await c.download(`v6-${passive}.bin`, new Writable({ write(ch, _e, cb) { chunks.push(ch); cb(); } }));
      assert.ok(data.equals(Buffer.concat(chunks)));
      await c.close();
    }
  } finally {
    await srv.stop();
  }
});

test('overlapping calls on one client are serialised and each gets its own answer', async () => {
  const srv = await startServer();
  try {
    const files = Array.from({ length: 12 }, (_, i) => [`f${i}.bin`, crypto.randomBytes(1000 + i * 3000)]);
    for (const [name, data] of files) await fs.writeFile(path.join(srv.root, name), data);
    const c = await FtpClient.connect({ host: '127.0.0.1', port: srv.port, user: USER, password: PASSWORD });
    const results = await Promise.all(files.flatMap(([name, data]) => [
      c.size(name).then((n) => assert.equal(n, data.length)),
      (async () => {
        const chunks = [];
        await c.download(name, new Writable({ write(ch, _e, cb) { chunks.push(ch); cb(); } }));
        assert.ok(data.equals(Buffer.concat(chunks)), name);
      })(),
      c.list().then((l) => assert.equal(l.filter((e) => e.name.startsWith('f')).length, files.length)),
      c.pwd().then((p) => assert.equal(p, '/')),
    ]));
    assert.equal(results.length, files.length * 4);
    await c.close();
  } finally {
    await srv.stop();
  }
});

test('errors carry the reply code; the connection stays usable; progress reaches the total; abort leaves it usable', async () => {
  const srv = await startServer();
  try {
    const c = await FtpClient.connect({ host: '127.0.0.1', port: srv.port, user: USER, password: PASSWORD });
    const err = await c.download('missing.bin', new Writable({ write(_c, _e, cb) { cb(); } })).catch((e) => e);
    assert.ok(err instanceof FtpError);
    assert.equal(err.code, 550);
    assert.equal(err.transient, false);
    assert.match(err.command, /^RETR missing\.bin$/);
    assert.equal(await c.pwd(), '/');

    const data = crypto.randomBytes(2 * 1024 * 1024);
    await fs.writeFile(path.join(srv.root, 'p.bin'), data);
    const seen = [];
    await c.download('p.bin', new Writable({ write(_c, _e, cb) { cb(); } }), { onProgress: (p) => seen.push(p.bytes) });
    assert.equal(seen.at(-1), data.length);
    assert.deepEqual([...seen].sort((a, b) => a - b), seen, 'monotonic');

    const big = Buffer.alloc(64 * 1024 * 1024, 7);
    await fs.writeFile(path.join(srv.root, 'slow.bin'), big);
    const controller = new AbortController();
    let got = 0;
    const slow = new Writable({
      highWaterMark: 1024,
      write(ch, _e, cb) { got += ch.length; if (got > 1024 * 1024) controller.abort(); setTimeout(cb, 1); },
    });
    await assert.rejects(c.download('slow.bin', slow, { signal: controller.signal }), AbortError);
    assert.equal(await c.size('p.bin'), data.length, 'usable after ABOR');
    await c.close();
  } finally {
    await srv.stop();
  }
});

test('a restart offset in ASCII mode is refused before anything is sent', async () => {
  const srv = await startServer();
  const lines = [];
  try {
    const c = await FtpClient.connect({ host: '127.0.0.1', port: srv.port, user: USER, password: PASSWORD, log: (l) => lines.push(l) });
    await fs.writeFile(path.join(srv.root, 't.txt'), 'a\nb\n');
    const local = path.join(srv.root, 'local.txt');
    await fs.writeFile(local, 'a\n');
    const sent = lines.length;
    await assert.rejects(c.download('t.txt', local, { ascii: true, offset: 2 }), TypeError);
    await assert.rejects(c.upload(local, 't.txt', { ascii: true, offset: 2 }), TypeError);
    assert.equal(lines.length, sent, 'no command went out');
    assert.equal(await fs.readFile(local, 'utf8'), 'a\n');
    // Binary resumes and whole ASCII transfers are unaffected.
    assert.equal(await c.download('t.txt', local, { offset: 2 }), 2);
    assert.equal(await fs.readFile(local, 'utf8'), 'a\nb\n');
    await c.close();
  } finally { await srv.stop(); }
});

test('resuming an upload from a pipe skips what the server has: a pipe has no positions', async () => {
  const srv = await startServer();
  const { execFileSync } = await import('node:child_process');
  const fifo = path.join(srv.root, 'pipe');
  execFileSync('mkfifo', [fifo]);
  try {
    const c = await FtpClient.connect({ host: '127.0.0.1', port: srv.port, user: USER, password: PASSWORD, timeouts: { reply: 10_000, dataIdle: 10_000 } });
    const whole = crypto.randomBytes(3 * 1024 * 1024 + 11);
    const offset = 1024 * 1024 + 5;
    await fs.writeFile(path.join(srv.root, 'r.bin'), whole.subarray(0, offset));
    // The writer opens the FIFO when the upload does, and feeds it the whole source.
    const writing = fs.writeFile(fifo, whole);
    assert.equal(await c.upload(fifo, 'r.bin', { offset }), whole.length - offset);
    await writing;
    const onServer = await fs.readFile(path.join(srv.root, 'r.bin'));
    assert.equal(onServer.length, whole.length);
    assert.ok(onServer.equals(whole), 'the resumed file is the source byte for byte');
    // A pipe that ends before the offset is an error, not an upload of nothing.
    const short = fs.writeFile(fifo, whole.subarray(0, 1000));
    await assert.rejects(c.upload(fifo, 'r.bin', { offset }), /ended .* before the resume offset/);
    await short;
    await c.close();
  } finally { await srv.stop(); }
});
