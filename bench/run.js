// `npm run bench`: the same workloads against wharf and every peer installed, one table, JSON out.
// Usage: node bench/run.js [--quick] [--servers wharf,vsftpd,...] [--only retr,stor,...] [--no-setup]
//        [--size MiB] [--files N] [--logins N] [--idle N] [--idle-big N] [--entries N] [--par-size MiB]
//        [--client] [--no-client]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { installedServers, startServer, versions, WORK } from './servers.js';
import * as w from './workloads.js';
import { clientBench } from './client-bench.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const value = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
const quick = flag('quick');
const MiB = 1024 * 1024;
const P = {
  size: Number(value('size', quick ? 128 : 1024)) * MiB,
  tlsSize: Number(value('tls-size', quick ? 128 : 512)) * MiB,
  files: Number(value('files', quick ? 500 : 2000)),
  logins: Number(value('logins', quick ? 300 : 1000)),
  idle: Number(value('idle', quick ? 300 : 1000)),
  idleBig: Number(value('idle-big', quick ? 0 : 10000)),
  entries: Number(value('entries', 10000)),
  parSize: Number(value('par-size', quick ? 32 : 256)) * MiB,
  repeats: quick ? 2 : 3,
};
const ALL = ['retr', 'stor', 'small', 'logins', 'idle', 'list', 'mlsd', 'par', 'tls-retr', 'tls-stor'];
const only = new Set((value('only', '') || ALL.join(',')).split(','));

function setup() {
  if (flag('no-setup')) return;
  if (!fs.existsSync(path.join(REPO, '.peers/vsftpd')) && process.getuid?.() === 0) {
    console.error('setting up: installing peer servers (.ci/install-peers.sh) ...');
    const r = spawnSync('bash', [path.join(REPO, '.ci/install-peers.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) console.error('  peer install failed: benchmarking what is there');
  }
  const need = ['ftp-srv', 'basic-ftp'].filter((m) => !fs.existsSync(path.join(WORK, 'node_modules', m)));
  if (need.length) {
    console.error(`setting up: npm install ${need.join(' ')} into bench/.work ...`);
    fs.mkdirSync(WORK, { recursive: true });
    if (!fs.existsSync(path.join(WORK, 'package.json'))) fs.writeFileSync(path.join(WORK, 'package.json'), '{ "private": true }\n');
    const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', 'ftp-srv@4', 'basic-ftp@5'], { cwd: WORK, stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) console.error('  npm install failed: ftp-srv and basic-ftp left out');
  }
}

/** The files every server serves: one tree on tmpfs, owned by the peers' account. */
function prepareRoot() {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const root = path.join(base, 'wharf-bench/root');
  fs.rmSync(path.dirname(root), { recursive: true, force: true });
  fs.mkdirSync(path.join(root, 'small'), { recursive: true });
  fs.mkdirSync(path.join(root, 'list10k'));
  fs.mkdirSync(path.join(root, 'upload'));
  const block = Buffer.alloc(MiB);
  for (let i = 0; i < block.length; i += 4) block.writeUInt32LE((i * 2654435761) >>> 0, i);
  const writeBig = (file, size) => {
    const fd = fs.openSync(file, 'w');
    for (let off = 0; off < size; off += block.length) fs.writeSync(fd, block, 0, Math.min(block.length, size - off));
    fs.closeSync(fd);
  };
  writeBig(path.join(root, 'big.bin'), P.size);
  writeBig(path.join(root, 'tls.bin'), P.tlsSize);
  writeBig(path.join(root, 'par.bin'), P.parSize);
  const small = block.subarray(0, 4096);
  for (let i = 0; i < P.files; i++) fs.writeFileSync(path.join(root, `small/f${i}.bin`), small);
  for (let i = 0; i < P.entries; i++) fs.writeFileSync(path.join(root, `list10k/entry-${String(i).padStart(5, '0')}.dat`), 'x');
  // The C servers switch to the peer account: let it read everything and write uploads.
  spawnSync('chown', ['-R', 'wharftest:', path.dirname(root)]);
  fs.chmodSync(path.join(root, 'upload'), 0o777);
  return root;
}

const COLUMNS = [
  { key: 'retr', title: 'RETR MB/s', better: 'high' },
  { key: 'stor', title: 'STOR MB/s', better: 'high' },
  { key: 'small', title: '4 KiB files/s', better: 'high' },
  { key: 'logins', title: 'logins/s', better: 'high' },
  { key: 'loginP99', title: 'login p99 ms', better: 'low' },
  { key: 'idle', title: 'KiB/idle session', better: 'low' },
  { key: 'list', title: 'LIST 10k ms', better: 'low' },
  { key: 'mlsd', title: 'MLSD 10k ms', better: 'low' },
  { key: 'par', title: '8×RETR MB/s', better: 'high' },
  { key: 'tlsRetr', title: 'FTPS RETR MB/s', better: 'high' },
  { key: 'tlsStor', title: 'FTPS STOR MB/s', better: 'high' },
];

async function guarded(results, key, fn) {
  try {
    results[key] = await fn();
  } catch (err) {
    results[key] = null;
    results.errors ??= {};
    results.errors[key] = err.message;
    console.error(`    ${key}: ${err.message}`);
  }
}

/**
 * The bench client is V8 code too, and kept getting faster for its first ~10,000 files and
 * logins: the first server measured (wharf) met it cold. So it warms up first, against a wharf
 * process of its own that is stopped before any server is measured (each server measured is a
 * fresh process, so none gains from this).
 */
async function warmClient(root) {
  console.error('warming up the bench client (unmeasured, against a throwaway wharf) ...');
  const srv = await startServer('wharf', root);
  try {
    await w.smallFiles(srv, { count: P.files, size: 4096 });
    await w.logins(srv, { count: P.logins });
  } catch (err) {
    console.error(`    client warm-up: ${err.message}`);
  } finally { await srv.stop(); }
}

/** Memory per idle session on a freshly started server, into r[key]. */
async function idleOn(name, root, r, key, count) {
  const srv = await startServer(name, root);
  try {
    await guarded(r, 'stats', () => w.idleSessions(srv, { count }));
    r[key] = r.stats ? r.stats.kibPerSession : null;
    if (r.stats) r[`${key}Sessions`] = r.stats.sessions;
    delete r.stats;
  } finally { await srv.stop(); }
}

async function benchServer(name, root) {
  const r = {};
  console.error(`${name}:`);
  if (['retr', 'stor', 'small', 'logins', 'list', 'mlsd', 'par'].some((k) => only.has(k))) {
    const srv = await startServer(name, root);
    try {
      if (only.has('retr')) await guarded(r, 'retr', () => w.retrThroughput(srv, { file: 'big.bin', size: P.size, repeats: P.repeats }));
      if (only.has('stor')) await guarded(r, 'stor', () => w.storThroughput(srv, { root, size: P.size, repeats: P.repeats }));
      if (only.has('small')) await guarded(r, 'small', () => w.smallFiles(srv, { count: P.files, size: 4096 }));
      if (only.has('logins')) {
        await guarded(r, 'loginStats', () => w.logins(srv, { count: P.logins }));
        r.logins = r.loginStats?.rate ?? null;
        r.loginP99 = r.loginStats?.p99 ?? null;
        delete r.loginStats;
      }
      if (only.has('list')) await guarded(r, 'list', () => w.listing(srv, { command: 'LIST', dir: 'list10k' }));
      if (only.has('mlsd')) await guarded(r, 'mlsd', () => w.listing(srv, { command: 'MLSD', dir: 'list10k' }));
      if (only.has('par')) await guarded(r, 'par', () => w.parallelRetr(srv, { file: 'par.bin', size: P.parSize }));
    } finally { await srv.stop(); }
  }
  // Memory is measured on a fresh server: after the other workloads a heap has room to spare.
  if (only.has('idle')) {
    // Pure-FTPd serves at most 250 clients whatever -c says: measure it with 240.
    const idleCount = name === 'pure-ftpd' ? Math.min(P.idle, 240) : P.idle;
    await idleOn(name, root, r, 'idle', idleCount);
  }
  if (only.has('tls-retr') || only.has('tls-stor')) {
    let srv;
    try {
      srv = await startServer(name, root, { tls: true });
      if (only.has('tls-retr')) await guarded(r, 'tlsRetr', () => w.retrThroughput(srv, { file: 'tls.bin', size: P.tlsSize, repeats: P.repeats, tls: true }));
      if (only.has('tls-stor')) await guarded(r, 'tlsStor', () => w.storThroughput(srv, { root, size: P.tlsSize, repeats: P.repeats, tls: true }));
    } catch (err) {
      console.error(`    TLS: ${err.message}`);
    } finally { await srv?.stop(); }
  }
  for (const c of COLUMNS) if (r[c.key] !== undefined && r[c.key] !== null) console.error(`    ${c.title}: ${fmt(r[c.key])}`);
  return r;
}

function fmt(v) {
  if (v === null || v === undefined) return '—';
  if (v >= 100) return String(Math.round(v));
  return v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** wharf's advantage over a figure: above 1 means wharf is better, whichever way the column points. */
function ratio(col, wharf, other) {
  if (wharf == null || other == null || wharf === 0 || other === 0) return null;
  return col.better === 'high' ? wharf / other : other / wharf;
}

function table(results, names) {
  const cols = COLUMNS.filter((c) => names.some((n) => results[n][c.key] != null));
  const lines = [];
  lines.push(`| server | ${cols.map((c) => c.title).join(' | ')} |`);
  lines.push(`|---|${cols.map(() => '---:').join('|')}|`);
  for (const n of names) lines.push(`| ${n} | ${cols.map((c) => fmt(results[n][c.key])).join(' | ')} |`);
  if (results.wharf) {
    const peers = names.filter((n) => n !== 'wharf');
    for (const p of peers) lines.push(`| wharf ÷ ${p} | ${cols.map((c) => { const x = ratio(c, results.wharf[c.key], results[p][c.key]); return x == null ? '—' : `${x.toFixed(2)}×`; }).join(' | ')} |`);
    lines.push(`| **wharf ÷ best peer** | ${cols.map((c) => {
      const vals = peers.map((p) => results[p][c.key]).filter((v) => v != null);
      if (!vals.length) return '—';
      const best = c.better === 'high' ? Math.max(...vals) : Math.min(...vals);
      const x = ratio(c, results.wharf[c.key], best);
      return x == null ? '—' : `**${x.toFixed(2)}×**`;
    }).join(' | ')} |`);
  }
  return lines.join('\n');
}

// Everything printed to stdout is also kept for bench/results/latest.out (readme-table.js reads it).
const printed = [];
const print = console.log;
console.log = (...parts) => { printed.push(parts.join(' ')); print(...parts); };

async function main() {
  setup();
  const installed = await installedServers();
  const names = value('servers') ? value('servers').split(',').filter((n) => installed.includes(n)) : installed;
  console.error(`servers: ${names.join(', ')}; sizes: ${JSON.stringify(P)}`);
  const root = prepareRoot();
  const results = {};
  try {
    if (['small', 'logins'].some((k) => only.has(k))) await warmClient(root);
    for (const n of names) results[n] = await benchServer(n, root);
    // wharf alone with 10,000 sessions, last: the bench client then holds 10,000 sockets, and
    // the heap it keeps afterwards slowed its own TLS decryption in the workloads that followed.
    if (results.wharf && only.has('idle') && P.idleBig) await idleOn('wharf', root, results.wharf, 'idleBig', P.idleBig);
  } finally {
    fs.rmSync(path.dirname(root), { recursive: true, force: true });
  }
  const cpu = os.cpus()[0]?.model ?? '?';
  const machine = `${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}, Node ${process.version}`;
  console.log(`\nServers (${machine}; files on tmpfs; loopback; ratios > 1 mean wharf is better)\n`);
  console.log(table(results, names));
  if (results.wharf?.idleBig) console.log(`\nwharf with ${results.wharf.idleBigSessions} idle logged-in sessions: ${fmt(results.wharf.idleBig)} KiB each.`);
  let client;
  if (!flag('no-client') && (flag('client') || !value('only'))) client = await clientBench({ quick });
  const out = { date: new Date().toISOString(), machine, params: P, versions: versions(), servers: results, client };
  const dir = path.join(REPO, 'bench/results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'latest.json'), JSON.stringify(out, null, 2));
  fs.writeFileSync(path.join(dir, 'latest.out'), printed.join('\n') + '\nJSON\n');
  console.log(`\nJSON: bench/results/latest.json`);
}

main().catch((err) => { console.error(err); process.exitCode = 1; });
