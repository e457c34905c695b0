// Start each benchmarked server on loopback over the same root: wharf, the Debian peers, ftp-srv.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPeer, availablePeers, PEER_USER, PEER_PASSWORD } from '../test/helpers/peers.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
export const WORK = path.join(REPO, 'bench/.work');
const USER = PEER_USER;
const PASSWORD = PEER_PASSWORD;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** Spawn a server and wait until `ready` matches its output; bounded by `timeoutMs`. */
function spawnServer(cmd, args, ready, { timeoutMs = 20_000, env } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`${cmd} did not start: ${out.slice(-2000)}`)); }, timeoutMs);
    const onData = (d) => {
      if (out.length < 100_000) out += d;
      const m = ready.exec(out);
      if (m) { clearTimeout(timer); resolve({ proc, match: m }); }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${cmd} exited ${code}: ${out.slice(-2000)}`)); });
  });
}

async function stopProc(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.removeAllListeners('exit');
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

async function startWharf(root, { tls }) {
  const args = [path.join(REPO, 'dist/cli/main.js'), 'serve', '--host', '127.0.0.1', '--port', '0', '--root', root,
    '--user', `${USER}:${PASSWORD}`, '--max-sessions', '20000', '--max-sessions-per-address', '20000', '--log-level', 'warn',
    '--log-format', 'json'];
  if (tls) args.push('--tls-self-signed');
  const { proc, match } = await spawnServer(process.execPath, args, /ftpe?s?:\/\/127\.0\.0\.1:(\d+)\//);
  return { name: 'wharf', port: Number(match[1]), user: USER, password: PASSWORD, pid: proc.pid, stop: () => stopProc(proc) };
}

const FTP_SRV_SCRIPT = `
const path = require('node:path');
const { FtpSrv } = require('ftp-srv');
const bunyan = require('bunyan');
const [port, root, user, password, certFile, keyFile] = process.argv.slice(2);
const fs = require('node:fs');
const tls = certFile ? { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) } : false;
const srv = new FtpSrv({
  url: 'ftp://127.0.0.1:' + port, pasv_url: '127.0.0.1', pasv_min: 63000, pasv_max: 63500, anonymous: false,
  greeting: 'ftp-srv bench', tls, log: bunyan.createLogger({ name: 'ftp-srv', level: 'fatal' }),
});
srv.on('login', ({ username, password: pw }, resolve, reject) => {
  if (username === user && pw === password) resolve({ root }); else reject(new Error('bad login'));
});
srv.on('client-error', () => {});
srv.listen().then(() => console.log('READY ' + port));
`;

async function startFtpSrv(root, { tls }) {
  const dir = path.join(WORK, 'node_modules/ftp-srv');
  if (!existsSync(dir)) throw new Error('ftp-srv not installed (npm run bench installs it into bench/.work)');
  const script = path.join(WORK, 'ftp-srv-bench.cjs');
  await fs.writeFile(script, FTP_SRV_SCRIPT);
  const port = await freePort();
  const args = [script, String(port), root, USER, PASSWORD];
  if (tls) {
    const cert = path.join(WORK, 'cert.pem'), key = path.join(WORK, 'key.pem');
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`);
    args.push(cert, key);
  }
  const { proc } = await spawnServer(process.execPath, args, /READY \d+/);
  return { name: 'ftp-srv', port, user: USER, password: PASSWORD, pid: proc.pid, stop: () => stopProc(proc) };
}

/** Which servers can run here, in table order. */
export async function installedServers() {
  const peers = await availablePeers();
  const names = ['wharf', ...peers];
  if (existsSync(path.join(WORK, 'node_modules/ftp-srv'))) names.push('ftp-srv');
  return names;
}

/** Start `name` serving `root`; resolves to { name, port, user, password, pid, stop }. */
export async function startServer(name, root, { tls = false, maxSessions = 20000 } = {}) {
  if (name === 'wharf') return startWharf(root, { tls });
  if (name === 'ftp-srv') return startFtpSrv(root, { tls });
  const peer = await startPeer(name, { tls, root, maxSessions, passivePorts: 500 });
  return { name, port: peer.port, user: peer.user, password: peer.password, pid: peer.pid, stop: () => peer.stop() };
}

/** Versions for the table's footnote. */
export function versions() {
  const deb = (pkg) => {
    const r = spawnSync('sh', ['-c', `ls ${path.join(REPO, '.peers/debs')} 2>/dev/null | grep '^${pkg}_' | head -1`], { encoding: 'utf8' });
    return r.stdout.trim().split('_')[1] ?? '?';
  };
  let ftpSrv = '?';
  try { ftpSrv = JSON.parse(spawnSync('cat', [path.join(WORK, 'node_modules/ftp-srv/package.json')], { encoding: 'utf8' }).stdout).version; } catch { /* not installed */ }
  const py = spawnSync('/usr/bin/python3', ['-c', 'import pyftpdlib; print(pyftpdlib.__ver__)'], { encoding: 'utf8' }).stdout.trim();
  return { vsftpd: deb('vsftpd'), 'pure-ftpd': deb('pure-ftpd'), proftpd: deb('proftpd-core'), pyftpdlib: py || '?', 'ftp-srv': ftpSrv, node: process.version };
}
