// Attacks over the wire that the first passes missed: clients that vanish mid-reply, sockets that
// fail outside any session, and the state machine's odd corners.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryStorage } from '../../dist/index.js';
import { selfSignedCertificate } from '../../dist/server/certificates.js';
import { startServer, USER, PASSWORD } from '../helpers/server.js';
import { RawClient, collect } from '../helpers/raw-client.js';

/** Poll `check` every 20 ms for up to `ms`; true once it held. */
async function eventually(check, ms = 5000) {
  for (let waited = 0; waited < ms; waited += 20) {
    if (check()) return true;
    await sleep(20);
  }
  return check();
}

/** A raw control connection that logs in and then reads nothing: its replies pile up. */
async function nonReader(port) {
  const s = net.connect({ port, host: '127.0.0.1' });
  s.setTimeout(30_000, () => s.destroy());
  s.on('error', () => {});
  let got = '';
  const onData = (d) => { got += d.toString('latin1'); };
  s.on('data', onData);
  await new Promise((resolve, reject) => { s.once('connect', resolve); s.once('error', reject); });
  s.write(`USER ${USER}\r\nPASS ${PASSWORD}\r\n`);
  assert.ok(await eventually(() => /^230 /m.test(got)), `login: ${got}`);
  s.off('data', onData);
  s.pause();
  return s;
}

test('STAT of a huge folder to a client that stops reading and leaves: the listing is closed', async () => {
  // A folder with no end of entries; the test sees how far the listing got and whether it was closed.
  let produced = 0;
  let closed = false;
  class HugeFolder extends MemoryStorage {
    async stat(p) {
      if (p === '/huge') return { name: 'huge', type: 'dir', size: 0, modified: new Date(0), mode: 0o755 };
      return super.stat(p);
    }
    async *list(p) {
      if (p !== '/huge') { yield* super.list(p); return; }
      try {
        for (let i = 0; i < 10_000_000; i++) {
          produced++;
          yield { name: `entry-with-a-long-name-to-fill-the-socket-buffers-${i}`, type: 'file', size: i, modified: new Date(0), mode: 0o644 };
        }
      } finally { closed = true; }
    }
  }
  const storage = new HugeFolder();
  const srv = await startServer({ storage: () => storage });
  try {
    const s = await nonReader(srv.port);
    s.write('STAT huge\r\n');
    // The listing runs until the socket buffers are full, then waits for the client.
    let last = -1;
    for (let i = 0; i < 250 && produced !== last; i++) { last = produced; await sleep(40); }
    assert.ok(produced > 0 && !closed, `listing started and waits (${produced} entries)`);
    s.destroy();
    // Before: the listing waited for a 'drain' that never came, holding the open folder (a file
    // descriptor for each such client) and the session for ever.
    assert.ok(await eventually(() => closed), 'the listing is closed once the client has gone');
    const c = await RawClient.connect(srv.port);
    await c.login(USER, PASSWORD);
    assert.equal((await c.cmd('NOOP')).code, 200);
    c.close();
  } finally { await srv.stop(); }
});

test('an ABOR pipelined in the same packet as its RETR stops the transfer at once', async () => {
  const srv = await startServer();
  try {
    const fh = await fs.open(path.join(srv.root, 'big.bin'), 'w');
    await fh.truncate(256 * 1024 * 1024); // sparse
    await fh.close();
    await fs.writeFile(path.join(srv.root, 'small.txt'), 'x');
    const c = await RawClient.connect(srv.port);
    await c.login(USER, PASSWORD);
    await c.cmd('TYPE I');
    // A big file whose data connection is not read (it would stall until the stall timeout) and
    // a small one, whose 150 may be held back for a moment.
    for (const file of ['big.bin', 'small.txt']) {
      const d = await c.passive('EPSV');
      d.pause();
      d.on('error', () => {});
      // Before: the ABOR waited in the queue behind the RETR, that is until the transfer's end.
      c.writeRaw(`RETR ${file}\r\nABOR\r\n`);
      const codes = [];
      for (let i = 0; i < 3; i++) codes.push((await c.read(3000)).code);
      assert.deepEqual(codes, [150, 426, 226], file);
      assert.equal((await c.cmd('PWD')).code, 257);
      d.destroy();
    }
    c.close();
  } finally { await srv.stop(); }
});

test('a client that half-closes the control connection still gets every reply and its transfer', async () => {
  // A password check that takes a while, as a scrypt hash does: replies after it were lost.
  const slowCheck = { username: 'slow', verify: async (pw) => { await sleep(100); return pw === 'pw'; } };
  const srv = await startServer({ users: [{ username: USER, password: PASSWORD }, slowCheck] });
  try {
    const s = net.connect({ port: srv.port, host: '127.0.0.1' });
    s.setTimeout(10_000, () => s.destroy());
    let got = '';
    s.on('data', (d) => { got += d; });
    const closed = new Promise((resolve) => s.once('close', resolve));
    s.on('error', () => {});
    await new Promise((resolve) => s.once('connect', resolve));
    s.end('USER slow\r\nPASS pw\r\nPWD\r\nQUIT\r\n'); // FIN right behind the commands
    await closed;
    const codes = got.split('\r\n').filter(Boolean).map((l) => Number(l.slice(0, 3)));
    // Before: 220 and 331 only; the session closed when it read the FIN.
    assert.deepEqual(codes, [220, 331, 230, 257, 221]);

    // A FIN during a download: the transfer completes and is confirmed, then the session ends.
    const data = Buffer.alloc(3 * 1024 * 1024, 7);
    await fs.writeFile(path.join(srv.root, 'file.bin'), data);
    const c = await RawClient.connect(srv.port);
    await c.login(USER, PASSWORD);
    await c.cmd('TYPE I');
    const d = await c.passive('EPSV');
    d.pause();
    const body = collect(d);
    assert.equal((await c.cmd('RETR file.bin')).code, 150);
    c.socket.end();
    await sleep(100);
    d.resume();
    assert.equal((await body).length, data.length);
    assert.equal((await c.read()).code, 226);
    await assert.rejects(c.read(2000), /closed/);
  } finally { await srv.stop(); }
});

test('TLS 1.2 renegotiation is refused, on a connection the session wrapped itself', async () => {
  const srv = await startServer({ tls: await selfSignedCertificate(), implicitTlsPort: 0 });
  try {
    const s = tls.connect({ port: srv.implicitTlsPort, host: '127.0.0.1', rejectUnauthorized: false, maxVersion: 'TLSv1.2' });
    s.setTimeout(10_000, () => s.destroy());
    s.on('error', () => {});
    await new Promise((resolve, reject) => { s.once('secureConnect', resolve); s.once('error', reject); });
    // Each renegotiation is a full handshake for the server. Node limits them to 3 in 10 minutes
    // only on sockets a tls.Server accepted; before, these five all succeeded, and so would
    // any number more.
    let renegotiated = 0;
    for (let i = 0; i < 5 && !s.destroyed; i++) {
      const ok = await Promise.race([
        new Promise((resolve) => s.renegotiate({ rejectUnauthorized: false }, (err) => resolve(!err))),
        sleep(1000).then(() => false),
      ]);
      if (ok) renegotiated++;
    }
    s.destroy();
    assert.equal(renegotiated, 0);
    const c = await RawClient.connect(srv.implicitTlsPort, '127.0.0.1', { implicitTls: true });
    await c.login(USER, PASSWORD);
    assert.equal((await c.cmd('NOOP')).code, 200);
    c.close();
  } finally { await srv.stop(); }
});

test('two uploads of one name into the drop box at once: the later one does not replace the earlier', async () => {
  for (const atomicUploads of [true, false]) {
    const srv = await startServer({ anonymous: { uploadDir: '/incoming' }, atomicUploads });
    try {
      await fs.mkdir(path.join(srv.root, 'incoming'));
      const victim = await RawClient.connect(srv.port);
      await victim.login('anonymous', 'v@');
      const attacker = await RawClient.connect(srv.port);
      await attacker.login('anonymous', 'a@');
      for (const c of [victim, attacker]) await c.cmd('TYPE I');
      const dv = await victim.passive('EPSV');
      assert.equal((await victim.cmd('STOR incoming/report.pdf')).code, 150);
      // With atomic uploads the name stays free until the victim's upload completes; without,
      // the file exists from the victim's 150 on and the attacker is refused at once.
      const da = await attacker.passive('EPSV');
      const started = await attacker.cmd('STOR incoming/report.pdf');
      dv.end('the real report');
      assert.equal((await victim.read()).code, 226);
      if (started.code === 150) {
        da.end('forged');
        // Before: 226, and the forged bytes replaced the report, though the drop box allows no overwrite.
        assert.equal((await attacker.read()).code, 550);
      } else {
        da.destroy();
        assert.equal(started.code, 550);
      }
      assert.equal(await fs.readFile(path.join(srv.root, 'incoming', 'report.pdf'), 'utf8'), 'the real report', `atomic ${atomicUploads}`);
      assert.deepEqual(await fs.readdir(path.join(srv.root, 'incoming')), ['report.pdf'], 'no temporary file left');
      victim.close();
      attacker.close();
    } finally { await srv.stop(); }
  }
});
