// The attack suite: one test per class of attack seen against FTP servers. Each asserts the server
// refused, stayed up, kept serving other sessions, and that nothing outside the root was touched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { FtpServer } from '../../dist/index.js';
import { RateLimit } from '../../dist/server/policy/rate-limit.js';
import { TimeoutSweep, sweepTick } from '../../dist/server/policy/timeout-sweep.js';
import { StaticAuthenticator } from '../../dist/index.js';
import { LoginBan } from '../../dist/server/policy/login-ban.js';
import { RawClient, collect } from '../helpers/raw-client.js';

const USER = 'mallory', PASSWORD = 'pw';
let top, root, outside, server, port, witness;

async function snapshot(dir) {
  const out = {};
  for (const e of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    const p = path.join(e.parentPath ?? e.path, e.name);
    const st = await fs.lstat(p);
    out[path.relative(dir, p)] = `${st.size}:${st.mode}:${st.mtimeMs}`;
  }
  return out;
}

before(async () => {
  top = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-attack-'));
  root = path.join(top, 'root');
  outside = path.join(top, 'outside');
  await fs.mkdir(path.join(root, 'pub'), { recursive: true });
  await fs.mkdir(path.join(root, 'incoming'));
  await fs.mkdir(outside);
  await fs.writeFile(path.join(outside, 'secret.txt'), 'TOP SECRET');
  await fs.writeFile(path.join(root, 'pub', 'file.txt'), 'public');
  await fs.symlink(outside, path.join(root, 'link-out'));
  await fs.symlink(path.join(outside, 'secret.txt'), path.join(root, 'secret-link'));
  server = new FtpServer({
    port: 0, root, users: [{ username: USER, password: PASSWORD }],
    anonymous: { uploadDir: '/incoming' },
    failedLoginDelayMs: 5, banAfterFailures: 4, banWindowMs: 60_000, banDurationMs: 60_000,
    maxSessionsPerAddress: 40, timeouts: { login: 1500 }, errorRate: 1000,
  });
  ({ port } = await server.listen());
  // A session opened before the attacks: it must keep working through all of them.
  witness = await RawClient.connect(port);
  await witness.login(USER, PASSWORD);
});

after(async () => {
  witness.close();
  await server.close();
  await fs.rm(top, { recursive: true, force: true });
});

async function assertStillServing() {
  assert.equal((await witness.cmd('NOOP')).code, 200, 'the witness session still works');
  const d = await witness.passive();
  const got = collect(d);
  assert.equal((await witness.cmd('RETR /pub/file.txt')).code, 150);
  assert.equal((await got).toString(), 'public');
  assert.equal((await witness.read()).code, 226);
}

async function assertOutsideUntouched() {
  assert.deepEqual(Object.keys(await snapshot(outside)), ['secret.txt']);
  assert.equal(await fs.readFile(path.join(outside, 'secret.txt'), 'utf8'), 'TOP SECRET');
}

const TRAVERSALS = ['../outside/secret.txt', '../../outside/secret.txt', '/../outside/secret.txt', '..\\outside\\secret.txt',
  'pub/../../outside/secret.txt', 'link-out/secret.txt', 'secret-link', `${top}/outside/secret.txt`, '....//outside/secret.txt'];

test('path traversal in every command that takes a path', async () => {
  const before = await snapshot(outside);
  const c = await RawClient.connect(port);
  await c.login(USER, PASSWORD);
  await c.cmd('TYPE I');
  for (const t of TRAVERSALS) {
    for (const verb of ['SIZE', 'MDTM', 'CWD', 'MLST', 'STAT', 'DELE', 'RMD', 'RNFR', 'SITE CHMOD 777', 'MFMT 20000101000000']) {
      const r = await c.cmd(`${verb} ${t}`);
      assert.notEqual(r.code, 500, `${verb} ${t} was parsed`);
      assert.ok(!r.text.includes('TOP SECRET') && !r.text.includes(outside) && !r.text.includes(root), `${verb} ${t} leaks nothing: ${r.text}`);
      if (verb === 'CWD' && r.code === 250) await c.cmd('CWD /');
    }
    for (const verb of ['RETR', 'LIST', 'NLST', 'MLSD']) {
      const d = await c.passive();
      const got = collect(d).catch(() => Buffer.alloc(0));
      const r = await c.cmd(`${verb} ${t}`);
      if (r.code === 150) assert.ok([226, 426, 451].includes((await c.read()).code));
      else d.destroy();
      const body = (await got).toString();
      assert.ok(!body.includes('TOP SECRET') && !body.includes(outside), `${verb} ${t} leaks nothing`);
    }
    for (const verb of ['STOR', 'APPE']) {
      const d = await c.passive();
      const r = await c.cmd(`${verb} ${t}`);
      if (r.code === 150) { d.end('PWNED'); await c.read(); } else d.destroy();
    }
    assert.ok([550, 553].includes((await c.cmd(`MKD ${t.replace(/secret\.txt$/, 'newdir')}`)).code) ||
      !(await fs.stat(path.join(outside, 'newdir')).catch(() => false)));
  }
  // RNFR of a real file inside, RNTO a path outside: the file must stay inside.
  await fs.writeFile(path.join(root, 'movable.txt'), 'stay');
  assert.equal((await c.cmd('RNFR movable.txt')).code, 350);
  assert.equal((await c.cmd('RNTO ../outside/moved.txt')).code, 550, '"/outside" does not exist inside the root');
  assert.equal(await fs.readFile(path.join(root, 'movable.txt'), 'utf8'), 'stay');
  c.close();
  assert.deepEqual(await snapshot(outside), before);
  await assertOutsideUntouched();
  await assertStillServing();
});

test('symbolic links that lead out of the root: no read, write, list, enter or chmod through them', async () => {
  // The traversal test may have deleted the links (DELE removes a link, never its target): renew them.
  for (const [name, target] of [['link-out', outside], ['secret-link', path.join(outside, 'secret.txt')]]) {
    await fs.rm(path.join(root, name), { force: true });
    await fs.symlink(target, path.join(root, name));
  }
  const c = await RawClient.connect(port);
  await c.login(USER, PASSWORD);
  assert.equal((await c.cmd('CWD link-out')).code, 550);
  assert.equal((await c.cmd('SIZE secret-link')).code, 550);
  assert.equal((await c.cmd('SITE CHMOD 777 secret-link')).code, 550);
  let d = await c.passive();
  assert.equal((await c.cmd('RETR secret-link')).code, 550);
  d.destroy();
  d = await c.passive();
  assert.equal((await c.cmd('STOR link-out/dropped.txt')).code, 550);
  d.destroy();
  d = await c.passive();
  const listing = collect(d);
  assert.equal((await c.cmd('LIST')).code, 150);
  assert.ok(!(await listing).toString().includes(outside), 'link targets outside are never shown');
  assert.equal((await c.read()).code, 226);
  c.close();
  await assertOutsideUntouched();
});

test('bounce attacks: PORT/EPRT to another host or a privileged port are refused', async () => {
  const victim = net.createServer((s) => { victimHits++; s.destroy(); });
  let victimHits = 0;
  await new Promise((r) => victim.listen(0, '127.0.0.2', r));
  const vport = victim.address().port;
  try {
    const c = await RawClient.connect(port);
    await c.login(USER, PASSWORD);
    const p1 = Math.floor(vport / 256), p2 = vport % 256;
    assert.equal((await c.cmd(`PORT 127,0,0,2,${p1},${p2}`)).code, 504);
    assert.equal((await c.cmd(`EPRT |1|127.0.0.2|${vport}|`)).code, 504);
    assert.equal((await c.cmd('PORT 127,0,0,1,0,25')).code, 504);
    assert.equal((await c.cmd('EPRT |1|127.0.0.1|22|')).code, 504);
    assert.equal((await c.cmd('RETR pub/file.txt')).code, 425, 'no data address was accepted');
    c.close();
    assert.equal(victimHits, 0);
  } finally {
    victim.close();
  }
});

test('passive port theft from another address gets nothing', async () => {
  const c = await RawClient.connect(port);
  await c.login(USER, PASSWORD);
  const r = await c.cmd('EPSV');
  const dport = Number(/\|\|\|(\d+)\|/.exec(r.text)[1]);
  const thief = net.connect({ host: '127.0.0.1', port: dport, localAddress: '127.0.0.2' });
  const stolen = collect(thief).catch(() => Buffer.alloc(0));
  await new Promise((res) => { thief.once('close', res); setTimeout(res, 1000); });
  const d = await new Promise((res, rej) => { const s = net.connect({ host: '127.0.0.1', port: dport }, () => res(s)); s.on('error', rej); });
  const got = collect(d);
  assert.equal((await c.cmd('RETR pub/file.txt')).code, 150);
  assert.equal((await got).toString(), 'public');
  assert.equal((await c.read()).code, 226);
  assert.equal((await stolen).length, 0);
  c.close();
});

test('anonymous users cannot write, and the drop box is write-only with no overwrite', async () => {
  const before = await snapshot(root);
  const c = await RawClient.connect(port);
  assert.equal((await c.cmd('USER anonymous')).code, 331);
  assert.equal((await c.cmd('PASS a@b')).code, 230);
  for (const line of ['MKD x', 'RMD pub', 'DELE pub/file.txt', 'RNFR pub/file.txt', 'SITE CHMOD 777 pub/file.txt', 'MFMT 20000101000000 pub/file.txt']) {
    assert.equal((await c.cmd(line)).code, 550, line);
  }
  for (const verb of ['STOR pub/new.txt', 'APPE pub/file.txt', 'STOU pub/x', 'STOR pub/file.txt']) {
    const d = await c.passive();
    assert.equal((await c.cmd(verb)).code, 550, verb);
    d.destroy();
  }
  assert.deepEqual(await snapshot(root), before, 'nothing changed on disk');
  // The drop box: upload a new file, but no listing, no download, no overwrite.
  let d = await c.passive();
  assert.equal((await c.cmd('STOR incoming/report.pdf')).code, 150);
  d.end('%PDF-upload');
  assert.equal((await c.read()).code, 226);
  assert.equal(await fs.readFile(path.join(root, 'incoming/report.pdf'), 'utf8'), '%PDF-upload');
  d = await c.passive();
  assert.equal((await c.cmd('STOR incoming/report.pdf')).code, 550, 'no overwrite');
  d.destroy();
  d = await c.passive();
  assert.equal((await c.cmd('LIST incoming')).code, 550, 'no listing of the drop box');
  d.destroy();
  d = await c.passive();
  assert.equal((await c.cmd('RETR incoming/report.pdf')).code, 550, 'no download from the drop box');
  d.destroy();
  assert.equal((await c.cmd('DELE incoming/report.pdf')).code, 550);
  // Another visitor learns nothing of it by name: no size, no time, and cannot change its time.
  const stamp = (await fs.stat(path.join(root, 'incoming/report.pdf'))).mtimeMs;
  const other = await RawClient.connect(port);
  await other.login('anonymous', 'x@y');
  for (const type of ['I', 'A']) {
    await other.cmd(`TYPE ${type}`);
    assert.equal((await other.cmd('SIZE incoming/report.pdf')).code, 550, `SIZE in TYPE ${type}`);
  }
  assert.equal((await other.cmd('MDTM incoming/report.pdf')).code, 550);
  assert.equal((await other.cmd('MLST incoming/report.pdf')).code, 550);
  assert.equal((await other.cmd('MFMT 20000101000000 incoming/report.pdf')).code, 550);
  assert.equal((await fs.stat(path.join(root, 'incoming/report.pdf'))).mtimeMs, stamp);
  // Outside the drop box, sizes and times are public as before.
  assert.equal((await other.cmd('TYPE I')).code, 200);
  assert.equal((await other.cmd('SIZE pub/file.txt')).code, 213);
  assert.equal((await other.cmd('MDTM pub/file.txt')).code, 213);
  other.close();
  // The uploader itself may set the time of what it just uploaded (clients do after each upload).
  assert.equal((await c.cmd('MFMT 20000101000000 incoming/report.pdf')).code, 213);
  assert.equal((await fs.stat(path.join(root, 'incoming/report.pdf'))).mtime.toISOString(), '2000-01-01T00:00:00.000Z');
  c.close();
  await fs.rm(path.join(root, 'incoming/report.pdf'));
});

test('no SITE command copies or executes anything', async () => {
  const c = await RawClient.connect(port);
  await c.login(USER, PASSWORD);
  for (const line of ['SITE CPFR pub/file.txt', 'SITE CPTO pub/copy.txt', 'SITE EXEC /bin/sh -c id', 'SITE SYMLINK / pub/rootlink', 'SITE UTIME pub/file.txt']) {
    assert.equal((await c.cmd(line)).code, 500, line);
  }
  await assert.rejects(fs.stat(path.join(root, 'pub/copy.txt')));
  await assert.rejects(fs.lstat(path.join(root, 'pub/rootlink')));
  c.close();
});

test('100 KB command lines, binary garbage and IAC floods: refused, server unharmed', async () => {
  const c = await RawClient.connect(port);
  c.writeRaw('USER ' + 'A'.repeat(100 * 1024) + '\r\n');
  assert.equal((await c.read()).code, 500);
  assert.equal((await c.cmd('NOOP')).code, 200);
  c.close();
  const g = net.connect({ port, host: '127.0.0.1' });
  g.on('error', () => {});
  g.on('data', () => {});
  await new Promise((r) => g.once('connect', r));
  g.write(crypto.randomBytes(256 * 1024));
  g.write(Buffer.alloc(128 * 1024, 0xff)); // IAC IAC IAC ...
  g.write(Buffer.from(Array.from({ length: 30000 }, (_, i) => [0xff, 0xfb, 0xfd][i % 3])));
  await new Promise((r) => setTimeout(r, 300));
  g.destroy();
  await assertStillServing();
});

test('a flood of connections from one address evicts its idle ones; logged-in sessions and newcomers are served', async () => {
  const flood = [];
  for (let i = 0; i < 120; i++) {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.on('error', () => {});
    s.on('data', () => {});
    flood.push(s);
  }
  await Promise.all(flood.map((s) => new Promise((r) => { if (s.connecting) s.once('connect', r); else r(); })));
  await new Promise((r) => setTimeout(r, 200));
  const fresh = await RawClient.connect(port);
  assert.equal(fresh.greeting.code, 220, 'a newcomer from the same address gets in');
  await fresh.login(USER, PASSWORD);
  assert.ok(server.connections.length <= 41, `bounded: ${server.connections.length} sessions`);
  fresh.close();
  for (const s of flood) s.destroy();
  await assertStillServing();
});

test('slow-loris: a login that never completes is closed by the login timeout', async () => {
  const s = net.connect({ port, host: '127.0.0.1' });
  s.on('error', () => {});
  const closed = new Promise((r) => s.once('close', r));
  let received = '';
  s.on('data', (d) => (received += d));
  await new Promise((r) => s.once('connect', r));
  const drip = setInterval(() => s.write('U'), 100);
  await Promise.race([closed, new Promise((r) => setTimeout(r, 10_000))]);
  clearInterval(drip);
  assert.ok(s.destroyed || s.readableEnded, 'closed by the server');
  assert.match(received, /421 Login timeout/);
  await assertStillServing();
});

test('password guessing: failures get 530, the address is banned (421), logged-in sessions carry on', async () => {
  // Its own server, so the ban does not affect the other tests.
  const srv = new FtpServer({ port: 0, root, users: [{ username: USER, password: PASSWORD }], failedLoginDelayMs: 5, banAfterFailures: 4, maxLoginAttempts: 3 });
  const { port: p } = await srv.listen();
  try {
    const insider = await RawClient.connect(p);
    await insider.login(USER, PASSWORD);
    const codes = [];
    for (let conn = 0; conn < 2; conn++) {
      const c = await RawClient.connect(p);
      for (let i = 0; i < 3 && codes.length < 4; i++) {
        await c.cmd(`USER ${USER}`);
        codes.push((await c.cmd(`PASS guess${conn}${i}`)).code);
      }
      c.close();
    }
    assert.deepEqual(codes, [530, 530, 530, 530]);
    const banned = await RawClient.connect(p);
    assert.equal(banned.greeting.code, 421);
    assert.equal((await insider.cmd('PWD')).code, 257, 'the logged-in session is unaffected');
    insider.close();
  } finally {
    await srv.close();
  }
});

test('an interrupted upload never replaces a good file in atomic mode; partial files can be dropped', async () => {
  const srv = new FtpServer({ port: 0, root, users: [{ username: USER, password: PASSWORD }], atomicUploads: true, partialUploads: 'delete' });
  const { port: p } = await srv.listen();
  try {
    await fs.writeFile(path.join(root, 'good.bin'), 'GOOD');
    const c = await RawClient.connect(p);
    await c.login(USER, PASSWORD);
    await c.cmd('TYPE I');
    let d = await c.passive();
    assert.equal((await c.cmd('STOR good.bin')).code, 150);
    d.write(Buffer.alloc(50_000, 1));
    await new Promise((r) => setTimeout(r, 50));
    d.resetAndDestroy();
    c.writeRaw('ABOR\r\n');
    await c.read(); await c.read();
    assert.equal(await fs.readFile(path.join(root, 'good.bin'), 'utf8'), 'GOOD', 'the good file is intact');
    assert.deepEqual((await fs.readdir(root)).filter((n) => n.startsWith('.wharf-upload-')), [], 'no temporary left');
    // A complete atomic upload replaces the file.
    d = await c.passive();
    assert.equal((await c.cmd('STOR good.bin')).code, 150);
    d.end('BETTER');
    assert.equal((await c.read()).code, 226);
    assert.equal(await fs.readFile(path.join(root, 'good.bin'), 'utf8'), 'BETTER');
    c.close();
  } finally {
    await srv.close();
  }
});

test('policy building blocks: token buckets and bans are bounded and exact', () => {
  const limit = new RateLimit(10, 2);
  let state = 0;
  const take = (now) => { state = limit.take(state, now); return limit.wait(state, now); };
  assert.equal(take(1000), 0);
  assert.equal(take(1000), 0);
  assert.equal(take(1000), 100, 'third command in the same instant waits 100 ms at 10/s');
  assert.equal(take(1000), 200, 'and the fourth 200 ms: waits add up');
  assert.equal(take(1500), 0, 'refilled at 10/s: 500 ms later there is a token again');
  const unlimited = new RateLimit(0);
  assert.equal(unlimited.wait(unlimited.take(0, 5), 5), 0, 'rate 0 is no limit');
  assert.equal(sweepTick([60_000, 300_000]), 1000, 'default timeouts: one sweep a second');
  assert.equal(sweepTick([600, 300]), 30, 'short timeouts: a tenth of the shortest');
  assert.equal(sweepTick([50, 0]), 10, 'never faster than every 10 ms; 0 (no timeout) is ignored');
  assert.equal(sweepTick([0, 0]), 1000);
  const seen = [];
  new TimeoutSweep([{ checkTimeouts: (now) => seen.push(['a', now]) }, { checkTimeouts: (now) => seen.push(['b', now]) }], 1000).sweep(42);
  assert.deepEqual(seen, [['a', 42], ['b', 42]]);
  const ban = new LoginBan({ maxFailures: 2, windowMs: 1000, banMs: 5000, maxTracked: 3 });
  assert.equal(ban.recordFailure('a', 0), false);
  assert.equal(ban.recordFailure('a', 2000), false, 'outside the window');
  assert.equal(ban.recordFailure('a', 2500), true);
  assert.ok(ban.isBanned('a', 3000));
  assert.ok(!ban.isBanned('a', 7600));
  for (const ip of ['b', 'c', 'd', 'e', 'f']) ban.recordFailure(ip, 10_000);
  assert.equal(ban.recordFailure('b', 10_100), false, 'b was forgotten: memory stays bounded');
});

test('the built-in authenticator gives all sessions of a user one frozen account', async () => {
  const auth = new StaticAuthenticator([{ username: 'u', password: 'p', permissions: { delete: false } }], { uploadDir: '/in' });
  const req = (username, password) => ({ username, password, remoteAddress: '127.0.0.1', secure: false });
  const a = await auth.authenticate(req('u', 'p'));
  assert.equal(await auth.authenticate(req('u', 'p')), a);
  assert.ok(Object.isFrozen(a) && Object.isFrozen(a.permissions));
  assert.equal(a.permissions.delete, false);
  assert.equal(a.permissions.upload, true);
  assert.equal(await auth.authenticate(req('u', 'wrong')), undefined);
  const anon = await auth.authenticate(req('Anonymous', 'x@y'));
  assert.equal(await auth.authenticate(req('ftp', '')), anon);
  assert.equal(anon.permissionsFor('/in/f').upload, true);
  assert.equal(anon.permissionsFor('/pub/f').upload, false);
});

test('a FIFO in the root is refused at once for reading and writing, without stalling the server', async () => {
  const fifo = path.join(root, 'pub', 'pipe');
  const { execFileSync } = await import('node:child_process');
  execFileSync('mkfifo', [fifo]);
  try {
    const c = await RawClient.connect(port);
    await c.login(USER, PASSWORD);
    for (const type of ['TYPE I', 'TYPE A']) {
      await c.cmd(type);
      const d = await c.passive();
      // Opening a FIFO for reading waits for a writer; with direct calls that would stall
      // every session. The read is non-blocking and a FIFO is not a regular file: 550.
      const r = await c.cmd('RETR pub/pipe');
      assert.equal(r.code, 550, `${type}: ${r.text}`);
      d.destroy();
      for (const verb of ['STOR', 'APPE']) {
        const w = await c.passive();
        const s = await c.cmd(`${verb} pub/pipe`);
        assert.equal(s.code, 550, `${type} ${verb}: ${s.text}`);
        w.destroy();
      }
      await assertStillServing();
    }
    c.close();
  } finally {
    await fs.rm(fifo, { force: true });
  }
});
