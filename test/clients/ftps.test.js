// FTPS against real TLS clients: curl, lftp, ftplib FTP_TLS, openssl s_client; policies and bad handshakes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { selfSignedCertificate } from '../../dist/server/certificates.js';
import { startServer, USER, PASSWORD } from '../helpers/server.js';
import { RawClient, collect } from '../helpers/raw-client.js';
import { run } from '../helpers/run.js';
import { parsePasvReply } from '../../dist/protocol/address.js';

let cert, srv, tmp;
const curlAuth = ['--user', `${USER}:${PASSWORD}`];

before(async () => {
  cert = await selfSignedCertificate();
  srv = await startServer({ tls: cert, implicitTlsPort: 0 });
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'wharf-ftps-'));
});
after(async () => {
  await srv.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

test('FEAT advertises AUTH TLS, PBSZ and PROT', async () => {
  const c = await RawClient.connect(srv.port);
  const feat = await c.cmd('FEAT');
  for (const f of ['AUTH TLS', 'PBSZ', 'PROT']) assert.ok(feat.lines.includes(' ' + f), f);
  c.close();
});

test('curl explicit FTPS (--ssl-reqd): upload, download, listing over PROT P', async () => {
  const data = crypto.randomBytes(2 * 1024 * 1024 + 3);
  const local = path.join(tmp, 'tls.bin');
  await fs.writeFile(local, data);
  const base = `ftp://127.0.0.1:${srv.port}`;
  const up = await run('curl', ['-sS', '--max-time', '60', '--ssl-reqd', '-k', ...curlAuth, '-T', local, `${base}/tls.bin`]);
  assert.equal(up.status, 0, up.stderr);
  assert.ok(data.equals(await fs.readFile(path.join(srv.root, 'tls.bin'))));
  const down = await run('curl', ['-sS', '--max-time', '60', '--ssl-reqd', '-k', ...curlAuth, `${base}/tls.bin`]);
  assert.equal(down.status, 0, down.stderr);
  assert.ok(data.equals(down.stdout));
  // Passive only: curl 7.87-7.88 (Debian 12) cannot do active FTPS (curl/curl#10666); ftplib covers active TLS.
  const ls = await run('curl', ['-sS', '--max-time', '60', '--ssl-reqd', '-k', ...curlAuth, `${base}/`]);
  assert.equal(ls.status, 0, ls.stderr);
  assert.match(ls.text, / tls\.bin\r?$/m);
});

test('curl explicit FTPS: empty and one-byte uploads, again and again (the upload can end before the transfer starts reading)', async () => {
  const base = `ftp://127.0.0.1:${srv.port}`;
  for (const [name, body] of [['empty.bin', ''], ['one.bin', 'x']]) {
    const local = path.join(tmp, name);
    await fs.writeFile(local, body);
    for (let i = 0; i < 8; i++) {
      const up = await run('curl', ['-sS', '--max-time', '20', '--ssl-reqd', '-k', ...curlAuth, '-T', local, `${base}/${i}-${name}`]);
      assert.equal(up.status, 0, `${name} #${i}: ${up.stderr}`);
      assert.equal(await fs.readFile(path.join(srv.root, `${i}-${name}`), 'utf8'), body);
    }
  }
});

test('curl implicit FTPS (ftps://)', async () => {
  await fs.writeFile(path.join(srv.root, 'implicit.txt'), 'over implicit TLS');
  const r = await run('curl', ['-sS', '--max-time', '60', '-k', ...curlAuth, `ftps://127.0.0.1:${srv.implicitTlsPort}/implicit.txt`]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.text, 'over implicit TLS');
});

test('curl verifies the certificate when asked to (and fails on a self-signed one)', async () => {
  const r = await run('curl', ['-sS', '--max-time', '30', '--ssl-reqd', ...curlAuth, `ftp://127.0.0.1:${srv.port}/`]);
  assert.equal(r.status, 60, 'peer certificate cannot be authenticated');
  const caFile = path.join(tmp, 'ca.pem');
  await fs.writeFile(caFile, cert.cert);
  const ok = await run('curl', ['-sS', '--max-time', '30', '--ssl-reqd', '--cacert', caFile, ...curlAuth, `ftp://localhost:${srv.port}/`]);
  assert.equal(ok.status, 0, ok.stderr);
});

test('lftp with ftp:ssl-force and ftp:ssl-protect-data: mirror -R and back', async () => {
  const src = path.join(tmp, 'lsrc');
  await fs.mkdir(path.join(src, 'd'), { recursive: true });
  const data = crypto.randomBytes(300_000);
  await fs.writeFile(path.join(src, 'd', 'f.bin'), data);
  const settings = 'set net:max-retries 1; set net:timeout 20; set cmd:fail-exit yes; set ftp:ssl-force true; set ftp:ssl-protect-data true; set ftp:ssl-protect-list true; set ssl:verify-certificate no';
  const r = await run('lftp', ['-u', `${USER},${PASSWORD}`, '-p', String(srv.port), '-e', `${settings}; mirror -R ${src} /lftp-tls; mirror /lftp-tls ${path.join(tmp, 'lback')}; bye`, '127.0.0.1'], { timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(data.equals(await fs.readFile(path.join(srv.root, 'lftp-tls/d/f.bin'))));
  assert.ok(data.equals(await fs.readFile(path.join(tmp, 'lback/d/f.bin'))));
});

test('python ftplib FTP_TLS with prot_p: the whole session', async () => {
  const script = fileURLToPath(new URL('./ftplib_session.py', import.meta.url));
  const r = await run('python3', [script, String(srv.port), USER, PASSWORD, srv.root, 'tls'], { timeout: 120_000 });
  assert.equal(r.status, 0, r.text + r.stderr);
  assert.doesNotMatch(r.text, /FAIL/);
});

test('openssl s_client -starttls ftp negotiates TLS 1.2+ and refuses TLS 1.1', async () => {
  const r = await run('openssl', ['s_client', '-starttls', 'ftp', '-connect', `127.0.0.1:${srv.port}`, '-brief'], { input: 'QUIT\r\n', timeout: 20_000 });
  assert.match(r.stderr + r.text, /Protocol version: TLSv1\.[23]/);
  const old = await run('openssl', ['s_client', '-starttls', 'ftp', '-connect', `127.0.0.1:${srv.port}`, '-tls1_1', '-brief'], { input: 'QUIT\r\n', timeout: 20_000 });
  assert.notEqual(old.status, 0);
  assert.doesNotMatch(old.stderr + old.text, /Protocol version: TLSv1\.1/);
});

test('PBSZ/PROT need AUTH first; PROT levels', async () => {
  const c = await RawClient.connect(srv.port);
  assert.equal((await c.cmd('PBSZ 0')).code, 503);
  assert.equal((await c.cmd('PROT P')).code, 503);
  // RFC 2228: a CCC that is not itself protected is 533; over TLS it is refused by policy (534).
  assert.equal((await c.cmd('CCC')).code, 533);
  assert.equal((await c.cmd('AUTH KERBEROS')).code, 504);
  await c.startTls();
  assert.equal((await c.cmd('AUTH TLS')).code, 503);
  assert.equal((await c.cmd('PROT P')).code, 503, 'PBSZ first');
  // RFC 2228: a size that does not fit in 32 bits is 501; any other is answered PBSZ=0.
  assert.equal((await c.cmd('PBSZ 4294967296')).code, 501);
  assert.equal((await c.cmd('PBSZ 9999999999')).code, 501);
  const larger = await c.cmd('PBSZ 4294967295');
  assert.equal(larger.code, 200);
  assert.equal(larger.text, 'PBSZ=0');
  assert.equal((await c.cmd('PBSZ 0')).code, 200);
  assert.equal((await c.cmd('PROT S')).code, 536);
  assert.equal((await c.cmd('PROT X')).code, 504);
  assert.equal((await c.cmd('PROT C')).code, 200);
  assert.equal((await c.cmd('PROT P')).code, 200);
  assert.equal((await c.cmd('CCC')).code, 534);
  await c.login(USER, PASSWORD);
  assert.equal((await c.cmd('PWD')).code, 257);
  c.close();
});

test('commands pipelined behind AUTH TLS in clear text are dropped, not run after the upgrade', async () => {
  const c = await RawClient.connect(srv.port);
  c.writeRaw('AUTH TLS\r\nMKD injected\r\n');
  assert.equal((await c.read()).code, 234);
  const raw = c.socket;
  raw.removeAllListeners('data');
  const secure = tls.connect({ socket: raw, rejectUnauthorized: false });
  await new Promise((r, j) => { secure.once('secureConnect', r); secure.once('error', j); });
  c.attach(secure);
  await c.login(USER, PASSWORD);
  assert.equal((await c.cmd('NOOP')).code, 200);
  await assert.rejects(fs.stat(path.join(srv.root, 'injected')));
  c.close();
});

test('a garbage TLS handshake closes only that connection', async () => {
  for (const port of [srv.port, srv.implicitTlsPort]) {
    const s = net.connect({ port, host: '127.0.0.1' });
    await new Promise((r) => s.once('connect', r));
    if (port === srv.port) {
      s.write('AUTH TLS\r\n');
      await new Promise((r) => s.once('data', r));
    }
    s.write(crypto.randomBytes(4096));
    await new Promise((r) => { s.once('close', r); s.on('error', () => {}); s.setTimeout(10_000, () => s.destroy()); });
    assert.ok(s.destroyed);
  }
  const c = await RawClient.connect(srv.port);
  await c.login(USER, PASSWORD);
  assert.equal((await c.cmd('NOOP')).code, 200);
  c.close();
});

test('a forged TLS record after the handshake ends that connection at once (control and upload), others carry on', async () => {
  // An application-data record whose MAC cannot check out: what a tampering middlebox or a broken client sends.
  const forged = Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x00, 0x40]), crypto.randomBytes(64)]);
  const closed = (socket) => new Promise((r) => { socket.once('close', r); socket.setTimeout(20_000, () => socket.destroy()); });
  // Control connection: the session ends, long before any timeout.
  const c = await RawClient.connect(srv.port);
  const raw = c.socket;
  const secure = await c.startTls();
  secure.on('error', () => {});
  assert.equal((await c.cmd('NOOP')).code, 200);
  let t0 = Date.now();
  raw.write(forged);
  await closed(raw);
  assert.ok(Date.now() - t0 < 10_000, `control closed after ${Date.now() - t0} ms`);
  // Upload: the transfer fails with a 4xx reply at once; the session and the server go on.
  const u = await RawClient.connect(srv.port);
  await u.startTls();
  await u.login(USER, PASSWORD);
  for (const cmd of ['TYPE I', 'PBSZ 0', 'PROT P']) assert.equal((await u.cmd(cmd)).code, 200, cmd);
  const { port } = parsePasvReply((await u.cmd('PASV')).text);
  const dataRaw = net.connect({ host: '127.0.0.1', port });
  await new Promise((r) => dataRaw.once('connect', r));
  assert.equal((await u.cmd('STOR forged.bin')).code, 150);
  const data = tls.connect({ socket: dataRaw, rejectUnauthorized: false });
  data.on('error', () => {});
  await new Promise((r) => data.once('secureConnect', r));
  await new Promise((r) => data.write(Buffer.alloc(1000, 0x61), r));
  t0 = Date.now();
  dataRaw.write(forged);
  const r = await u.read(30_000);
  assert.ok(r.code >= 400 && r.code < 500, `upload cut by a forged record: ${r.code} ${r.text}`);
  assert.ok(Date.now() - t0 < 10_000, `reply after ${Date.now() - t0} ms`);
  dataRaw.destroy();
  // What was kept (the default keeps a partial upload for REST) is the client's bytes, nothing forged.
  const kept = await fs.readFile(path.join(srv.root, 'forged.bin')).catch(() => Buffer.alloc(0));
  assert.ok(kept.length <= 1000 && kept.every((b) => b === 0x61), `kept ${kept.length} bytes`);
  assert.equal((await u.cmd('NOOP')).code, 200);
  u.close();
  const other = await RawClient.connect(srv.port);
  await other.login(USER, PASSWORD);
  assert.equal((await other.cmd('NOOP')).code, 200);
  other.close();
});

test('require TLS: plain login refused 530, clear data refused 534/521, anonymous exemption', async () => {
  const strict = await startServer({ tls: cert, requireTls: { control: true, data: true, anonymousExempt: true }, anonymous: true });
  try {
    const c = await RawClient.connect(strict.port);
    assert.equal((await c.cmd(`USER ${USER}`)).code, 530);
    const curl = await run('curl', ['-sS', '--max-time', '20', ...curlAuth, `ftp://127.0.0.1:${strict.port}/`]);
    assert.notEqual(curl.status, 0);
    await c.startTls();
    assert.equal((await c.cmd('PBSZ 0')).code, 200);
    await c.login(USER, PASSWORD);
    assert.equal((await c.cmd('PROT C')).code, 534);
    const d = await c.passive();
    assert.equal((await c.cmd('LIST')).code, 521, 'PROT P not set yet');
    d.destroy();
    c.close();
    const a = await RawClient.connect(strict.port);
    assert.equal((await a.cmd('USER anonymous')).code, 331);
    assert.equal((await a.cmd('PASS x@y')).code, 230);
    a.close();
  } finally {
    await strict.stop();
  }
});

test('require TLS session reuse: curl (which resumes) works; a fresh data handshake is refused', async () => {
  const strict = await startServer({ tls: cert, requireTlsSessionReuse: true });
  try {
    await fs.writeFile(path.join(strict.root, 'r.txt'), 'reused');
    const ok = await run('curl', ['-sS', '--max-time', '30', '--ssl-reqd', '-k', ...curlAuth, `ftp://127.0.0.1:${strict.port}/r.txt`]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.text, 'reused');
    const c = await RawClient.connect(strict.port);
    await c.startTls();
    await c.cmd('PBSZ 0');
    await c.cmd('PROT P');
    await c.login(USER, PASSWORD);
    const pasv = await c.cmd('PASV');
    const { port } = parsePasvReply(pasv.text);
    assert.equal((await c.cmd('RETR r.txt')).code, 150);
    const data = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    data.on('error', () => {});
    const final = await c.read();
    assert.equal(final.code, 425);
    c.close();
  } finally {
    await strict.stop();
  }
});

for (const version of ['TLSv1.2', 'TLSv1.3']) test(`require TLS session reuse: a data connection resuming another control connection's session is refused (${version})`, async () => {
  const strict = await startServer({ tls: cert, requireTlsSessionReuse: true });
  const pin = { minVersion: version, maxVersion: version };
  try {
    await fs.writeFile(path.join(strict.root, 'secret.txt'), 'victim data');
    const victim = await RawClient.connect(strict.port);
    const own = await victim.startTls(pin);
    await victim.cmd('PBSZ 0');
    await victim.cmd('PROT P');
    await victim.login(USER, PASSWORD);
    // The attacker's own TLS session, from a control connection of its own (no login needed).
    const attacker = await RawClient.connect(strict.port);
    const stolen = await attacker.startTls(pin);
    assert.equal((await attacker.cmd('NOOP')).code, 200);
    const session = stolen.getSession();
    assert.ok(session, 'the attacker holds a resumable session');
    const { port } = parsePasvReply((await victim.cmd('PASV')).text);
    assert.equal((await victim.cmd('RETR secret.txt')).code, 150);
    const data = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, session, ...pin });
    data.on('error', () => {});
    const got = collect(data).catch(() => Buffer.alloc(0));
    assert.equal((await victim.read()).code, 425);
    assert.equal((await got).toString(), '');
    // The victim's own session still resumes: the next download goes through.
    const again = parsePasvReply((await victim.cmd('PASV')).text);
    const raw = net.connect({ host: '127.0.0.1', port: again.port });
    await new Promise((r) => raw.once('connect', r));
    assert.equal((await victim.cmd('RETR secret.txt')).code, 150);
    const mine = tls.connect({ socket: raw, rejectUnauthorized: false, session: own.getSession(), ...pin });
    assert.equal((await collect(mine)).toString(), 'victim data');
    assert.equal((await victim.read()).code, 226);
    victim.close();
    attacker.close();
  } finally {
    await strict.stop();
  }
});

test('certificates reload for new sessions without a restart', async () => {
  const other = await selfSignedCertificate(['renewed.example']);
  const s2 = await startServer({ tls: cert });
  try {
    const fingerprint = async () => {
      const c = await RawClient.connect(s2.port);
      const sock = await c.startTls();
      const fp = sock.getPeerX509Certificate().fingerprint256;
      c.close();
      return fp;
    };
    assert.equal(await fingerprint(), cert.fingerprint256);
    s2.server.reloadTls(other);
    assert.equal(await fingerprint(), other.fingerprint256);
  } finally {
    await s2.stop();
  }
});

test('listing over TLS from a raw client: data TLS ends with close_notify', async () => {
  const c = await RawClient.connect(srv.port);
  const control = await c.startTls();
  await c.cmd('PBSZ 0');
  await c.cmd('PROT P');
  await c.login(USER, PASSWORD);
  const pasv = await c.cmd('PASV');
  const { port } = parsePasvReply(pasv.text);
  const raw = net.connect({ host: '127.0.0.1', port });
  await new Promise((r) => raw.once('connect', r));
  assert.equal((await c.cmd('NLST')).code, 150);
  const data = tls.connect({ socket: raw, rejectUnauthorized: false, session: control.getSession() });
  const body = await collect(data);
  assert.ok(body.toString().split('\r\n').includes('tls.bin'));
  assert.equal((await c.read()).code, 226);
  c.close();
});

test('a data connection that ends, resets or talks nonsense instead of its TLS handshake gets 425 at once, for downloads and uploads', async () => {
  // The handshake timeout is long here: a 425 that waits for it fails the check below.
  const s2 = await startServer({ tls: cert, timeouts: { dataConnect: 20_000 } });
  try {
    await fs.writeFile(path.join(s2.root, 'f.bin'), 'hello');
    const c = await RawClient.connect(s2.port);
    await c.startTls();
    await c.login(USER, PASSWORD);
    for (const cmd of ['TYPE I', 'PBSZ 0', 'PROT P']) assert.equal((await c.cmd(cmd)).code, 200, cmd);
    for (const how of ['end', 'reset', 'garbage']) {
      for (const cmd of ['RETR f.bin', 'STOR up.bin']) {
        const d = await c.passive('EPSV');
        assert.equal((await c.cmd(cmd)).code, 150);
        const t0 = Date.now();
        if (how === 'end') d.end(); else if (how === 'reset') d.resetAndDestroy(); else d.write(Buffer.alloc(100, 7));
        const r = await c.read(30_000);
        assert.equal(r.code, 425, `${how} ${cmd}: ${r.text}`);
        assert.ok(Date.now() - t0 < 10_000, `${how} ${cmd}: 425 after ${Date.now() - t0} ms`);
        d.destroy();
      }
    }
    assert.equal((await c.cmd('NOOP')).code, 200);
    c.close();
  } finally {
    await s2.stop();
  }
});
