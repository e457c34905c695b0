// Mirror a folder tree down or up over N parallel connections, and split one big download into segments.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { FileInfo } from '../protocol/listing.js';
import type { FtpClient, Progress } from './client.js';

export interface MirrorOptions {
  /** Connections used at once (default 4). */
  parallel?: number;
  /** Delete what exists only on the destination side. */
  delete?: boolean;
  signal?: AbortSignal;
  /** Called for each file as it is decided: transferred, resumed, skipped or deleted. */
  onFile?: (event: { path: string; action: 'transfer' | 'resume' | 'skip' | 'delete' }) => void;
  onProgress?: (p: Progress) => void;
}

export interface MirrorResult {
  transferred: number;
  resumed: number;
  skipped: number;
  deleted: number;
  bytes: number;
}

interface Task { rel: string; remote: string; local: string; size: number; modified?: Date; offset: number }

const join = (a: string, b: string) => (a.endsWith('/') ? a + b : `${a}/${b}`);

/** Run tasks over a pool of connections: the first client plus up to parallel-1 more. */
async function runPool<T>(first: FtpClient, connect: () => Promise<FtpClient>, parallel: number, tasks: T[],
  work: (client: FtpClient, task: T) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  const extra: FtpClient[] = [];
  const worker = async (client: FtpClient) => {
    while (next < tasks.length) {
      if (signal?.aborted) throw new Error('mirror aborted');
      await work(client, tasks[next++]!);
    }
  };
  const count = Math.max(1, Math.min(parallel, tasks.length));
  try {
    const clients = [first];
    for (let i = 1; i < count; i++) { const c = await connect(); extra.push(c); clients.push(c); }
    await Promise.all(clients.map(worker));
  } finally {
    await Promise.all(extra.map((c) => c.close().catch(() => undefined)));
  }
}

/** A single path component: no separators, no `.`/`..`, no NUL. */
export function isSafeName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !/[/\\\0]/.test(name);
}

/** Every file under a remote folder, with folders listed first so they can be created in order. */
async function walkRemote(client: FtpClient, dir: string, rel = ''): Promise<{ dirs: string[]; files: (FileInfo & { rel: string })[] }> {
  const dirs: string[] = [];
  const files: (FileInfo & { rel: string })[] = [];
  for (const e of await client.list(rel ? join(dir, rel) : dir)) {
    // A hostile or broken server must not steer writes outside the local folder.
    if (!isSafeName(e.name)) continue;
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.type === 'dir') {
      dirs.push(r);
      const sub = await walkRemote(client, dir, r);
      dirs.push(...sub.dirs);
      files.push(...sub.files);
    } else if (e.type === 'file') files.push({ ...e, rel: r });
  }
  return { dirs, files };
}

/**
 * A local file's stat, or undefined when it is not there (or cannot be read). Direct, like the
 * modification times set after each download: a thread-pool trip per file, one after another,
 * cost 0.1-0.2 s before the first transfer of a 2,000-file folder.
 */
function statQuietly(file: string): fs.Stats | undefined {
  try { return fs.statSync(file, { throwIfNoEntry: false }); } catch { return undefined; }
}

async function walkLocal(root: string, rel = ''): Promise<{ dirs: string[]; files: { rel: string; size: number; modified: Date }[] }> {
  const dirs: string[] = [];
  const files: { rel: string; size: number; modified: Date }[] = [];
  for (const e of await fsp.readdir(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) {
      dirs.push(r);
      const sub = await walkLocal(root, r);
      dirs.push(...sub.dirs);
      files.push(...sub.files);
    } else if (e.isFile()) {
      // Direct (see statQuietly); a file gone since the readdir is left out, not an error.
      const st = statQuietly(path.join(root, r));
      if (st) files.push({ rel: r, size: st.size, modified: st.mtime });
    }
  }
  return { dirs, files };
}

/** Same size, and the destination no older than the source (to the second): nothing to do. */
function unchanged(srcSize: number, srcTime: Date | undefined, dstSize: number, dstTime: Date | undefined): boolean {
  if (srcSize !== dstSize) return false;
  if (!srcTime || !dstTime) return true;
  return Math.floor(dstTime.getTime() / 1000) >= Math.floor(srcTime.getTime() / 1000);
}

/** Download the tree under `remoteDir` into `localDir`. */
export async function mirrorDown(client: FtpClient, connect: () => Promise<FtpClient>, remoteDir: string, localDir: string,
  options: MirrorOptions = {}): Promise<MirrorResult> {
  const result: MirrorResult = { transferred: 0, resumed: 0, skipped: 0, deleted: 0, bytes: 0 };
  const canResume = client.features.has('REST');
  const remote = await walkRemote(client, remoteDir);
  await fsp.mkdir(localDir, { recursive: true });
  for (const d of remote.dirs) await fsp.mkdir(path.join(localDir, d), { recursive: true });
  const tasks: Task[] = [];
  for (const f of remote.files) {
    const local = path.join(localDir, f.rel);
    const st = statQuietly(local);
    if (st && unchanged(f.size, f.modified, st.size, st.mtime)) { result.skipped++; options.onFile?.({ path: f.rel, action: 'skip' }); continue; }
    // A shorter local file left by an interrupted run is continued, not fetched again.
    const offset = st && canResume && st.size < f.size ? st.size : 0;
    tasks.push({ rel: f.rel, remote: join(remoteDir, f.rel), local, size: f.size, modified: f.modified, offset });
  }
  await runPool(client, connect, options.parallel ?? 4, tasks, async (c, t) => {
    options.onFile?.({ path: t.rel, action: t.offset ? 'resume' : 'transfer' });
    { const n = await c.download(t.remote, t.local, { offset: t.offset, total: t.size, signal: options.signal, onProgress: options.onProgress }); result.bytes += n; }
    if (t.offset) result.resumed++; else result.transferred++;
    // The remote time on the copy makes the next run see it as unchanged.
    if (t.modified) fs.utimesSync(t.local, new Date(), t.modified); // direct: a thread-pool trip per file costs more
  }, options.signal);
  if (options.delete) {
    const wantedFiles = new Set(remote.files.map((f) => f.rel));
    const wantedDirs = new Set(remote.dirs);
    const local = await walkLocal(localDir);
    for (const f of local.files) {
      if (wantedFiles.has(f.rel)) continue;
      await fsp.rm(path.join(localDir, f.rel));
      result.deleted++;
      options.onFile?.({ path: f.rel, action: 'delete' });
    }
    for (const d of local.dirs.reverse()) {
      if (!wantedDirs.has(d)) { await fsp.rm(path.join(localDir, d), { recursive: true, force: true }); result.deleted++; }
    }
  }
  return result;
}

/** Upload the tree under `localDir` to `remoteDir` (mirror --reverse). */
export async function mirrorUp(client: FtpClient, connect: () => Promise<FtpClient>, localDir: string, remoteDir: string,
  options: MirrorOptions = {}): Promise<MirrorResult> {
  const result: MirrorResult = { transferred: 0, resumed: 0, skipped: 0, deleted: 0, bytes: 0 };
  const canResume = client.features.has('REST');
  const canSetTime = client.features.has('MFMT');
  const local = await walkLocal(localDir);
  await client.ensureDir(remoteDir);
  const remote = await walkRemote(client, remoteDir).catch(() => ({ dirs: [] as string[], files: [] as (FileInfo & { rel: string })[] }));
  const remoteFiles = new Map(remote.files.map((f) => [f.rel, f]));
  const remoteDirs = new Set(remote.dirs);
  for (const d of local.dirs) if (!remoteDirs.has(d)) await client.ensureDir(join(remoteDir, d));
  const tasks: Task[] = [];
  for (const f of local.files) {
    const r = remoteFiles.get(f.rel);
    if (r && unchanged(f.size, f.modified, r.size, r.modified)) { result.skipped++; options.onFile?.({ path: f.rel, action: 'skip' }); continue; }
    const offset = r && canResume && r.size < f.size ? r.size : 0;
    tasks.push({ rel: f.rel, remote: join(remoteDir, f.rel), local: path.join(localDir, f.rel), size: f.size, modified: f.modified, offset });
  }
  await runPool(client, connect, options.parallel ?? 4, tasks, async (c, t) => {
    options.onFile?.({ path: t.rel, action: t.offset ? 'resume' : 'transfer' });
    // The path, not a stream: the client reads regular files in large positioned chunks.
    result.bytes += await c.upload(t.local, t.remote, { offset: t.offset, signal: options.signal, onProgress: options.onProgress });
    if (t.offset) result.resumed++; else result.transferred++;
    if (canSetTime && t.modified) await c.setLastModified(t.remote, t.modified).catch(() => undefined);
  }, options.signal);
  if (options.delete) {
    const wanted = new Set(local.files.map((f) => f.rel));
    for (const f of remote.files) {
      if (wanted.has(f.rel)) continue;
      await client.remove(join(remoteDir, f.rel));
      result.deleted++;
      options.onFile?.({ path: f.rel, action: 'delete' });
    }
    const wantedDirs = new Set(local.dirs);
    for (const d of [...remote.dirs].reverse()) {
      if (!wantedDirs.has(d)) { await client.removeDir(join(remoteDir, d), { recursive: true }); result.deleted++; }
    }
  }
  return result;
}

/**
 * One large file over N connections, each fetching its own byte range with REST. Falls back to
 * one ordinary download when the server cannot restart (no REST STREAM) or the file is small.
 */
export async function downloadSegmented(client: FtpClient, connect: () => Promise<FtpClient>, remote: string, local: string,
  options: { segments?: number; signal?: AbortSignal; onProgress?: (p: Progress) => void } = {}): Promise<number> {
  const size = await client.size(remote);
  const segments = Math.max(1, Math.min(options.segments ?? 4, Math.floor(size / (1024 * 1024)) || 1));
  if (segments === 1 || !client.features.has('REST')) return client.download(remote, local, options);
  const fh = await fsp.open(local, 'w');
  await fh.truncate(size);
  await fh.close();
  const span = Math.ceil(size / segments);
  const ranges = Array.from({ length: segments }, (_, i) => ({ start: i * span, length: Math.min(span, size - i * span) }));
  let total = 0;
  // Each segment counts its own bytes; report the sum as one transfer.
  const done = new Array<number>(segments).fill(0);
  const started = Date.now();
  const report = (i: number) => (p: Progress) => {
    done[i] = p.bytes;
    const bytes = done.reduce((a, b) => a + b, 0);
    options.onProgress?.({ ...p, bytes, total: size, rate: bytes / Math.max(0.001, (Date.now() - started) / 1000) });
  };
  await runPool(client, connect, segments, ranges.map((r, i) => ({ ...r, i })), async (c, r) => {
    const out = fs.createWriteStream(local, { flags: 'r+', start: r.start });
    const last = r.start + r.length >= size;
    // The last range reads to the end; the others stop after their length and ABOR the rest.
    const n = await c.download(remote, out, { offset: r.start, total: size, length: last ? undefined : r.length, signal: options.signal, onProgress: report(r.i) });
    total += n; // not `total += await`: that reads total before the await and loses parallel segments
  }, options.signal);
  if (total !== size) throw new Error(`segmented download of ${remote}: got ${total} of ${size} bytes`);
  return total;
}
