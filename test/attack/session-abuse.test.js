// Abuse of the control connection itself: wildcard bombs, commands after goodbye, text smuggled
// across AUTH TLS, secrets in malformed commands, reply floods during a transfer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { selfSignedCertificate } from '../../dist/server/certificates.js';
import { startServer, USER, PASSWORD } from '../helpers/server.js';
import { RawClient, collect } from '../helpers/raw-client.js';

/** A logger that keeps every record as JSON text. */
function recordingLogger() {
  const lines = [];
  const rec = (level) => (obj, msg) => lines.push(JSON.stringify({ level, ...obj, msg }));
  return { lines, logger: { debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error') } };
}

async function loggedIn(srv) {
  const c = await RawClient.connect(srv.port);
  await c.login(USER, PASSWORD);
  return c;
}

/** A logged-in session whose 256 MiB download has started and stalls: its data connection is not read. */
async function stalledDownload(srv) {
  const fh = await fs.open(path.join(srv.root, 'big.bin'), 'w');
  await fh.truncate(256 * 1024 * 1024); // sparse
  await fh.close();
  const c = await loggedIn(srv);
  await c.cmd('TYPE I');
  const d = await c.passive('EPSV');
  d.pause(); // the transfer stalls on backpressure
  d.on('error', () => {});
  assert.equal((await c.cmd('RETR big.bin')).code, 150);
  return { c, d };
}

test('wildcard bombs in STAT, NLST and LIST are answered, and other sessions are not held up', async () => {
  const srv = await startServer({ anonymous: true });
  try {
    await fs.mkdir(path.join(srv.root, 'pub'));
    await fs.writeFile(path.join(srv.root, 'pub', 'a'.repeat(61)), 'x');
    await fs.writeFile(path.join(srv.root, 'pub', 'report-2026.csv'), 'y');
    const anon = await RawClient.connect(srv.port);
    await anon.login('anonymous', 'guest@');
    const other = await loggedIn(srv);
    // A backtracking regular expression took 27 s for the first and minutes for the second.
    for (const bomb of ['pub/*?*?*?*?*?*?*?*?!', 'pub/*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?!', `pub/${'*a'.repeat(30)}b`]) {
      const r = await anon.cmd(`STAT ${bomb}`);
      assert.ok([212, 213, 450, 550].includes(r.code), `STAT ${bomb}: ${r.code}`);
      assert.ok(!r.text.includes('a'.repeat(61)), 'nothing matches');
      assert.equal((await other.cmd('NOOP')).code, 200);
      const d = await anon.passive('EPSV');
      const got = collect(d);
      const n = await anon.cmd(`NLST ${bomb}`);
      if (n.code === 150) assert.equal((await anon.read()).code, 226); else d.destroy();
      assert.equal((await got.catch(() => Buffer.alloc(0))).length, 0);
    }
    // Real patterns still work, and an absurdly long one is refused outright.
    const d = await anon.passive('EPSV');
    const got = collect(d);
    assert.equal((await anon.cmd('NLST pub/*-20??.csv')).code, 150);
    assert.equal((await got).toString(), 'pub/report-2026.csv\r\n');
    assert.equal((await anon.read()).code, 226);
    assert.equal((await anon.cmd(`STAT pub/${'*?'.repeat(40)}`)).code, 501);
    // A name that long with a star in it is taken as itself when it exists.
    const literal = `odd*${'n'.repeat(70)}.txt`;
    await fs.writeFile(path.join(srv.root, 'pub', literal), 'z');
    const st = await anon.cmd(`STAT pub/${literal}`);
    assert.equal(st.code, 213);
    assert.ok(st.lines.some((l) => l.endsWith(` ${literal}`)));
    anon.close();
    other.close();
  } finally { await srv.stop(); }
});

test('nothing sent after QUIT runs', async () => {
  const srv = await startServer();
  try {
    await fs.writeFile(path.join(srv.root, 'victim.txt'), 'keep me');
    const c = await loggedIn(srv);
    c.writeRaw('QUIT\r\nDELE victim.txt\r\nMKD after-quit\r\n');
    assert.equal((await c.read()).code, 221);
    await assert.rejects(c.read(5000), /closed/, 'no reply after 221');
    assert.equal(await fs.readFile(path.join(srv.root, 'victim.txt'), 'utf8'), 'keep me');
    await assert.rejects(fs.stat(path.join(srv.root, 'after-quit')));
  } finally { await srv.stop(); }
});

test('nothing sent after a 421 for too many failed logins runs, not even a right password', async () => {
  const srv = await startServer({ maxLoginAttempts: 2, banAfterFailures: 100 });
  try {
    const c = await RawClient.connect(srv.port);
    c.writeRaw(`USER ${USER}\r\nPASS wrong1\r\nUSER ${USER}\r\nPASS wrong2\r\nUSER ${USER}\r\nPASS ${PASSWORD}\r\nMKD after-421\r\n`);
    const codes = [];
    for (;;) {
      const r = await c.read(5000).catch(() => undefined);
      if (!r) break;
      codes.push(r.code);
    }
    assert.deepEqual(codes, [331, 530, 331, 530, 421]);
    await assert.rejects(fs.stat(path.join(srv.root, 'after-421')));
  } finally { await srv.stop(); }
});

test('a partial line sent in clear before AUTH TLS does not become part of a protected command', async () => {
  const srv = await startServer({ tls: await selfSignedCertificate() });
  try {
    for (const [clear, secret, wrong] of [['NO', 'OP', 200], ['HELP ', `USER ${USER}`, 501]]) {
      const c = await RawClient.connect(srv.port);
      c.writeRaw(`AUTH TLS\r\n${clear}`);
      assert.equal((await c.read()).code, 234);
      const raw = c.socket;
      raw.removeAllListeners('data');
      raw.removeAllListeners('close');
      const tls = await import('node:tls');
      const secure = tls.connect({ socket: raw, rejectUnauthorized: false });
      await new Promise((resolve, reject) => { secure.once('secureConnect', resolve); secure.once('error', reject); });
      c.attach(secure);
      const r = await c.cmd(secret);
      assert.notEqual(r.code, wrong, `"${clear}" + "${secret}" was joined: ${r.code} ${r.text}`);
      if (secret.startsWith('USER')) assert.equal(r.code, 331);
      else assert.equal(r.code, 500, 'OP alone is no command');
      c.close();
    }
  } finally { await srv.stop(); }
});

test('a password after PASS and a tab, or glued to PASS, is neither logged nor echoed', async () => {
  const { lines, logger } = recordingLogger();
  const srv = await startServer({ logger });
  try {
    const c = await RawClient.connect(srv.port);
    await c.cmd(`USER ${USER}`);
    for (const line of ['PASS\tsekrit-one', 'PASSWORD sekrit-two', 'pass\tsekrit-three', 'ACCT sekrit-four', 'passsekrit5', 'ACCTsekrit6']) {
      const r = await c.cmd(line);
      assert.ok(!/sekrit/i.test(r.text), `reply to ${line.split(/\s/)[0]} echoes the secret: ${r.text}`);
    }
    assert.equal((await c.cmd(`PASS ${PASSWORD}`)).code, 230);
    c.close();
    await sleep(50);
    assert.ok(lines.length > 0, 'the server logged something');
    const leaks = lines.filter((l) => /sekrit|wonder land/i.test(l));
    assert.deepEqual(leaks, []);
  } finally { await srv.stop(); }
});

test('a flood of STAT during a stalled download is not answered without end while the client reads nothing', async () => {
  const srv = await startServer();
  try {
    const { c, d } = await stalledDownload(srv);
    // Stop reading the control connection too, then flood.
    c.socket.pause();
    const FLOOD = 50_000;
    // The server's side of the control connection, watched for the replies it holds unsent.
    const session = [...srv.server.sessions][0];
    let peak = 0;
    const watch = setInterval(() => { peak = Math.max(peak, session.socket.writableLength); }, 5);
    c.writeRaw('STAT\r\n'.repeat(FLOOD));
    await sleep(1000);
    clearInterval(watch);
    // Once the kernel's buffers are full, at most 64 KiB and one reply wait in the server (15 MB
    // of replies before, one per STAT).
    assert.ok(peak > 0, 'the replies filled the kernel buffers');
    assert.ok(peak <= 64 * 1024 + 1024, `${peak} bytes of replies held`);
    assert.ok(session.socket.isPaused(), 'the server stopped reading');
    // What it read beyond its queue's limit waits as bytes, not as thousands of parsed lines.
    assert.ok(session.queue.length < 1000, `${session.queue.length} lines queued`);
    c.socket.resume();
    let during = 0;
    for (;;) {
      const r = await c.read(1000).catch(() => undefined);
      if (!r) break;
      assert.equal(r.code, 211);
      during++;
    }
    // The rest come, in order, once the transfer is over.
    d.destroy();
    let rest = 0;
    let failed = 0;
    while (during + rest < FLOOD) {
      const r = await c.read(10_000);
      if (r.code === 426) { failed++; continue; }
      assert.equal(r.code, 211);
      rest++;
    }
    if (!failed) assert.equal((await c.read()).code, 426);
    assert.equal((await c.cmd('NOOP')).code, 200);
    c.close();
  } finally { await srv.stop(); }
});

test('ABOR still stops a transfer at once when other commands are queued behind it', async () => {
  const srv = await startServer();
  try {
    const { c, d } = await stalledDownload(srv);
    // A pipelining client: the next command is already queued when it decides to abort.
    c.writeRaw('PWD\r\nABOR\r\n');
    assert.equal((await c.read()).code, 426);
    assert.equal((await c.read()).code, 226);
    assert.equal((await c.read()).code, 257);
    d.destroy();
    c.close();
  } finally { await srv.stop(); }
});

test('login ban: sessions opened before it get no more guesses, and a good login between guesses does not reset it', async () => {
  // Parallel sessions opened first: the ban was checked only at connect, so each of them still
  // had maxLoginAttempts guesses once the address was banned (50 sessions x 5 for a ban after 10).
  const srv = await startServer({ anonymous: true, banAfterFailures: 4, maxLoginAttempts: 3 });
  try {
    const conns = [];
    for (let i = 0; i < 5; i++) conns.push(await RawClient.connect(srv.port));
    let guesses = 0;
    for (const c of conns) {
      for (let i = 0; i < 3 && !c.closed; i++) {
        const u = await c.cmd(`USER ${USER}`).catch(() => undefined);
        if (u?.code !== 331) break;
        const r = await c.cmd('PASS guess').catch(() => undefined);
        if (r?.code === 530) guesses++;
        else break;
      }
      c.close();
    }
    assert.equal(guesses, 4, 'guesses once the address was banned');
    // Not even the right password gets in from a session that was open before the ban.
    assert.equal((await RawClient.connect(srv.port)).greeting.code, 421);
  } finally { await srv.stop(); }

  // An anonymous (or any successful) login between guesses used to clear the address's count.
  const srv2 = await startServer({ anonymous: true, banAfterFailures: 4, maxLoginAttempts: 3 });
  try {
    let guesses = 0;
    for (let round = 0; round < 6; round++) {
      const c = await RawClient.connect(srv2.port);
      if (c.greeting.code === 421) { c.close(); break; }
      for (let i = 0; i < 2; i++) {
        await c.cmd(`USER ${USER}`);
        if ((await c.cmd('PASS guess')).code === 530) guesses++;
      }
      await c.cmd('USER anonymous').catch(() => undefined);
      await c.cmd('PASS me@example.org').catch(() => undefined);
      c.close();
    }
    assert.equal(guesses, 4, 'guesses with an anonymous login after every two');
  } finally { await srv2.stop(); }
});

test('--require-tls with anonymous exempt: an account named like the anonymous login still needs TLS', async () => {
  // The exemption went by the name given to USER, but an account of that name ("ftp" in a users
  // file, or one a custom authenticator returns) is no anonymous login: it logged in in clear text.
  const srv = await startServer({ tls: await selfSignedCertificate(), requireTls: { anonymousExempt: true }, anonymous: true,
    users: [{ username: 'ftp', password: 'ftp-secret' }] });
  try {
    await fs.writeFile(path.join(srv.root, 'victim.txt'), 'keep me');
    const c = await RawClient.connect(srv.port);
    assert.equal((await c.cmd('USER ftp')).code, 331);
    assert.equal((await c.cmd('PASS ftp-secret')).code, 530);
    assert.equal((await c.cmd('DELE victim.txt')).code, 530);
    assert.equal(await fs.readFile(path.join(srv.root, 'victim.txt'), 'utf8'), 'keep me');
    // The real anonymous login is still exempt.
    await c.login('anonymous', 'me@example.org');
    assert.equal((await c.cmd('DELE victim.txt')).code, 550);
    c.close();
    // And over TLS the account logs in.
    const t = await RawClient.connect(srv.port);
    await t.startTls();
    await t.login('ftp', 'ftp-secret');
    t.close();
  } finally { await srv.stop(); }
});

test('a flood of connections from another address to an armed passive port is refused without a log line each', async () => {
  // Anyone who can reach the passive range could connect over and over: each refusal wrote a
  // warning, so an unauthenticated client filled the operator's disk at a TCP handshake a line.
  const { lines, logger } = recordingLogger();
  const srv = await startServer({ logger });
  try {
    await fs.writeFile(path.join(srv.root, 'f.txt'), 'the data');
    const c = await loggedIn(srv);
    const r = await c.cmd('EPSV');
    const dport = Number(/\|\|\|(\d+)\|/.exec(r.text)[1]);
    const FLOOD = 40;
    for (let i = 0; i < FLOOD; i++) {
      const thief = net.connect({ host: '127.0.0.1', port: dport, localAddress: '127.0.0.2' });
      thief.on('error', () => {});
      thief.setTimeout(5000, () => thief.destroy());
      await new Promise((res) => { thief.once('close', res); });
    }
    // The client's own connection still gets its file.
    const d = net.connect({ host: '127.0.0.1', port: dport });
    d.setTimeout(10_000, () => d.destroy());
    const got = collect(d);
    assert.equal((await c.cmd('RETR f.txt')).code, 150);
    assert.equal((await got).toString(), 'the data');
    assert.equal((await c.read()).code, 226);
    c.close();
    const warned = lines.filter((l) => /foreign address/.test(l));
    assert.ok(warned.length >= 1, 'the refusal is logged');
    assert.ok(warned.length <= 2, `${warned.length} log lines for ${FLOOD} refused connections`);
  } finally { await srv.stop(); }
});
