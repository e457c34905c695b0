// Real FTP servers for interop tests and benchmarks: vsftpd, Pure-FTPd, ProFTPD, pyftpdlib, on loopback.
// Each runs in the foreground from .peers/ (unpacked by .ci/install-peers.sh) with a generated
// config in a temporary folder, serving a fresh temporary root that tests can inspect on disk.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const PEERS = path.join(REPO, '.peers');
export const peerNames = ['vsftpd', 'pure-ftpd', 'proftpd', 'pyftpdlib'];
/** Servers started per connection, as inetd would: GNU inetutils ftpd and netkit ftpd (ftpd-ssl). */
export const inetdPeerNames = ['inetutils-ftpd', 'netkit-ftpd'];

/** The system account the C servers log in as (they need a real uid); created on first use. */
export const PEER_USER = 'wharftest';
export const PEER_PASSWORD = 'peer-Pass-42';
const SYSTEM_PYTHON = '/usr/bin/python3';

export class PeerUnavailableError extends Error {}

const binaries = {
  vsftpd: path.join(PEERS, 'vsftpd/usr/sbin/vsftpd'),
  'pure-ftpd': path.join(PEERS, 'pure-ftpd/usr/sbin/pure-ftpd'),
  proftpd: path.join(PEERS, 'proftpd-core/usr/sbin/proftpd'),
  'inetutils-ftpd': path.join(PEERS, 'inetutils-ftpd/usr/sbin/ftpd'),
  'netkit-ftpd': path.join(PEERS, 'ftpd-ssl/usr/sbin/in.ftpd'),
};

/**
 * A configuration's lines: the defaults less those starting with one of `drop`, then `extra`
 * (vsftpd and ProFTPD take the last of a repeated setting).
 */
function edit(lines, { drop = [], extra = [] } = {}) {
  return [...lines.filter((l) => !drop.some((d) => l.startsWith(d))), ...extra];
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** A window of `count` free ports for passive mode, probed one by one (bounded attempts). */
async function freeRange(count) {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Above Linux's ephemeral ports (32768-60999), where client sockets and port-0 listeners
    // of tests running alongside cannot take a port of the range (ProFTPD once answered an EPSV
    // with "425 Address already in use" when its range sat among them).
    const start = 61000 + Math.floor(Math.random() * (65535 - 61000 - count));
    const servers = [];
    let ok = true;
    for (let p = start; p < start + count && ok; p++) {
      const s = net.createServer();
      ok = await new Promise((res) => { s.once('error', () => res(false)); s.listen(p, '127.0.0.1', () => res(true)); });
      servers.push(s);
    }
    await Promise.all(servers.map((s) => new Promise((r) => (s.listening ? s.close(r) : r()))));
    if (ok) return [start, start + count - 1];
  }
  throw new Error('no free passive port range');
}

let accountReady;
/** Create the system user once; its password is fixed so every peer can check it. */
function ensureAccount() {
  accountReady ??= (async () => {
    if (typeof process.getuid !== 'function' || process.getuid() !== 0) throw new PeerUnavailableError('peer servers need root (to bind, switch users and read /etc/shadow)');
    if (spawnSync('id', [PEER_USER]).status !== 0) {
      const r = spawnSync('useradd', ['--no-create-home', '--home-dir', '/tmp', '--shell', '/bin/bash', PEER_USER], { encoding: 'utf8' });
      if (r.status !== 0) throw new PeerUnavailableError(`useradd failed: ${r.stderr}`);
    }
    // SHA-512 crypt like the other peers' hashes: Debian's default yescrypt costs vsftpd ~25 ms per login.
    const r = spawnSync('chpasswd', ['-c', 'SHA512'], { input: `${PEER_USER}:${PEER_PASSWORD}\n`, encoding: 'utf8' });
    if (r.status !== 0) throw new PeerUnavailableError(`chpasswd failed: ${r.stderr}`);
    // vsftpd authenticates through PAM: a service file of our own, plain pam_unix.
    await fs.writeFile('/etc/pam.d/wharf-peer', 'auth required pam_unix.so\naccount required pam_unix.so\nsession required pam_unix.so\n');
    const uid = Number(spawnSync('id', ['-u', PEER_USER], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', PEER_USER], { encoding: 'utf8' }).stdout.trim());
    return { uid, gid };
  })();
  return accountReady;
}

async function selfSigned(dir) {
  const cert = path.join(dir, 'cert.pem'), key = path.join(dir, 'key.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`);
  return { cert, key };
}

/** Wait for the 220 greeting: bounded tries, each with its own socket timeout. */
async function waitForBanner(port, proc, output, timeoutMs = 10_000, implicitTls = false) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`exited with ${proc.exitCode}: ${output()}`);
    const banner = await new Promise((resolve) => {
      // Implicit FTPS (vsftpd's implicit_ssl) greets only inside TLS.
      const s = implicitTls ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }) : net.connect({ port, host: '127.0.0.1' });
      let text = '';
      s.setTimeout(1000, () => { s.destroy(); resolve(''); });
      s.on('data', (d) => { text += d; if (text.includes('\n')) { s.destroy(); resolve(text); } });
      s.on('error', () => resolve(''));
    });
    if (banner.startsWith('220')) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no 220 banner on port ${port} within ${timeoutMs} ms: ${output()}`);
}

const configs = {
  async vsftpd({ dir, root, port, range, tls, account, config }) {
    const empty = path.join(dir, 'empty');
    await fs.mkdir(empty, { mode: 0o755 });
    const lines = [
      'listen=YES', 'listen_ipv6=NO', 'listen_address=127.0.0.1', `listen_port=${port}`, 'background=NO',
      'anonymous_enable=NO', 'local_enable=YES', 'write_enable=YES', 'local_umask=022', `local_root=${root}`,
      'chroot_local_user=YES', 'allow_writeable_chroot=YES', `secure_chroot_dir=${empty}`, 'pam_service_name=wharf-peer',
      'seccomp_sandbox=NO', 'isolate=NO', 'isolate_network=NO', 'userlist_enable=NO', 'tcp_wrappers=NO',
      `pasv_min_port=${range[0]}`, `pasv_max_port=${range[1]}`, 'pasv_address=127.0.0.1', 'utf8_filesystem=YES',
      'xferlog_enable=NO', 'dirmessage_enable=NO', 'use_localtime=NO', 'max_per_ip=0', 'max_clients=0',
      `vsftpd_log_file=${path.join(dir, 'vsftpd.log')}`, 'nopriv_user=nobody',
    ];
    if (tls) {
      lines.push('ssl_enable=YES', `rsa_cert_file=${tls.cert}`, `rsa_private_key_file=${tls.key}`, 'require_ssl_reuse=YES',
        'force_local_data_ssl=YES', 'force_local_logins_ssl=YES', 'ssl_tlsv1=NO', 'ssl_sslv2=NO', 'ssl_sslv3=NO', 'ssl_ciphers=HIGH');
    }
    const conf = path.join(dir, 'vsftpd.conf');
    await fs.writeFile(conf, edit(lines, config).join('\n') + '\n');
    void account;
    return { cmd: binaries.vsftpd, args: [conf] };
  },

  async 'pure-ftpd'({ dir, root, port, range, tls, account, maxSessions, config }) {
    const pw = path.join(PEERS, 'pure-ftpd/usr/bin/pure-pw');
    const passwd = path.join(dir, 'pureftpd.passwd'), pdb = path.join(dir, 'pureftpd.pdb');
    const r = spawnSync(pw, ['useradd', PEER_USER, '-u', String(account.uid), '-g', String(account.gid), '-d', root, '-f', passwd, '-m', '-F', pdb],
      { input: `${PEER_PASSWORD}\n${PEER_PASSWORD}\n`, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`pure-pw: ${r.stderr}`);
    // pure-pw hashes with argon2id at ~2 s per login; a SHA-512 crypt hash (what the other peers
    // use) keeps logins fast and comparable across servers.
    const sha = spawnSync('openssl', ['passwd', '-6', PEER_PASSWORD], { encoding: 'utf8' }).stdout.trim();
    const line = (await fs.readFile(passwd, 'utf8')).trim().split(':');
    line[1] = sha;
    await fs.writeFile(passwd, line.join(':') + '\n');
    const mk = spawnSync(pw, ['mkdb', pdb, '-f', passwd], { encoding: 'utf8' });
    if (mk.status !== 0) throw new Error(`pure-pw mkdb: ${mk.stderr}`);
    const args = ['-S', `127.0.0.1,${port}`, '-l', `puredb:${pdb}`, '-E', '-p', `${range[0]}:${range[1]}`, '-P', '127.0.0.1',
      '-A', '-H', '-c', String(maxSessions), '-C', String(maxSessions), '-O', `clf:${path.join(dir, 'xfer.log')}`];
    if (tls) {
      const pem = path.join(dir, 'pure-ftpd.pem');
      await fs.writeFile(pem, (await fs.readFile(tls.key, 'utf8')) + (await fs.readFile(tls.cert, 'utf8')));
      args.push('-Y', String(config?.tlsLevel ?? 2), '-2', pem);
    }
    return { cmd: binaries['pure-ftpd'], args: [...args, ...(config?.extra ?? [])] };
  },

  async proftpd({ dir, root, port, range, tls, account, maxSessions, config }) {
    const hash = spawnSync('openssl', ['passwd', '-6', PEER_PASSWORD], { encoding: 'utf8' }).stdout.trim();
    const users = path.join(dir, 'ftpd.passwd');
    await fs.writeFile(users, `${PEER_USER}:${hash}:${account.uid}:${account.gid}::${root}:/bin/bash\n`, { mode: 0o600 });
    const lines = [
      'ServerType standalone', 'ServerName "proftpd peer"', 'DefaultAddress 127.0.0.1', `Port ${port}`, 'UseIPv6 off',
      'User nobody', 'Group nogroup', `PidFile ${path.join(dir, 'proftpd.pid')}`, `ScoreboardFile ${path.join(dir, 'scoreboard')}`,
      `DelayTable ${path.join(dir, 'delay')}`, 'WtmpLog off', 'UseReverseDNS off', `MaxInstances ${maxSessions}`,
      `SystemLog ${path.join(dir, 'system.log')}`, 'TransferLog none', `PassivePorts ${range[0]} ${range[1]}`,
      'MasqueradeAddress 127.0.0.1', 'RequireValidShell off', `AuthUserFile ${users}`, 'AuthOrder mod_auth_file.c',
      'DefaultRoot ~', 'AllowOverwrite on', 'AllowRetrieveRestart on', 'AllowStoreRestart on', 'UseEncoding UTF-8 UTF-8',
      'TimeoutNoTransfer 600', 'TimeoutIdle 600', '<Limit SITE_CHMOD>', '  AllowAll', '</Limit>',
    ];
    if (tls) {
      lines.push(`ModulePath ${path.join(PEERS, 'proftpd-core/usr/lib/proftpd')}`, 'LoadModule mod_tls.c', '<IfModule mod_tls.c>',
        'TLSEngine on', 'TLSRequired on', `TLSRSACertificateFile ${tls.cert}`, `TLSRSACertificateKeyFile ${tls.key}`,
        'TLSProtocol TLSv1.2 TLSv1.3', 'TLSVerifyClient off', 'TLSOptions NoSessionReuseRequired', `TLSLog ${path.join(dir, 'tls.log')}`, '</IfModule>');
    }
    const conf = path.join(dir, 'proftpd.conf');
    await fs.writeFile(conf, edit(lines, config).join('\n') + '\n');
    return { cmd: binaries.proftpd, args: ['--nodaemon', '-c', conf, '-q'] };
  },

  async pyftpdlib({ dir, root, port, range, tls, maxSessions, config }) {
    const script = path.join(dir, 'serve.py');
    await fs.writeFile(script, `
import sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.servers import FTPServer
from pyftpdlib import handlers
auth = DummyAuthorizer()
auth.add_user(${JSON.stringify(PEER_USER)}, ${JSON.stringify(PEER_PASSWORD)}, ${JSON.stringify(root)}, perm='elradfmwMT')
tls = ${tls ? 'True' : 'False'}
h = handlers.TLS_FTPHandler if tls else handlers.FTPHandler
if tls:
    h.certfile = ${JSON.stringify(tls?.cert ?? '')}
    h.keyfile = ${JSON.stringify(tls?.key ?? '')}
    h.tls_control_required = True
    h.tls_data_required = True
h.authorizer = auth
h.passive_ports = range(${range[0]}, ${range[1] + 1})
h.masquerade_address = '127.0.0.1'
h.permit_foreign_addresses = False
${(config?.extra ?? []).join('\n')}
srv = FTPServer(('127.0.0.1', ${port}), h)
srv.max_cons = ${maxSessions}
srv.max_cons_per_ip = ${maxSessions}
srv.serve_forever()
`);
    return { cmd: SYSTEM_PYTHON, args: [script] };
  },
};

/**
 * inetd for one server: a loopback listener that runs `cmd` once per connection with the
 * connection as its stdin and stdout (what inetd does; these servers' own daemon modes bind port
 * 21). The children run as root until login, as under inetd.
 */
async function inetd(port, cmd, args) {
  const children = new Set();
  let output = '';
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    const child = spawn(cmd, args, { stdio: [socket, socket, 'pipe'] });
    children.add(child);
    child.stderr.on('data', (d) => { if (output.length < 20_000) output += d; });
    child.on('error', (err) => { output += `${err.message}\n`; });
    child.on('exit', () => children.delete(child));
    // The child holds its own copy of the connection; ours would only keep it open.
    socket.destroy();
  });
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', resolve); });
  return {
    output: () => output,
    async stop() {
      await new Promise((r) => server.close(r));
      await Promise.all([...children].map((c) => new Promise((resolve) => {
        if (c.exitCode !== null || c.signalCode !== null) { resolve(); return; }
        const t = setTimeout(() => c.kill('SIGKILL'), 3000);
        c.once('exit', () => { clearTimeout(t); resolve(); });
        c.kill('SIGTERM');
      })));
    },
  };
}

const inetdArgs = {
  // Its default authentication reads /etc/shadow.
  'inetutils-ftpd': () => [],
  // netkit ftpd with SSL: AUTH TLS when the client asks for it, plain otherwise.
  'netkit-ftpd': (tls) => (tls ? ['-z', 'ssl', '-z', `cert=${tls.cert}`, '-z', `key=${tls.key}`] : ['-z', 'nossl']),
};

/**
 * GNU inetutils ftpd and netkit ftpd have no settings for a root or passive ports: they serve the
 * whole file system to the peer account (home /tmp, no chroot). `cwd` in the result is the test's
 * root, to CWD into after login; netkit authenticates through PAM service "ftp", whose file the
 * ftpd-ssl package ships: copied to /etc/pam.d when the system has none.
 */
async function startInetdPeer(name, opts) {
  const account = await ensureAccount();
  if (name === 'netkit-ftpd' && !existsSync('/etc/pam.d/ftp')) {
    // The package's own file (pam_ftp first, then Debian's common-auth): with plain pam_unix,
    // netkit ftpd refuses the USER itself ("550 Authentication failure").
    await fs.copyFile(path.join(PEERS, 'ftpd-ssl/etc/pam.d/ftp'), '/etc/pam.d/ftp');
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `wharf-peer-${name}-`));
  await fs.chmod(dir, 0o755);
  const root = path.join(dir, 'root');
  await fs.mkdir(root);
  await fs.chown(root, account.uid, account.gid);
  const tls = opts.tls ? await selfSigned(dir) : undefined;
  if (tls) await fs.chmod(tls.key, 0o600);
  const port = await freePort();
  const d = await inetd(port, binaries[name], inetdArgs[name](tls));
  const stop = async () => { await d.stop(); await fs.rm(dir, { recursive: true, force: true }); };
  try {
    await waitForBanner(port, { exitCode: null }, d.output);
  } catch (err) {
    await stop();
    throw new Error(`${name} did not start: ${err.message}`);
  }
  return { name, host: '127.0.0.1', port, user: PEER_USER, password: PEER_PASSWORD, root, cwd: root, tls: !!tls, dir, stop };
}

function available(name) {
  if (name === 'pyftpdlib') {
    if (!existsSync(SYSTEM_PYTHON)) return 'Debian python3 not installed';
    const r = spawnSync(SYSTEM_PYTHON, ['-c', 'import pyftpdlib'], { encoding: 'utf8' });
    return r.status === 0 ? undefined : 'python3-pyftpdlib not installed (run .ci/install-peers.sh)';
  }
  if (name === 'proftpd') return existsSync(binaries.proftpd) ? undefined : 'proftpd not unpacked (run .ci/install-peers.sh)';
  if (!binaries[name]) return `unknown peer ${name}`;
  return existsSync(binaries[name]) ? undefined : `${name} not unpacked (run .ci/install-peers.sh)`;
}

export async function availablePeers() {
  return peerNames.filter((n) => !available(n));
}

/**
 * Start a peer. Resolves to { name, host, port, user, password, root, tls, stop() } once it
 * answers with 220; throws PeerUnavailableError when it is not installed here.
 */
export async function startPeer(name, opts = {}) {
  const missing = available(name);
  if (missing) throw new PeerUnavailableError(missing);
  if (inetdPeerNames.includes(name)) return startInetdPeer(name, opts);
  const needsAccount = name !== 'pyftpdlib';
  const account = needsAccount ? await ensureAccount() : undefined;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `wharf-peer-${name}-`));
  const root = opts.root ?? path.join(dir, 'root');
  await fs.mkdir(root, { recursive: true });
  if (account) {
    await fs.chmod(dir, 0o755);
    if (!opts.root) await fs.chown(root, account.uid, account.gid);
  }
  const tls = opts.tls ? await selfSigned(dir) : undefined;
  const port = await freePort();
  // 100 passive ports: every data connection a server closes holds its port in TIME_WAIT for a
  // minute, and ProFTPD cannot bind such a port again; with 20, the interop suite's many
  // transfers used them all up and ProFTPD answered an EPSV with "425 Address already in use".
  const range = await freeRange(opts.passivePorts ?? 100);
  const maxSessions = opts.maxSessions ?? 2000;
  const { cmd, args } = await configs[name]({ dir, root, port, range, tls, account, maxSessions, config: opts.config });
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => { if (out.length < 20_000) out += d; });
  proc.stderr.on('data', (d) => { if (out.length < 20_000) out += d; });
  const stop = async () => {
    if (proc.exitCode === null) {
      proc.kill('SIGTERM');
      const exited = new Promise((r) => proc.once('exit', r));
      const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    }
    await fs.rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForBanner(port, proc, () => out, 10_000, opts.implicitTls === true);
  } catch (err) {
    await stop();
    throw new Error(`${name} did not start: ${err.message}`);
  }
  return { name, host: '127.0.0.1', port, user: PEER_USER, password: PEER_PASSWORD, root, tls: !!tls, dir, pid: proc.pid, stop };
}
