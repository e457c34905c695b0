// `wharf serve` settings and start-up mistakes as an operator makes them: each told by name, exit 1, no stack trace, no password.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { validateSettings, loadConfigFile } from '../../dist/cli/serve-config.js';
import { run } from '../helpers/run.js';
import { BIN } from '../helpers/serve-cli.js';

/** `wharf serve ARGS`, which must refuse to start: its status and stderr (a start that hangs is killed and fails). */
async function refused(args, { cwd, uid } = {}) {
  const cmd = uid === undefined ? process.execPath : 'setpriv';
  const argv = uid === undefined ? [BIN, 'serve', ...args] : [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', process.execPath, BIN, 'serve', ...args];
  const r = await run(cmd, argv, { cwd, timeout: 15_000 });
  assert.notEqual(r.status, null, `still running after 15 s (killed): ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  return r;
}

async function tempDir() {
  return fs.mkdtemp(path.join(os.tmpdir(), 'wharf-cfg-'));
}

test('settings: each type, range and choice is checked, and named as written', () => {
  assert.throws(() => validateSettings({ 'log-format': 'xml' }, 'w.yaml'), /w\.yaml: 'log-format' must be json, pretty/);
  assert.throws(() => validateSettings({ logLevel: 'verbose' }, 'w.yaml'), /'logLevel' must be debug, info, warn, error/);
  assert.throws(() => validateSettings({ 'implicit-tls-port': 70000 }, 'w.yaml'), /'implicit-tls-port' must be a whole number from 0 to 65535/);
  assert.throws(() => validateSettings({ 'max-sessions': 0 }, 'w.yaml'), /'max-sessions' must be a whole number from 1 up/, '0 would refuse everyone');
  assert.throws(() => validateSettings({ 'idle-timeout': 0 }, 'w.yaml'), /'idle-timeout' must be a whole number from 1 up/, '0 silently meant 300');
  assert.throws(() => validateSettings({ 'idle-timeout': 1.5 }, 'w.yaml'), /whole number/);
  assert.throws(() => validateSettings({ 'pasv-range': 50000 }, 'w.yaml'), /'pasv-range' must be a string like 50000-50100/);
  assert.throws(() => validateSettings({ port: NaN }, 'command line'), /command line: --port must be a whole number from 0 to 65535/);
  assert.throws(() => validateSettings({ prot: 21 }, 'w.yaml'), /unknown setting 'prot'/);
  assert.deepEqual(validateSettings({ 'max-sessions-per-address': 0, 'ban-after': 0, port: 0 }, 'w.yaml'),
    { maxSessionsPerAddress: 0, banAfter: 0, port: 0 });
});

test('config file: paths are relative to the file, as homes in a users file are', async () => {
  const dir = await tempDir();
  try {
    const file = path.join(dir, 'wharf.yaml');
    await fs.writeFile(file, 'root: ftp\nusers: users.yaml\ntls-cert: /etc/ssl/x.pem\ntls-key: key.pem\nanonymous-root: pub\n');
    assert.deepEqual(await loadConfigFile(file), {
      root: path.join(dir, 'ftp'), users: path.join(dir, 'users.yaml'), tlsCert: '/etc/ssl/x.pem',
      tlsKey: path.join(dir, 'key.pem'), anonymousRoot: path.join(dir, 'pub'),
    });
    await assert.rejects(loadConfigFile(path.join(dir, 'none.yaml')), /config file .*none\.yaml: no such file/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a config file that does not parse names the file and line, never quoting it (it may hold a password)', async () => {
  const dir = await tempDir();
  try {
    await fs.writeFile(path.join(dir, 'w.yaml'), 'port: 0\nuser: ["bob:Yaml-Secret-5"\nroot: /tmp\n');
    await fs.writeFile(path.join(dir, 'w.json'), '{"port": 0, "user": ["bob:Json-Secret-6" "x"]}');
    for (const name of ['w.yaml', 'w.json']) {
      const r = await refused(['--config', path.join(dir, name)]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, new RegExp(`${name}: not valid (YAML|JSON) at line \\d+, column \\d+`));
      assert.doesNotMatch(r.stderr, /Secret/);
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('TLS mistakes: missing, swapped or mismatched files, and TLS settings without a certificate', async () => {
  const dir = await tempDir();
  try {
    const pem = (args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] });
    pem(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'a.key', '-out', 'a.pem', '-days', '2', '-subj', '/CN=localhost']);
    pem(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'b.key']);
    const cases = [
      [['--tls-cert', 'none.pem', '--tls-key', 'a.key'], /tls-cert none\.pem: no such file/],
      [['--tls-cert', 'a.key', '--tls-key', 'a.pem'], /tls-cert a\.key: not a PEM certificate/],
      [['--tls-cert', 'a.pem', '--tls-key', 'a.pem'], /tls-key a\.pem: not a PEM private key/],
      [['--tls-cert', 'a.pem', '--tls-key', 'b.key'], /tls-key b\.key is not the key of the certificate in tls-cert a\.pem/],
      [['--tls-cert', 'a.pem'], /--tls-cert and --tls-key go together/],
      [['--require-tls'], /--require-tls needs a certificate: --tls-cert FILE --tls-key FILE/],
      [['--implicit-tls-port', '0'], /--implicit-tls-port needs a certificate/],
    ];
    for (const [args, want] of cases) {
      const r = await refused(['--port', '0', '--root', dir, ...args], { cwd: dir });
      assert.equal(r.status, 1, args.join(' '));
      assert.match(r.stderr, want);
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a port in use, on the implicit-TLS port too, stops the start with the address named', async () => {
  const busy = net.createServer();
  await new Promise((r) => busy.listen(0, '127.0.0.1', r));
  const port = busy.address().port;
  try {
    const plain = await refused(['--port', String(port)]);
    assert.equal(plain.status, 1);
    assert.match(plain.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use`));
    // The control port was bound first: the process must not stay up serving it alone.
    const implicit = await refused(['--port', '0', '--tls-self-signed', '--implicit-tls-port', String(port)]);
    assert.equal(implicit.status, 1);
    assert.match(implicit.stderr, /the port is in use/);
    const host = await refused(['--port', '0', '--pasv-address', 'no-such-host.invalid']);
    assert.equal(host.status, 1);
    assert.match(host.stderr, /--pasv-address no-such-host\.invalid: host name not found/);
  } finally {
    busy.close();
  }
});

test('as a non-root user: port 21 and an unreadable root folder are refused at start (needs root to switch user)', async (t) => {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) { t.skip('needs to run as root'); return; }
  const nobody = (await run('id', ['-u', 'nobody'])).text.trim();
  // A checkout in a private folder (mktemp -d makes them 0700) cannot be run by nobody at all.
  const probe = await run('setpriv', [`--reuid=${nobody}`, `--regid=${nobody}`, '--clear-groups', process.execPath, BIN, '--version'], { cwd: os.tmpdir(), timeout: 15_000 });
  if (probe.status !== 0) { t.skip(`user nobody cannot run this checkout's build (${probe.stderr.split('\n')[0]})`); return; }
  const low = await refused(['--port', '21'], { uid: nobody, cwd: os.tmpdir() });
  assert.equal(low.status, 1);
  assert.match(low.stderr, /cannot listen on 127\.0\.0\.1:21: ports below 1024 need root or CAP_NET_BIND_SERVICE/);
  const dir = await tempDir();
  try {
    await fs.chmod(dir, 0o700);
    const r = await refused(['--port', '0', '--root', dir], { uid: nobody, cwd: os.tmpdir() });
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`root folder ${dir} is not readable by the user wharf runs as \\(uid ${nobody}\\)`));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('--run-as: a root folder the user cannot read, or an unknown user, stops the start (needs root)', async (t) => {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) { t.skip('needs to run as root'); return; }
  const dir = await tempDir();
  try {
    await fs.chmod(dir, 0o700);
    // The folder is checked after --run-as drops to nobody.
    const dropped = await refused(['--port', '0', '--root', dir, '--run-as', 'nobody']);
    assert.equal(dropped.status, 1);
    assert.match(dropped.stderr, /is not readable by the user wharf runs as/);
    const unknown = await refused(['--port', '0', '--root', dir, '--run-as', 'no-such-user-wharf']);
    assert.equal(unknown.status, 1, 'an unknown --run-as user stops the start instead of serving as root');
    assert.match(unknown.stderr, /unknown user no-such-user-wharf/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a TLS key, users file or config file inside a served folder stops the start: clients could download or rewrite it', async () => {
  // `wharf serve --tls-cert c.pem --tls-key k.pem` in the folder holding them served the private
  // key to anonymous users; a users file there could be rewritten by any user who may upload.
  const dir = await tempDir();
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '2', '-subj', '/CN=localhost'],
      { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] });
    const hash = JSON.parse((await run(process.execPath, [BIN, 'passwd', 'carol'], { input: 'pw\n' })).text);
    await fs.writeFile(path.join(dir, 'users.json'), JSON.stringify({ users: [hash] }));
    await fs.mkdir(path.join(dir, 'pub'));
    await fs.writeFile(path.join(dir, 'wharf.yaml'), 'user: ["ops:secret"]\n');
    await fs.mkdir(path.join(dir, 'carol'));
    await fs.writeFile(path.join(dir, 'carol', 'users.json'), JSON.stringify({ users: [{ ...hash, home: '.' }] }));
    await fs.writeFile(path.join(dir, 'homes.json'), JSON.stringify({ users: [{ ...hash, home: '.' }] }));
    const cases = [
      [['--tls-cert', 'c.pem', '--tls-key', 'k.pem'], /--tls-key k\.pem is inside the served folder/],
      [['--root', '.', '--users', 'users.json'], /--users users\.json is inside the served folder/],
      [['--root', 'pub', '--anonymous', '--anonymous-root', '.', '--users', 'users.json'], /--users users\.json is inside the served folder/],
      [['--config', 'wharf.yaml', '--root', '.'], /--config wharf\.yaml is inside the served folder/],
      // A home the users file gives is served too: there carol could rewrite the file, or fetch the key.
      [['--root', 'pub', '--users', 'carol/users.json'], /--users carol\/users\.json is inside the served folder .*carol/],
      [['--root', 'pub', '--users', 'homes.json', '--tls-cert', 'c.pem', '--tls-key', 'k.pem'], /--tls-key k\.pem is inside the served folder/],
    ];
    for (const [args, want] of cases) {
      const r = await refused(['--port', '0', ...args], { cwd: dir });
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, want);
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
