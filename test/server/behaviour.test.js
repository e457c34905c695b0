// Behaviour users rely on: commands beside a running transfer, vanishing clients, events, limits, shutdown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { FtpServer, MemoryStorage } from '../../dist/index.js';
import { parsePasvReply } from '../../dist/protocol/address.js';
import { startServer, USER, PASSWORD } from '../helpers/server.js';
import { RawClient, collect, connectData } from '../helpers/raw-client.js';

async function bigFile(root, name, mib) {
  const fh = await fs.open(path.join(root, name), 'w');
  await fh.truncate(mib * 1024 * 1024); // sparse: large on the wire, cheap on disk
  await fh.close();
}

test('STAT, NOOP and ABOR are answered while a download is blocked on a slow reader', async () => {
  const srv = await startServer();
  try {
    await bigFile(srv.root, 'big.bin', 256);
    const c = await RawClient.connect(srv.port);
    await c.login(USER, PASSWORD);
    await c.cmd('TYPE I');
    const d = await c.passive();
    d.pause(); // do not read: the server must stall on backpressure, not buffer the file
    assert.equal((await c.cmd('RETR big.bin')).code, 150);
    // The kernel's buffers fill before the transfer stalls: STAT says how far it got.
    let sofar = 0;
    for (let i = 0; i < 50 && sofar === 0; i++) {
      const stat = await c.cmd('STAT');
      assert.equal(stat.code, 211);
      sofar = Number(/Transfer in progress: RETR \/big\.bin, (\d+) bytes so far/.exec(stat.text)?.[1]);
      if (sofar === 0) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(sofar > 0 && sofar < 256 * 1024 * 1024, `${sofar} bytes so far`);
    assert.equal((await c.cmd('NOOP')).code, 200);
    c.writeRaw('ABOR\r\n');
    assert.equal((await c.read()).code, 426);
    assert.equal((await c.read()).code, 226);
    d.destroy();
    assert.equal((await c.cmd('PWD')).code, 257, 'usable after ABOR');
    c.close();
  } finally {
    await srv.stop();
  }
});

test('STAT during an upload says how many bytes have come in', async () => {
  const srv = await startServer();
  try {
    const c = await RawClient.connect(srv.port);
    await c.login(USER, PASSWORD);
    await c.cmd('TYPE I');
    const d = await c.passive();
    assert.equal((await c.cmd('STOR growing.bin')).code, 150);
    d.write(Buffer.alloc(3 * 1024 * 1024, 7));
    let sofar = 0;
    for (let i = 0; i < 100 && sofar < 3 * 1024 * 1024; i++) {
      const stat = await c.cmd('STAT');
      sofar = Number(/Transfer in progress: STORE \/growing\.bin, (\d+) bytes so far/.exec(stat.text)?.[1]);
      if (sofar < 3 * 1024 * 1024) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(sofar, 3 * 1024 * 1024);
    d.end();
    assert.equal((await c.read()).code, 226);
    assert.equal((await fs.stat(path.join(srv.root, 'growing.bin'))).size, 3 * 1024 * 1024);
    c.close();
  } finally {
    await srv.stop();
  }
});

test('a client that vanishes mid-transfer harms neither the server nor other sessions', async () => {
  const srv = await startServer();
  try {
    await bigFile(srv.root, 'big.bin', 64);
    await fs.writeFile(path.join(srv.root, 'keep.txt'), 'intact');
    const other = await RawClient.connect(srv.port);
    await other.login(USER, PASSWORD);
    for (const kind of ['RETR big.bin', 'STOR partial.bin']) {
      const c = await RawClient.connect(srv.port);
      await c.login(USER, PASSWORD);
      await c.cmd('TYPE I');
      const d = await c.passive();
      assert.equal((await c.cmd(kind)).code, 150);
      if (kind.startsWith('STOR')) d.write(Buffer.alloc(100_000, 1));
      await new Promise((r) => setTimeout(r, 50));
      c.socket.destroy();
      d.destroy();
    }
    assert.equal((await other.cmd('NOOP')).code, 200);
    const d = await other.passive();
    const got = collect(d);
    assert.equal((await other.cmd('RETR keep.txt')).code, 150);
    assert.equal((await got).toString(), 'intact');
    assert.equal((await other.read()).code, 226);
    const fresh = await RawClient.connect(srv.port);
    await fresh.login(USER, PASSWORD);
    fresh.close();
    other.close();
  } finally {
    await srv.stop();
  }
});

test('embedding: typed events and an in-memory storage', async () => {
  const mem = new MemoryStorage();
  mem.writeFile('/hello.txt', 'hi from memory');
  const server = new FtpServer({ port: 0, users: [{ username: 'cam', password: 'pw' }], storage: () => mem, failedLoginDelayMs: 1 });
  const events = [];
  for (const e of ['login', 'loginFailed', 'upload', 'download', 'mkdir', 'delete', 'rename', 'connect', 'disconnect']) {
    server.on(e, (p) => events.push([e, p]));
  }
  const { port } = await server.listen();
  try {
    const bad = await RawClient.connect(port);
    await bad.cmd('USER cam');
    assert.equal((await bad.cmd('PASS nope')).code, 530);
    bad.close();
    const c = await RawClient.connect(port);
    await c.login('cam', 'pw');
    await c.cmd('TYPE I');
    let d = await c.passive();
    assert.equal((await c.cmd('STOR snap.jpg')).code, 150);
    d.end(Buffer.from('JPEGDATA'));
    assert.equal((await c.read()).code, 226);
    d = await c.passive();
    const got = collect(d);
    await c.cmd('RETR hello.txt');
    assert.equal((await got).toString(), 'hi from memory');
    assert.equal((await c.read()).code, 226);
    // In TYPE A the event counts what was sent: line ends as CRLF.
    mem.writeFile('/lines.txt', 'a\nb\n');
    await c.cmd('TYPE A');
    d = await c.passive();
    const text = collect(d);
    await c.cmd('RETR lines.txt');
    assert.equal((await text).toString(), 'a\r\nb\r\n');
    assert.equal((await c.read()).code, 226);
    await c.cmd('TYPE I');
    await c.cmd('MKD pics');
    await c.cmd('RNFR snap.jpg');
    await c.cmd('RNTO pics/snap.jpg');
    assert.equal(mem.readFile('/pics/snap.jpg').toString(), 'JPEGDATA');
    await c.cmd('QUIT');
    await new Promise((r) => setTimeout(r, 50));
    const names = events.map(([e]) => e);
    for (const e of ['connect', 'loginFailed', 'login', 'upload', 'download', 'mkdir', 'rename', 'disconnect']) assert.ok(names.includes(e), e);
    const upload = events.find(([e]) => e === 'upload')[1];
    assert.equal(upload.path, '/snap.jpg');
    assert.equal(upload.bytes, 8);
    assert.equal(upload.mode, 'store');
    assert.equal(upload.session.username, 'cam');
    assert.equal(events.find(([e]) => e === 'login')[1].username, 'cam');
    assert.deepEqual(events.filter(([e]) => e === 'download').map(([, p]) => [p.path, p.bytes]), [['/hello.txt', 14], ['/lines.txt', 6]]);
    assert.ok(!JSON.stringify(events.map(([, p]) => p)).includes('nope'), 'no password in any event');
  } finally {
    await server.close();
  }
});

test('passive range and public address are honoured', async () => {
  const srv = await startServer({ pasvRange: '41000-41019', pasvAddress: '203.0.113.7' });
  try {
    const c = await RawClient.connect(srv.port);
    await c.login(USER, PASSWORD);
    await fs.writeFile(path.join(srv.root, 'f.txt'), 'mine');
    const r = await c.cmd('PASV');
    const { host, port } = parsePasvReply(r.text);
    assert.equal(host, '203.0.113.7');
    assert.ok(port >= 41000 && port <= 41019, String(port));
    // The advertised address is the public one; the listener itself is on the local address.
    assert.equal((await retrVia(c, port, 'f.txt')).toString(), 'mine');
    c.close();
  } finally {
    await srv.stop();
  }
});

test('idle and login timeouts close with 421', async () => {
  const srv = await startServer({ timeouts: { idle: 300, login: 600 } });
  try {
    const c = await RawClient.connect(srv.port);
    const r = await c.read(5000);
    assert.equal(r.code, 421);
    const c2 = await RawClient.connect(srv.port);
    let r2;
    for (let i = 0; i < 20; i++) {
      await new Promise((res) => setTimeout(res, 150));
      r2 = await c2.cmd('NOOP');
      if (r2.code !== 200) break;
    }
    assert.equal(r2.code, 421, 'login timeout even when busy with NOOPs');
    assert.match(r2.text, /Login timeout/);
  } finally {
    await srv.stop();
  }
});

test('idle time counts from the last command or reply, and not while a transfer runs', async () => {
  const srv = await startServer({ timeouts: { idle: 400 } });
  try {
    const c = await RawClient.connect(srv.port);
    await c.login(USER, PASSWORD);
    // Commands closer together than the idle timeout keep the session, over three times as long.
    for (let i = 0; i < 8; i++) {
      await new Promise((r) => setTimeout(r, 150));
      assert.equal((await c.cmd('NOOP')).code, 200, `NOOP ${i}`);
    }
    await c.cmd('TYPE I');
    const d = await c.passive();
    assert.equal((await c.cmd('STOR slow.bin')).code, 150);
    // An upload whose client pauses for twice the idle timeout is not idleness.
    d.write('first half, ');
    await new Promise((r) => setTimeout(r, 900));
    d.end('second half');
    assert.equal((await c.read(5000)).code, 226);
    assert.equal(await fs.readFile(path.join(srv.root, 'slow.bin'), 'utf8'), 'first half, second half');
    // After it, the idle clock starts from the 226.
    const t0 = Date.now();
    const r = await c.read(5000);
    assert.equal(r.code, 421);
    assert.match(r.text, /Idle timeout/);
    assert.ok(Date.now() - t0 >= 300, `421 came ${Date.now() - t0} ms after 226`);
  } finally {
    await srv.stop();
  }
});

test('timeouts of 0 mean no timeout', async () => {
  const srv = await startServer({ timeouts: { idle: 0, login: 0 } });
  try {
    const c = await RawClient.connect(srv.port);
    await new Promise((r) => setTimeout(r, 1300)); // longer than the sweep's slowest tick
    assert.equal((await c.cmd('NOOP')).code, 200, 'not logged in, yet not timed out');
    await c.login(USER, PASSWORD);
    await new Promise((r) => setTimeout(r, 1300));
    assert.equal((await c.cmd('NOOP')).code, 200);
  } finally {
    await srv.stop();
  }
});

test('a wall clock stepped back or forward neither stalls sessions nor times them out', async (t) => {
  const realNow = Date.now;
  t.after(() => { Date.now = realNow; });
  const srv = await startServer({ timeouts: { idle: 5000, login: 700 } });
  try {
    const c = await RawClient.connect(srv.port);
    await c.login(USER, PASSWORD);
    for (let i = 0; i < 5; i++) assert.equal((await c.cmd('NOOP')).code, 200);
    Date.now = () => realNow() - 30_000; // an NTP step back
    let t0 = performance.now();
    for (let i = 0; i < 5; i++) assert.equal((await c.cmd('NOOP')).code, 200);
    assert.ok(performance.now() - t0 < 3000, `5 NOOPs took ${Math.round(performance.now() - t0)} ms after the step back`);
    Date.now = () => realNow() + 600_000; // and ten minutes forward
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await c.cmd('NOOP')).code, 200, 'not idle: the session stays');
    // The login timeout fires in real time whatever the wall clock says.
    Date.now = () => realNow() - 3_600_000;
    const fresh = await RawClient.connect(srv.port);
    t0 = performance.now();
    const r = await fresh.read(5000);
    assert.equal(r.code, 421);
    assert.match(r.text, /Login timeout/);
    assert.ok(performance.now() - t0 < 3000);
  } finally {
    Date.now = realNow;
    await srv.stop();
  }
});

test('REIN after a login starts the login timeout again; REIN before one does not extend it', async () => {
  const srv = await startServer({ timeouts: { login: 600 } });
  try {
    const c = await RawClient.connect(srv.port);
    await c.login(USER, PASSWORD);
    await new Promise((r) => setTimeout(r, 800)); // logged in: past the login timeout is fine
    assert.equal((await c.cmd('REIN')).code, 220);
    const r = await c.read(3000);
    assert.equal(r.code, 421, 'logged out and silent: closed after the login timeout');
    assert.match(r.text, /Login timeout/);
    const d = await RawClient.connect(srv.port);
    const t0 = performance.now();
    let last;
    for (let i = 0; i < 20; i++) {
      await new Promise((res) => setTimeout(res, 100));
      last = await d.cmd('REIN');
      if (last.code !== 220) break;
    }
    assert.equal(last.code, 421, 'REIN over and over does not hold an unauthenticated session open');
    assert.ok(performance.now() - t0 < 1800);
  } finally {
    await srv.stop();
  }
});

test('an authenticator that throws gets 421, not a failed login that counts towards a ban', async () => {
  let calls = 0;
  const srv = await startServer({
    authenticator: { authenticate: async () => { calls++; throw new Error('directory unreachable'); } },
    banAfterFailures: 1,
  });
  const failed = [];
  srv.server.on('loginFailed', (e) => failed.push(e));
  try {
    for (let i = 0; i < 2; i++) {
      const c = await RawClient.connect(srv.port);
      assert.equal((await c.cmd(`USER ${USER}`)).code, 331);
      const r = await c.cmd(`PASS ${PASSWORD}`);
      assert.equal(r.code, 421, r.text);
    }
    assert.equal(calls, 2, 'the second connection was not banned');
    assert.deepEqual(failed, []);
  } finally {
    await srv.stop();
  }
});

test('close() lets a running transfer finish, then says 421 to every session', async () => {
  const srv = await startServer();
  await bigFile(srv.root, 'mid.bin', 8);
  const c = await RawClient.connect(srv.port);
  await c.login(USER, PASSWORD);
  await c.cmd('TYPE I');
  const idle = await RawClient.connect(srv.port);
  const d = await c.passive();
  d.pause();
  assert.equal((await c.cmd('RETR mid.bin')).code, 150);
  const closing = srv.server.close();
  await new Promise((r) => setTimeout(r, 100));
  const got = collect(d);
  d.resume();
  assert.equal((await got).length, 8 * 1024 * 1024);
  assert.equal((await c.read()).code, 226);
  assert.equal((await c.read()).code, 421);
  assert.equal((await idle.read()).code, 421);
  await closing;
  await assert.rejects(RawClient.connect(srv.port));
  await fs.rm(srv.root, { recursive: true, force: true });
});

test('close() that cuts an upload leaves no temporary file (atomic) and no partial one (partialUploads delete)', async () => {
  for (const options of [{ atomicUploads: true }, { partialUploads: 'delete' }]) {
    const srv = await startServer({ ...options, shutdownGraceMs: 100 });
    const c = await RawClient.connect(srv.port);
    await c.login(USER, PASSWORD);
    await c.cmd('TYPE I');
    const d = await c.passive();
    d.on('error', () => {});
    assert.equal((await c.cmd('STOR cut.bin')).code, 150);
    // Bytes on disk, and the upload still open when the grace period ends.
    d.write(Buffer.alloc(300_000, 1));
    for (let i = 0; i < 100 && !(await fs.readdir(srv.root)).length; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await fs.readdir(srv.root)).length, 1, 'the upload has begun');
    await srv.server.close();
    assert.deepEqual(await fs.readdir(srv.root), [], `nothing left behind with ${JSON.stringify(options)}`);
    c.close();
    d.destroy();
    await fs.rm(srv.root, { recursive: true, force: true });
  }
});

test('a session limit that refuses connections is logged once, not once per refusal', async () => {
  const warnings = [];
  const logger = { debug() {}, info() {}, error() {}, warn: (obj, msg) => warnings.push({ ...obj, msg }) };
  const srv = await startServer({ maxSessions: 2, logger });
  const clients = [];
  try {
    for (let i = 0; i < 2; i++) { const c = await RawClient.connect(srv.port); await c.login(USER, PASSWORD); clients.push(c); }
    for (let i = 0; i < 5; i++) {
      const c = await RawClient.connect(srv.port);
      clients.push(c);
      assert.equal(c.greeting.code, 421);
    }
    assert.deepEqual(warnings.map((w) => [w.msg, w.limit, w.value, w.remote]), [['session limit reached: connections refused', 'max-sessions', 2, '127.0.0.1']]);
  } finally {
    for (const c of clients) c.close();
    await srv.stop();
  }
});

test('a listen() that fails leaves no port bound', async () => {
  const free = () => new Promise((resolve) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); }); });
  const busy = net.createServer();
  await new Promise((r) => busy.listen(0, '127.0.0.1', r));
  const { selfSignedCertificate } = await import('../../dist/server/certificates.js');
  const port = await free();
  const server = new FtpServer({ port, tls: await selfSignedCertificate(), implicitTlsPort: busy.address().port });
  await assert.rejects(server.listen(), { code: 'EADDRINUSE' });
  const again = net.createServer();
  await new Promise((resolve, reject) => { again.once('error', reject); again.listen(port, '127.0.0.1', resolve); });
  again.close();
  busy.close();
});

test('a privilege drop that fails (unknown user) stops the server: nothing is served as root', async (t) => {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) { t.skip('needs to run as root'); return; }
  const server = new FtpServer({ port: 0, runAs: { user: 'no-such-user-wharf' } });
  await assert.rejects(server.listen(), /unknown user/);
  assert.equal(server.address(), undefined, 'the control port is closed again');
});

test('two hundred simultaneous sessions are all served', async () => {
  const srv = await startServer({ maxSessionsPerAddress: 500 });
  try {
    const clients = await Promise.all(Array.from({ length: 200 }, () => RawClient.connect(srv.port)));
    const replies = await Promise.all(clients.map((c) => c.cmd('NOOP')));
    assert.ok(replies.every((r) => r.code === 200));
    for (const c of clients) c.close();
  } finally {
    await srv.stop();
  }
});

test('IPv6: EPSV and EPRT on ::1, PASV refused with a pointer to EPSV', async (t) => {
  const probe = net.createServer();
  const v6 = await new Promise((res) => { probe.once('error', () => res(false)); probe.listen(0, '::1', () => { probe.close(); res(true); }); });
  if (!v6) { t.skip('no IPv6 loopback on this machine'); return; }
  const srv = await startServer({ host: '::1' });
  try {
    await fs.writeFile(path.join(srv.root, 'six.txt'), 'over ipv6');
    const c = await RawClient.connect(srv.port, '::1');
    await c.login(USER, PASSWORD);
    assert.equal((await c.cmd('PASV')).code, 425);
    assert.equal((await c.cmd('EPSV 1')).code, 522);
    let d = await c.passive('EPSV');
    let got = collect(d);
    assert.equal((await c.cmd('RETR six.txt')).code, 150);
    assert.equal((await got).toString(), 'over ipv6');
    assert.equal((await c.read()).code, 226);
    // Active mode: the server connects back to a listener of ours on ::1.
    const listener = net.createServer();
    await new Promise((r) => listener.listen(0, '::1', r));
    const accepted = new Promise((r) => listener.once('connection', r));
    assert.equal((await c.cmd(`EPRT |2|::1|${listener.address().port}|`)).code, 200);
    assert.equal((await c.cmd('RETR six.txt')).code, 150);
    d = await accepted;
    got = collect(d);
    assert.equal((await got).toString(), 'over ipv6');
    assert.equal((await c.read()).code, 226);
    // RFC 2428 allows any text form of the address: the long one is the same host.
    const again = new Promise((r) => listener.once('connection', r));
    assert.equal((await c.cmd(`EPRT |2|0:0:0:0:0:0:0:1|${listener.address().port}|`)).code, 200);
    assert.equal((await c.cmd('RETR six.txt')).code, 150);
    assert.equal((await collect(await again)).toString(), 'over ipv6');
    assert.equal((await c.read()).code, 226);
    assert.equal((await c.cmd(`EPRT |2|0:0:0:0:0:0:0:2|${listener.address().port}|`)).code, 504, 'another host');
    listener.close();
    c.close();
  } finally {
    await srv.stop();
  }
});

test('a client that stops reading replies is paused, and served again once it reads', async () => {
  const srv = await startServer({ commandRate: 1e6 });
  try {
    const c = await RawClient.connect(srv.port);
    c.socket.pause();
    // ~1 KB of reply each, unread: the server's unsent replies pass its bound and it stops reading.
    c.writeRaw('HELP\r\n'.repeat(20000));
    await new Promise((r) => setTimeout(r, 1000));
    c.writeRaw('NOO'); // half a command arrives while the server is paused
    await new Promise((r) => setTimeout(r, 200));
    c.writeRaw('P\r\n');
    c.socket.resume();
    for (let i = 0; i < 20000; i++) assert.equal((await c.read()).code, 214);
    assert.equal((await c.read()).code, 200, 'reading resumes once the replies are taken');
    c.close();
  } finally {
    await srv.stop();
  }
});

/** RETR `name` over a new data connection to `port`: the bytes, once 150 and 226 are checked. */
async function retrVia(c, port, name) {
  const d = await connectData('127.0.0.1', port);
  const got = collect(d);
  assert.equal((await c.cmd(`RETR ${name}`)).code, 150);
  const body = await got;
  assert.equal((await c.read()).code, 226);
  return body;
}

/** EPSV's port, without connecting. */
async function epsvPort(c) {
  const r = await c.cmd('EPSV');
  assert.equal(r.code, 229);
  return Number(/\|\|\|(\d+)\|/.exec(r.text)[1]);
}

/** Resolves with what a connection to `port` was sent before it closed ('' if dropped), or the connect error code. */
function probe(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.setTimeout(5000, () => s.destroy());
    let got = '';
    s.on('data', (d) => { got += d; });
    s.once('error', (e) => resolve(e.code));
    s.once('close', () => resolve(got));
  });
}

test('a session keeps its passive port across transfers, and it answers only when armed', async () => {
  const srv = await startServer({ timeouts: { dataConnect: 400 } });
  try {
    await fs.writeFile(path.join(srv.root, 'a.txt'), 'first file');
    await fs.writeFile(path.join(srv.root, 'b.txt'), 'second file');
    const c = await RawClient.connect(srv.port);
    await c.login(USER, PASSWORD);
    await c.cmd('TYPE I');
    const port = await epsvPort(c);
    assert.equal((await retrVia(c, port, 'a.txt')).toString(), 'first file');

    // Between transfers the port is not armed: a connection is dropped with nothing sent.
    assert.equal(await probe(port), '');
    assert.equal(await epsvPort(c), port, 'the same port is armed again');
    assert.equal((await retrVia(c, port, 'b.txt')).toString(), 'second file');

    // An EPSV whose connection never came: the next one gets a fresh port, so a late
    // connection for the first cannot be taken for the second transfer.
    const unclaimed = await epsvPort(c);
    const fresh = await epsvPort(c);
    assert.notEqual(fresh, unclaimed);
    assert.equal((await retrVia(c, fresh, 'a.txt')).toString(), 'first file');

    // Unused for the data-connection timeout, the port is given back.
    await new Promise((r) => setTimeout(r, 900));
    assert.equal(await probe(fresh), 'ECONNREFUSED');
    assert.equal((await c.cmd('NOOP')).code, 200, 'the session itself carries on');
    c.close();
  } finally {
    await srv.stop();
  }
});

test('small files: 150 comes before the data even for a client that connects only after it', async () => {
  const srv = await startServer();
  try {
    const body = Buffer.alloc(5000, 7);
    await fs.writeFile(path.join(srv.root, 'small.bin'), body);
    const c = await RawClient.connect(srv.port);
    await c.login(USER, PASSWORD);
    await c.cmd('TYPE I');
    const port = await epsvPort(c);
    const opening = await c.cmd('RETR small.bin'); // no data connection yet
    assert.equal(opening.code, 150);
    assert.match(opening.text, /5000 bytes/);
    const d = await connectData('127.0.0.1', port);
    assert.deepEqual(await collect(d), body);
    assert.equal((await c.read()).code, 226);
    // And the usual order: connected first, then 150, the bytes, 226.
    const d2 = await c.passive('EPSV');
    const got = collect(d2);
    const r = await c.cmd('REST 1000');
    assert.equal(r.code, 350);
    assert.equal((await c.cmd('RETR small.bin')).code, 150);
    assert.deepEqual(await got, body.subarray(1000));
    assert.equal((await c.read()).code, 226);
    c.close();
  } finally {
    await srv.stop();
  }
});

test('small files: 226 comes after the client has closed the data connection, not in the read that brings 150 (aria2)', async () => {
  const srv = await startServer();
  try {
    const body = Buffer.alloc(3000, 9);
    await fs.writeFile(path.join(srv.root, 'small.bin'), body);
    const c = await RawClient.connect(srv.port);
    await c.login(USER, PASSWORD);
    await c.cmd('TYPE I');
    for (const closes of [true, false]) {
      const port = await epsvPort(c);
      // Half-open, as a C client's socket: the server's end of data does not close ours.
      const d = await new Promise((resolve, reject) => {
        const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => resolve(s));
        s.once('error', reject);
      });
      d.setTimeout(10_000, () => d.destroy());
      const got = collect(d);
      assert.equal((await c.cmd('RETR small.bin')).code, 150);
      // aria2 reads replies into a buffer and then waits for the socket to be readable: a 226
      // that came with the 150 stayed in its buffer until its timeout (60 s per file).
      assert.equal(c.replies.length, 0, '226 did not come with 150');
      assert.deepEqual(await got, body);
      if (closes) d.end();
      // A client that keeps its end open until the reply still gets it, a moment later.
      assert.equal((await c.read(5000)).code, 226);
      d.destroy();
    }
    c.close();
  } finally {
    await srv.stop();
  }
});

test('a login whose home folder is missing is refused, and accepted once the folder exists', async () => {
  const home = path.join(await fs.mkdtemp(path.join((await import('node:os')).tmpdir(), 'wharf-home-')), 'bob');
  const srv = await startServer({ users: [{ username: 'bob', password: 'pw', root: home }] });
  try {
    const c = await RawClient.connect(srv.port);
    assert.equal((await c.cmd('USER bob')).code, 331);
    assert.equal((await c.cmd('PASS pw')).code, 530, 'no home folder: no login');
    await fs.mkdir(home);
    await fs.writeFile(path.join(home, 'x.txt'), 'x');
    assert.equal((await c.cmd('USER bob')).code, 331);
    assert.equal((await c.cmd('PASS pw')).code, 230);
    assert.equal((await c.cmd('SIZE x.txt')).text, '1');
    c.close();
  } finally {
    await srv.stop();
    await fs.rm(path.dirname(home), { recursive: true, force: true });
  }
});

test('a one-port passive range serves sessions in turn: a port kept between transfers is handed on', async () => {
  const probeServer = net.createServer();
  await new Promise((r) => probeServer.listen(0, '127.0.0.1', r));
  const only = probeServer.address().port;
  await new Promise((r) => probeServer.close(r));
  const warnings = [];
  const logger = { debug() {}, info() {}, error() {}, warn: (obj, msg) => warnings.push({ ...obj, msg }) };
  const srv = await startServer({ pasvRange: `${only}-${only}`, logger });
  try {
    await fs.writeFile(path.join(srv.root, 'a.txt'), 'shared port');
    const [a, b] = [await RawClient.connect(srv.port), await RawClient.connect(srv.port)];
    for (const c of [a, b]) { await c.login(USER, PASSWORD); await c.cmd('TYPE I'); }
    const fetch = async (c) => {
      const port = await epsvPort(c);
      assert.equal(port, only);
      assert.equal((await retrVia(c, port, 'a.txt')).toString(), 'shared port');
    };
    // Each session's listener lingers after its transfer; the other takes the port over.
    await fetch(a);
    await fetch(b);
    await fetch(a);
    // An armed port (waiting for its client) is never taken: the other session is told so.
    await epsvPort(a);
    const r = await b.cmd('EPSV');
    assert.equal(r.code, 425);
    // The operator learns the range is too small from the log, not from partners' complaints.
    assert.deepEqual(warnings.map((w) => [w.msg, w.range]), [['passive port range full: clients get 425; widen --pasv-range', `${only}-${only}`]]);
    assert.equal((await retrVia(a, only, 'a.txt')).toString(), 'shared port');
    a.close();
    b.close();
  } finally {
    await srv.stop();
  }
});

test('narrow accounts: download-only may SIZE and MDTM what it downloads; upload-only may time its own uploads', async () => {
  const none = { list: false, download: false, upload: false, overwrite: false, append: false, delete: false, rename: false, mkdir: false, rmdir: false, chmod: false };
  const srv = await startServer({ users: [
    { username: 'fetcher', password: 'pw', permissions: { ...none, download: true } },
    { username: 'dropper', password: 'pw', permissions: { ...none, list: true, upload: true } },
  ] });
  try {
    await fs.writeFile(path.join(srv.root, 'file.bin'), 'hello world');
    await fs.writeFile(path.join(srv.root, 'theirs.txt'), 'not yours');
    const f = await RawClient.connect(srv.port);
    await f.login('fetcher', 'pw');
    // What curl sends before every download.
    await f.cmd('TYPE I');
    assert.equal((await f.cmd('SIZE file.bin')).text, '11');
    assert.equal((await f.cmd('MDTM file.bin')).code, 213);
    let d = await f.passive();
    const got = collect(d);
    assert.equal((await f.cmd('RETR file.bin')).code, 150);
    assert.equal((await got).toString(), 'hello world');
    assert.equal((await f.read()).code, 226);
    f.close();

    const u = await RawClient.connect(srv.port);
    await u.login('dropper', 'pw');
    await u.cmd('TYPE I');
    d = await u.passive();
    assert.equal((await u.cmd('STOR mine.txt')).code, 150);
    d.end('mine');
    assert.equal((await u.read()).code, 226);
    assert.equal((await u.cmd('MFMT 20200101000000 mine.txt')).code, 213);
    assert.equal((await fs.stat(path.join(srv.root, 'mine.txt'))).mtime.toISOString(), '2020-01-01T00:00:00.000Z');
    assert.equal((await u.cmd('MFMT 20200101000000 theirs.txt')).code, 550, 'not a file it uploaded');
    u.close();
  } finally {
    await srv.stop();
  }
});
