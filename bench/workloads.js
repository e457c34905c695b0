// The benchmark workloads: each takes a started server and returns one figure, bounded in time.
import fs from 'node:fs';
import { BenchClient } from './ftp-client.js';

const MB = 1e6;
const chunk = Buffer.alloc(1024 * 1024, 0x5a);

const open = (srv, extra = {}) => BenchClient.open({ port: srv.port, user: srv.user, password: srv.password, ...extra });
const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Seconds of unmeasured warm-up, at least, before the per-file and login figures. V8 (wharf,
 * ftp-srv, and the bench client itself) keeps getting faster for the first few thousand logins
 * or files; a fixed count left the first server measured (wharf) on a half-warm client and
 * server. Servers that take longer than this for `warmup` items are not held any longer.
 */
const WARM_S = 4;
/** Keep warming up until `warmup` items are done and `warmS` seconds have passed (within the budget). */
const warming = (done, t0, warmup, warmS, budgetS) => {
  const s = seconds(t0);
  return s < budgetS && (done < warmup || s < warmS);
};

/** Best-effort removal of what a STOR left behind, as root. */
function removeQuietly(file) { try { fs.rmSync(file, { force: true }); } catch { /* fine */ } }

/** RETR of `file` (size bytes): median MB/s over `repeats`. */
export async function retrThroughput(srv, { file, size, repeats = 3, tls = false }) {
  const c = await open(srv, { tls });
  try {
    const rates = [];
    for (let i = 0; i < repeats; i++) {
      const t0 = process.hrtime.bigint();
      const n = await c.retr(file);
      if (n !== size) throw new Error(`RETR got ${n} of ${size} bytes`);
      rates.push(n / seconds(t0) / MB);
    }
    return median(rates);
  } finally { await c.quit(); }
}

/**
 * STOR of `size` bytes: median MB/s; the file is checked on disk and removed each time. One
 * unmeasured upload first, the same for every server: on a VM, memory the guest has not touched
 * for a while is slow to fill, and the first upload after the bench wrote its files (always the
 * first server's) ran at a third of the speed of the next ones.
 */
export async function storThroughput(srv, { root, size, repeats = 3, tls = false }) {
  const c = await open(srv, { tls });
  try {
    const rates = [];
    for (let i = -1; i < repeats; i++) {
      const name = `upload/stor-${i < 0 ? 'warm' : i}.bin`;
      const t0 = process.hrtime.bigint();
      await c.stor(name, size, chunk);
      if (i >= 0) rates.push(size / seconds(t0) / MB);
      const onDisk = fs.statSync(`${root}/${name}`).size;
      if (onDisk !== size) throw new Error(`STOR left ${onDisk} of ${size} bytes`);
      removeQuietly(`${root}/${name}`);
    }
    return median(rates);
  } finally { await c.quit(); }
}

/** Small files over one session, one after another: files per second (stops after `budgetS`). */
export async function smallFiles(srv, { count, size, budgetS = 20, warmup = count, warmS = WARM_S }) {
  const c = await open(srv);
  try {
    // Warm-up, the same for every server: TYPE set, caches hot, and a JIT-compiled server
    // (wharf, ftp-srv) measured as it runs after its first minute, not in its first second.
    const w0 = process.hrtime.bigint();
    for (let i = 0; warming(i, w0, Math.max(1, warmup), warmS, budgetS); i++) await c.retr(`small/f${i % count}.bin`);
    const t0 = process.hrtime.bigint();
    let done = 0;
    for (; done < count && seconds(t0) < budgetS; done++) {
      const n = await c.retr(`small/f${done}.bin`);
      if (n !== size) throw new Error(`small file ${done}: ${n} bytes`);
    }
    return done / seconds(t0);
  } finally { await c.quit(); }
}

/** `count` logins (connect, USER, PASS, QUIT) by `concurrency` workers: rate and p99 latency. */
export async function logins(srv, { count, concurrency = 50, budgetS = 60, warmup = count, warmS = WARM_S }) {
  // Warm-up, unmeasured and the same for every server (see smallFiles).
  let warm = 0;
  const w0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, warmup)) }, async () => {
    while (warming(warm, w0, warmup, warmS, budgetS)) { warm++; const c = await open(srv); await c.quit(); }
  }));
  const latencies = [];
  let next = 0;
  const t0 = process.hrtime.bigint();
  const worker = async () => {
    while (next < count && seconds(t0) < budgetS) {
      next++;
      const s = process.hrtime.bigint();
      const c = await open(srv);
      latencies.push(seconds(s) * 1000);
      await c.quit();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const total = seconds(t0);
  latencies.sort((a, b) => a - b);
  return { rate: latencies.length / total, p99: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] };
}

/** Proportional set size (KiB) of a process and all its descendants: fair to forking servers. */
export function treePss(rootPid) {
  const parents = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(d), ppid);
    } catch { /* gone */ }
  }
  const tree = new Set([rootPid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parents) if (!tree.has(pid) && tree.has(ppid)) { tree.add(pid); grew = true; }
  }
  let kib = 0;
  for (const pid of tree) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      if (m) kib += Number(m[1]);
    } catch { /* gone */ }
  }
  return { kib, processes: tree.size };
}

/** Memory per idle logged-in session with `count` open: PSS delta of the server's process tree. */
export async function idleSessions(srv, { count, concurrency = 50 }) {
  const warm = await open(srv);
  await warm.quit();
  await new Promise((r) => setTimeout(r, 500));
  if (global.gc) global.gc();
  const before = treePss(srv.pid).kib;
  const clients = [];
  let next = 0;
  try {
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < count) { next++; clients.push(await open(srv)); }
    }));
    // Every session answers a NOOP: all are really there, logged in and idle.
    await Promise.all(clients.map((c) => c.expect('NOOP', 200)));
    await new Promise((r) => setTimeout(r, 1000));
    const after = treePss(srv.pid).kib;
    return { kibPerSession: (after - before) / count, sessions: clients.length };
  } finally {
    await Promise.all(clients.map((c) => c.destroy()));
  }
}

/** LIST or MLSD of a big folder: median milliseconds over `repeats`, after `warmS` seconds of the same (at most 50). */
export async function listing(srv, { command, dir, repeats = 5, warmS = WARM_S / 2, budgetS = 20 }) {
  const c = await open(srv);
  try {
    const times = [];
    const first = await c.listing(`${command} ${dir}`);
    if (first < 1000) throw new Error(`${command}: only ${first} bytes`);
    // Warm-up as for small files and logins: one listing left a JIT-compiled server (wharf) still
    // compiling its listing code while measured (its first LIST on a fresh process: 60-100 ms
    // median of five, 40-55 ms once warm).
    const w0 = process.hrtime.bigint();
    for (let i = 1; warming(i, w0, 1, warmS, budgetS) && i < 50; i++) await c.listing(`${command} ${dir}`);
    for (let i = 0; i < repeats; i++) {
      const t0 = process.hrtime.bigint();
      await c.listing(`${command} ${dir}`);
      times.push(seconds(t0) * 1000);
    }
    return median(times);
  } finally { await c.quit(); }
}

/** `streams` sessions downloading `file` at once: aggregate MB/s. */
export async function parallelRetr(srv, { file, size, streams = 8 }) {
  const clients = await Promise.all(Array.from({ length: streams }, () => open(srv)));
  try {
    for (const c of clients) await c.type('I');
    const t0 = process.hrtime.bigint();
    const got = await Promise.all(clients.map((c) => c.retr(file)));
    const s = seconds(t0);
    for (const n of got) if (n !== size) throw new Error(`parallel RETR got ${n} of ${size}`);
    return (size * streams) / s / MB;
  } finally { await Promise.all(clients.map((c) => c.quit())); }
}
