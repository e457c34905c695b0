// `wharf serve` and `wharf passwd` as a user runs them: defaults, flags, config and users files, Ctrl-C.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../helpers/run.js';
import { BIN, serve, exited } from '../helpers/serve-cli.js';
import { RawClient } from '../helpers/raw-client.js';

async function tempDir() {
  return fs.mkdtemp(path.join(os.tmpdir(), 'wharf-cli-'));
}

test('no flags: the current folder, anonymous and read-only; Ctrl-C exits cleanly', async () => {
  const dir = await tempDir();
  await fs.writeFile(path.join(dir, 'shared.txt'), 'for everyone');
  const s = await serve([], dir);
  try {
    assert.match(s.out(), /anonymous, read-only/);
    const got = await run('curl', ['-sS', '--max-time', '20', `ftp://127.0.0.1:${s.port}/shared.txt`]);
    assert.equal(got.text, 'for everyone');
    const up = await run('curl', ['-sS', '--max-time', '20', '-T', path.join(dir, 'shared.txt'), `ftp://127.0.0.1:${s.port}/copy.txt`]);
    assert.notEqual(up.status, 0);
    await assert.rejects(fs.stat(path.join(dir, 'copy.txt')));
  } finally {
    s.proc.kill('SIGINT');
    assert.equal(await exited(s.proc), 0);
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('--user gives write access; anonymous is then off unless --anonymous', async () => {
  const dir = await tempDir();
  const s = await serve(['--user', 'bob:s3cret', '--root', dir, '--log-format', 'json', '--log-level', 'debug'], os.tmpdir());
  try {
    await fs.writeFile(path.join(os.tmpdir(), 'wharf-cli-src.txt'), 'from bob');
    const up = await run('curl', ['-sS', '--max-time', '20', '--user', 'bob:s3cret', '-T', path.join(os.tmpdir(), 'wharf-cli-src.txt'), `ftp://127.0.0.1:${s.port}/bob.txt`]);
    assert.equal(up.status, 0, up.stderr);
    assert.equal(await fs.readFile(path.join(dir, 'bob.txt'), 'utf8'), 'from bob');
    const anon = await run('curl', ['-sS', '--max-time', '20', `ftp://127.0.0.1:${s.port}/`]);
    assert.equal(anon.status, 67, 'anonymous login refused');
  } finally {
    s.proc.kill('SIGTERM');
    assert.equal(await exited(s.proc), 0);
    assert.ok(!s.err().includes('s3cret'), 'the password never reaches the log, even at debug level');
    assert.match(s.err(), /"msg":"login"/);
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('wharf passwd + --users file (YAML) + --config file with TLS and a passive range', async () => {
  const dir = await tempDir();
  const hash = await run(process.execPath, [BIN, 'passwd', 'carol'], { input: 'correct horse\n' });
  assert.equal(hash.status, 0, hash.stderr);
  const entry = JSON.parse(hash.text);
  assert.equal(entry.username, 'carol');
  assert.match(entry.password, /^scrypt\$/);
  assert.ok(!hash.text.includes('correct horse'));
  await fs.mkdir(path.join(dir, 'carol-home'));
  await fs.writeFile(path.join(dir, 'carol-home', 'mine.txt'), 'carol only');
  await fs.writeFile(path.join(dir, 'users.yaml'), `users:\n  - username: carol\n    password: "${entry.password}"\n    home: carol-home\n    permissions: [list, download]\n`);
  // The served folder holds neither the users file nor the config: clients could download them.
  await fs.mkdir(path.join(dir, 'served'));
  await fs.writeFile(path.join(dir, 'wharf.yaml'), `root: ${path.join(dir, 'served')}\nusers: ${path.join(dir, 'users.yaml')}\npasv-range: 42100-42110\ntls-self-signed: true\n`);
  const s = await serve(['--config', path.join(dir, 'wharf.yaml')], dir);
  try {
    assert.match(s.out(), /fingerprint [0-9A-F:]{95}/);
    const r = await run('curl', ['-sS', '--max-time', '20', '--ssl-reqd', '-k', '--user', 'carol:correct horse', `ftp://127.0.0.1:${s.port}/mine.txt`]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.text, 'carol only');
    const w = await run('curl', ['-sS', '--max-time', '20', '--ssl-reqd', '-k', '--user', 'carol:correct horse', '-Q', 'MKD x', `ftp://127.0.0.1:${s.port}/`]);
    assert.notEqual(w.status, 0, 'permissions from the users file apply');
    const bad = await run('curl', ['-sS', '--max-time', '20', '--ssl-reqd', '-k', '--user', 'carol:wrong', `ftp://127.0.0.1:${s.port}/`]);
    assert.equal(bad.status, 67);
  } finally {
    s.proc.kill('SIGINT');
    assert.equal(await exited(s.proc), 0);
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('--require-tls --anonymous-without-tls: anonymous downloads in clear text, accounts only over TLS', async () => {
  const dir = await tempDir();
  await fs.writeFile(path.join(dir, 'public.txt'), 'for everyone');
  const s = await serve(['--root', dir, '--user', 'dana:pw-dana-1', '--anonymous', '--tls-self-signed', '--require-tls', '--anonymous-without-tls'], dir);
  try {
    assert.match(s.out(), /AUTH TLS on the control port \(required, except for anonymous users\)/);
    const anon = await run('curl', ['-sS', '--max-time', '20', `ftp://127.0.0.1:${s.port}/public.txt`]);
    assert.equal(anon.status, 0, anon.stderr);
    assert.equal(anon.text, 'for everyone');
    const clear = await run('curl', ['-sS', '--max-time', '20', '--user', 'dana:pw-dana-1', `ftp://127.0.0.1:${s.port}/public.txt`]);
    assert.equal(clear.status, 67, 'an account is refused in clear text');
    const secure = await run('curl', ['-sS', '--max-time', '20', '--ssl-reqd', '-k', '--user', 'dana:pw-dana-1', `ftp://127.0.0.1:${s.port}/public.txt`]);
    assert.equal(secure.status, 0, secure.stderr);
    assert.equal(secure.text, 'for everyone');
  } finally {
    s.proc.kill('SIGTERM');
    assert.equal(await exited(s.proc), 0);
    await fs.rm(dir, { recursive: true, force: true });
  }
  for (const [args, message] of [
    [['--anonymous-without-tls', '--tls-self-signed', '--user', 'a:b'], /--anonymous-without-tls needs --anonymous/],
    [['--anonymous-without-tls', '--anonymous'], /--anonymous-without-tls goes with --require-tls/],
  ]) {
    const r = await run(process.execPath, [BIN, 'serve', '--port', '0', ...args]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, message);
  }
});

test('--umask 002: uploads and new folders are group-writable; a umask that is not octal is refused', async () => {
  const dir = await tempDir();
  const src = path.join(dir, 'src.txt');
  await fs.writeFile(src, 'shared');
  await fs.mkdir(path.join(dir, 'served'));
  const s = await serve(['--root', path.join(dir, 'served'), '--user', 'erin:pw-erin-1', '--umask', '002'], dir);
  try {
    const up = await run('curl', ['-sS', '--max-time', '20', '--user', 'erin:pw-erin-1', '-T', src, '-Q', 'MKD team', `ftp://127.0.0.1:${s.port}/shared.txt`]);
    assert.equal(up.status, 0, up.stderr);
    assert.equal(await fs.readFile(path.join(dir, 'served', 'shared.txt'), 'utf8'), 'shared');
    assert.equal((await fs.stat(path.join(dir, 'served', 'shared.txt'))).mode & 0o777, 0o664);
    assert.equal((await fs.stat(path.join(dir, 'served', 'team'))).mode & 0o777, 0o775);
  } finally {
    s.proc.kill('SIGTERM');
    assert.equal(await exited(s.proc), 0);
  }
  await fs.writeFile(path.join(dir, 'bad.yaml'), 'umask: 022\n');
  for (const [args, message] of [
    [['--umask', '999'], /--umask wants octal digits like 022/],
    [['--umask', 'u=rwx'], /--umask wants octal digits like 022/],
    [['--config', path.join(dir, 'bad.yaml')], /'umask' must be an octal string like "022"/],
  ]) {
    const r = await run(process.execPath, [BIN, 'serve', '--port', '0', ...args]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, message);
  }
  await fs.rm(dir, { recursive: true, force: true });
});

test('--allow-from and --deny-from: lists of addresses and ranges, repeatable, comma-separated; a bad entry is named', async () => {
  const dir = await tempDir();
  const greet = async (port) => {
    const c = await RawClient.connect(port);
    try { return c.greeting.code; } finally { c.close(); }
  };
  const refused = await serve(['--root', dir, '--allow-from', '192.0.2.0/24,2001:db8::/32', '--allow-from', '10.9.8.7'], dir);
  try { assert.equal(await greet(refused.port), 421); } finally { refused.proc.kill('SIGTERM'); await exited(refused.proc); }
  const allowed = await serve(['--root', dir, '--allow-from', '192.0.2.0/24', '--allow-from', '127.0.0.0/8', '--deny-from', '127.0.0.9'], dir);
  try { assert.equal(await greet(allowed.port), 220); } finally { allowed.proc.kill('SIGTERM'); await exited(allowed.proc); }
  for (const [args, message] of [
    [['--allow-from', '10.0.0.0/8,300.1.1.1'], /--allow-from: '300.1.1.1' is not an IP address or CIDR range/],
    [['--deny-from', '::1/200'], /--deny-from: '::1\/200' needs a prefix length from 0 to 128/],
  ]) {
    const r = await run(process.execPath, [BIN, 'serve', '--port', '0', '--root', dir, ...args]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, message);
  }
  await fs.rm(dir, { recursive: true, force: true });
});

test('bad settings are refused with a clear message and exit code 1', async () => {
  const r1 = await run(process.execPath, [BIN, 'serve', '--port', '0', '--pasv-range', '10-5']);
  assert.equal(r1.status, 1);
  assert.match(r1.stderr, /invalid passive port range/);
  const r2 = await run(process.execPath, [BIN, 'serve', '--port', '0', '--root', '/no/such/folder']);
  assert.equal(r2.status, 1);
  assert.match(r2.stderr, /root folder not found/);
  const r3 = await run(process.execPath, [BIN, 'serve', '--port', '0', '--user', 'nopassword']);
  assert.equal(r3.status, 1);
  assert.match(r3.stderr, /--user wants NAME:PASSWORD/);
});

test('a changed users file takes effect without a restart; a broken edit keeps the old accounts', async () => {
  const dir = await tempDir();
  const entry = async (name, pw) => JSON.parse((await run(process.execPath, [BIN, 'passwd', name], { input: pw + '\n' })).text);
  const dave = await entry('dave', 'first');
  const usersFile = path.join(dir, 'users.json');
  await fs.writeFile(usersFile, JSON.stringify({ users: [dave] }));
  await fs.mkdir(path.join(dir, 'served'));
  const s = await serve(['--root', path.join(dir, 'served'), '--users', usersFile], dir);
  const login = (user, pw) => run('curl', ['-sS', '--max-time', '20', '--user', `${user}:${pw}`, `ftp://127.0.0.1:${s.port}/`]);
  const waitFor = async (user, pw, want) => {
    for (let i = 0; i < 40; i++) {
      if (((await login(user, pw)).status === 0) === want) return true;
      await new Promise((r) => setTimeout(r, 250));
    }
    return false;
  };
  try {
    assert.equal((await login('dave', 'first')).status, 0);
    assert.equal((await login('erin', 'second')).status, 67);
    await fs.writeFile(usersFile, JSON.stringify({ users: [dave, await entry('erin', 'second')] }));
    assert.ok(await waitFor('erin', 'second', true), 'erin can log in after the edit');
    await fs.writeFile(usersFile, '{ this is not json');
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal((await login('erin', 'second')).status, 0, 'a broken file keeps the previous accounts');
    assert.match(s.err(), /users file not reloaded/);
  } finally {
    s.proc.kill('SIGINT');
    assert.equal(await exited(s.proc), 0);
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('--run-as drops root privileges after binding the port', async (t) => {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) { t.skip('needs to run as root'); return; }
  const dir = await tempDir();
  await fs.chmod(dir, 0o755);
  await fs.writeFile(path.join(dir, 'hello.txt'), 'dropped');
  await fs.chmod(path.join(dir, 'hello.txt'), 0o644);
  const s = await serve(['--root', dir, '--run-as', 'nobody:nogroup', '--log-format', 'json'], dir);
  try {
    const status = await fs.readFile(`/proc/${s.proc.pid}/status`, 'utf8');
    const uid = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status);
    const nobody = (await run('id', ['-u', 'nobody'])).text.trim();
    assert.deepEqual(uid.slice(1), [nobody, nobody, nobody], 'real, effective and saved uid are nobody');
    const gid = /^Gid:\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status);
    const nogroup = (await run('getent', ['group', 'nogroup'])).text.split(':')[2];
    assert.deepEqual(gid.slice(1), [nogroup, nogroup, nogroup]);
    assert.equal(/^Groups:\s*(.*)$/m.exec(status)[1].trim(), nogroup, 'no supplementary group of root survives');
    const r = await run('curl', ['-sS', '--max-time', '20', `ftp://127.0.0.1:${s.port}/hello.txt`]);
    assert.equal(r.text, 'dropped', 'still serving after the drop');
    assert.match(s.err(), /dropped root privileges/);
  } finally {
    s.proc.kill('SIGINT');
    assert.equal(await exited(s.proc), 0);
    await fs.rm(dir, { recursive: true, force: true });
  }
});

/** The certificate a server presents after AUTH TLS. */
async function presentedCertificate(port) {
  const { default: net } = await import('node:net');
  const { default: tls } = await import('node:tls');
  const socket = net.connect(port, '127.0.0.1');
  let got = '';
  let asked = false;
  await new Promise((resolve, reject) => {
    socket.on('error', reject);
    socket.on('data', (d) => {
      got += d;
      if (/^220 /m.test(got) && !asked) { asked = true; socket.write('AUTH TLS\r\n'); }
      if (/^234 /m.test(got)) { socket.removeAllListeners('data'); resolve(); }
    });
  });
  const secure = tls.connect({ socket, rejectUnauthorized: false });
  await new Promise((resolve, reject) => { secure.once('secureConnect', resolve); secure.once('error', reject); });
  const cert = secure.getPeerCertificate();
  secure.destroy();
  return cert.serialNumber;
}

test('SIGHUP reloads the certificate; a broken file keeps the running one and names the file', async () => {
  const dir = await tempDir();
  const make = (name) => run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', '/CN=localhost'], { cwd: dir });
  await make('old');
  await make('new');
  await fs.copyFile(path.join(dir, 'old.pem'), path.join(dir, 'live.pem'));
  await fs.copyFile(path.join(dir, 'old.key'), path.join(dir, 'live.key'));
  await fs.mkdir(path.join(dir, 'served'));
  const s = await serve(['--root', path.join(dir, 'served'), '--tls-cert', 'live.pem', '--tls-key', 'live.key', '--log-format', 'json'], dir);
  const until = async (cond) => { for (let i = 0; i < 50 && !(await cond()); i++) await new Promise((r) => setTimeout(r, 100)); };
  try {
    const serial = async (name) => new (await import('node:crypto')).X509Certificate(await fs.readFile(path.join(dir, `${name}.pem`))).serialNumber;
    assert.equal(await presentedCertificate(s.port), await serial('old'));
    await fs.copyFile(path.join(dir, 'new.pem'), path.join(dir, 'live.pem'));
    await fs.copyFile(path.join(dir, 'new.key'), path.join(dir, 'live.key'));
    s.proc.kill('SIGHUP');
    await until(async () => (await presentedCertificate(s.port)) === await serial('new'));
    assert.equal(await presentedCertificate(s.port), await serial('new'), 'renewed certificate served');
    await fs.writeFile(path.join(dir, 'live.key'), 'not a key\n');
    s.proc.kill('SIGHUP');
    await until(() => s.err().includes('not reloaded'));
    const line = s.err().split('\n').find((l) => l.includes('not reloaded'));
    assert.match(line, /tls-key live\.key: not a PEM private key/);
    assert.doesNotMatch(s.err(), /\\n\s+at /, 'no stack trace');
    assert.equal(await presentedCertificate(s.port), await serial('new'), 'still serving the last good certificate');
  } finally {
    s.proc.kill('SIGTERM');
    assert.equal(await exited(s.proc), 0);
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('--tls-self-signed names an IP --pasv-address as an IP entry, which clients check', async () => {
  const { selfSignedCertificate } = await import('../../dist/server/certificates.js');
  const { X509Certificate } = await import('node:crypto');
  const cert = new X509Certificate((await selfSignedCertificate(['203.0.113.7', 'ftp.example.com'])).cert);
  assert.equal(cert.checkIP('203.0.113.7'), '203.0.113.7');
  assert.equal(cert.checkHost('ftp.example.com'), 'ftp.example.com');
});

test('wharf passwd on a terminal asks twice, echoes nothing, and refuses two different passwords', async () => {
  const PTY_DRIVE = fileURLToPath(new URL('../helpers/pty_drive.py', import.meta.url));
  const drive = (second) => run('python3', [PTY_DRIVE, JSON.stringify([
    { expect: 'Password for erin: ', send: 'Typed-Secret-1\r' }, { expect: 'Again: ', send: `${second}\r` },
  ]), '--', process.execPath, BIN, 'passwd', 'erin'], { timeout: 30_000 });
  const same = await drive('Typed-Secret-1');
  assert.equal(same.status, 0, same.text);
  assert.match(same.text, /"username":"erin","password":"scrypt\$/);
  assert.ok(!same.text.includes('Typed-Secret'), 'no echo');
  const typo = await drive('Typed-Secret-2');
  assert.equal(typo.status, 1);
  assert.match(typo.text, /the passwords differ/);
  assert.doesNotMatch(typo.text, /scrypt/);
});
