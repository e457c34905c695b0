// Mirror a folder tree down or up over N parallel connections, and split one big download into segments.
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { FileInfo } from '../protocol/listing.js';
import { parseListing, parseMlsxLine } from '../protocol/listing-parse.js';
import { isSafeName } from '../protocol/path.js';
import { AbortError, type FtpClient, type Progress } from './client.js';
import { FtpConnectionError, FtpError, FtpTimeoutError } from './errors.js';

export interface MirrorOptions {
  /** Connections used at once (default 4). */
  parallel?: number;
  /** Delete what exists only on the destination side. */
  delete?: boolean;
  signal?: AbortSignal;
  /**
   * Folder levels walked below the remote folder before giving up with a MirrorError (default 64):
   * where a server shows a symbolic-link loop as a real folder and gives no `unique` fact to spot
   * it, the walk ends there instead of copying the loop over and over.
   */
  maxDepth?: number;
  /**
   * Called for each file as it is decided: transferred, resumed, skipped or deleted; and with
   * `fail` (and the error) for a file or folder that could not be copied (mirror down).
   */
  onFile?: (event: { path: string; action: 'transfer' | 'resume' | 'skip' | 'delete' | 'fail'; error?: Error }) => void;
  onProgress?: (p: Progress) => void;
  /** Bandwidth of the whole mirror, bytes per second: shared evenly by its `parallel` connections. */
  maxRate?: number;
}

/** One connection's part of a rate shared by `parallel` connections: together they never pass it. */
function shareOf(options: { maxRate?: number; parallel?: number }): number | undefined {
  if (!options.maxRate) return undefined;
  return Math.max(1, Math.floor(options.maxRate / Math.max(1, options.parallel ?? 4)));
}

export interface MirrorResult {
  transferred: number;
  resumed: number;
  skipped: number;
  deleted: number;
  bytes: number;
  /** Files (and folders) that could not be copied; mirrorDown then rejects with a MirrorIncompleteError. */
  failed: number;
}

/** The remote tree cannot be mirrored as it is: a folder loop too deep to tell, or a symbolic link in the way of an upload. */
export class MirrorError extends Error {
  constructor(message: string) { super(message); this.name = 'MirrorError'; }
}

/**
 * mirrorDown copied what it could, but some files failed (a name too long for the local file
 * system, a local write error, a server refusal, a byte count other than the listed size).
 * Thrown once the rest is done; `result` counts what was done, `failures` says what was not.
 */
export class MirrorIncompleteError extends MirrorError {
  constructor(readonly result: MirrorResult, readonly failures: { path: string; error: Error }[]) {
    const first = failures[0]!;
    super(`${failures.length} of the files were not mirrored (${first.path}: ${first.error.message}${failures.length > 1 ? '; ...' : ''})`);
    this.name = 'MirrorIncompleteError';
  }
}

/** A download brought another number of bytes than the server said the file has (listing or SIZE). */
export class TransferSizeError extends Error {
  constructor(readonly path: string, readonly expected: number, readonly received: number, readonly offset = 0) {
    super(`${path}: received ${received} bytes${offset ? ` after offset ${offset} (${offset + received} in all)` : ''}, `
      + `but the server gave the size as ${expected}: the copy is incomplete or not the file`);
    this.name = 'TransferSizeError';
  }
}

/**
 * The size a listing gave for a file, or undefined when it gave none usable: an MLSD entry without
 * a size fact, or one that is not a plain non-negative integer.
 */
export function listedSize(e: FileInfo): number | undefined {
  const mlsx = e.raw ? parseMlsxLine(e.raw) : undefined;
  if (mlsx?.facts) {
    const fact = mlsx.facts.size ?? mlsx.facts['sizd'];
    return fact !== undefined && /^\d+$/.test(fact) && Number.isSafeInteger(Number(fact)) ? Number(fact) : undefined;
  }
  return Number.isSafeInteger(e.size) && e.size >= 0 ? e.size : undefined;
}

/** An error that concerns one file only: the walk goes on with the others. Not a broken connection or an abort. */
function fileOnly(err: unknown, signal?: AbortSignal): err is Error {
  if (signal?.aborted || !(err instanceof Error)) return false;
  return !(err instanceof AbortError || err instanceof FtpConnectionError || err instanceof FtpTimeoutError || err instanceof MirrorError);
}

interface Task {
  rel: string; remote: string; local: string; size: number; offset: number;
  /** The source's modification time to give the copy (ms), when known. */
  modified?: number;
  /** Download: the listing's time is coarse and its minute (or day) had not ended long before now: read MDTM before the transfer. */
  fresh?: RemoteFile;
}

type RemoteFile = FileInfo & { rel: string };

/** `b` inside the remote folder `a`; an empty `a` is the current folder, so `b` stays relative to it. */
const join = (a: string, b: string) => (a === '' ? b : a.endsWith('/') ? a + b : `${a}/${b}`);
const parentOf = (rel: string) => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');

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

interface RemoteTree {
  /** Folders, each after its parent. */
  dirs: string[];
  files: RemoteFile[];
  /** Symbolic links and other entries that are neither file nor folder: never followed, never written through. */
  links: string[];
  /** Folders met a second time (same `unique` fact: a link back up, or another name for a folder walked already): not walked again. */
  seen: string[];
}

const DEFAULT_MAX_DEPTH = 64;
/** A STAT reply comes over the control connection, which takes at most 1 MiB per reply: ask only about folders this small. */
const STAT_MAX_ENTRIES = 2000;

/**
 * Walks a remote folder without following symbolic links, where the server lets them be seen:
 * - entries a listing marks as links (`l` in LIST, `type=OS.unix=symlink` / `slink` in MLSD) are never entered;
 * - folders are identified by the MLSD `unique` fact where the server gives it (seeded with the
 *   top folder's, from MLST): a folder met again, such as `self -> .` that pyftpdlib's MLSD shows as
 *   `type=dir`, is not walked twice;
 * - an MLSD server that has never marked a link in this walk is asked `STAT folder` for folders with
 *   subfolders: over the control connection (no data connection) several servers answer in `ls -l`
 *   form with `l` for links even where their MLSD describes the target (pyftpdlib), so a link out of
 *   the tree is found too; the answer is used only when it lists the same folder;
 * - breadth first, so a folder is claimed by its shortest path, not by a link to it met earlier;
 * - at most `maxDepth` levels, then a MirrorError: a loop that none of this reveals ends there.
 */
class RemoteWalker {
  private readonly visited = new Set<string>();
  private serverMarksLinks = false;
  private statFailures = 0;
  private readonly tree: RemoteTree = { dirs: [], files: [], links: [], seen: [] };

  constructor(private readonly client: FtpClient, private readonly root: string, private readonly maxDepth: number,
    /** Folders this side has too: among names of one folder, tried first. */
    private readonly prefer?: (rel: string) => boolean) {}

  async walk(): Promise<RemoteTree> {
    if (this.client.features.has('MLST')) {
      const top = await this.client.stat(this.root || '.').catch(() => undefined);
      if (top?.unique) this.visited.add(top.unique);
    }
    let level = [''];
    for (let depth = 1; level.length; depth++) {
      const next: string[] = [];
      for (const rel of level) next.push(...await this.folder(rel, depth));
      level = next;
    }
    return this.tree;
  }

  /** List one folder; returns the subfolders to walk at `depth`. */
  private async folder(rel: string, depth: number): Promise<string[]> {
    const where = rel ? join(this.root, rel) : this.root;
    const entries = await this.client.list(where);
    if (entries.some((e) => e.type === 'link')) this.serverMarksLinks = true;
    const hidden = await this.hiddenLinks(where, entries);
    const dirs: { e: FileInfo; r: string }[] = [];
    for (const e of entries) {
      // A hostile or broken server must not steer writes outside the local folder.
      if (!isSafeName(e.name)) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.type === 'file') this.tree.files.push({ ...e, rel: r });
      else if (e.type === 'dir' && !hidden.has(e.name)) dirs.push({ e, r });
      else this.tree.links.push(r);
    }
    if (this.prefer) dirs.sort((a, b) => Number(this.prefer!(b.r)) - Number(this.prefer!(a.r)));
    const walk: string[] = [];
    for (const { e, r } of dirs) {
      if (e.unique !== undefined) {
        if (this.visited.has(e.unique)) { this.tree.seen.push(r); continue; }
        this.visited.add(e.unique);
      }
      if (depth > this.maxDepth) {
        throw new MirrorError(`${join(this.root, r)}: more than ${this.maxDepth} folder levels deep; `
          + 'a symbolic link loop the server shows as a folder? Not mirrored');
      }
      this.tree.dirs.push(r);
      walk.push(r);
    }
    return walk;
  }

  /** Names the listing calls folders that STAT shows as symbolic links (see the class comment). */
  private async hiddenLinks(where: string, entries: FileInfo[]): Promise<Set<string>> {
    const none = new Set<string>();
    if (this.serverMarksLinks || this.statFailures >= 3 || !this.client.features.has('MLST')) return none;
    const dirNames = entries.filter((e) => e.type === 'dir').map((e) => e.name);
    if (dirNames.length === 0 || entries.length > STAT_MAX_ENTRIES) return none;
    // Never a bare STAT (server status) and never an argument that reads as `ls` options.
    const target = where === '' ? '.' : where.startsWith('-') ? `./${where}` : where;
    const reply = await this.client.send(`STAT ${target}`).catch(() => undefined);
    const listed = reply && reply.code >= 200 && reply.code < 300
      ? parseListing(reply.lines.map((l) => l.replace(/^ /, '')).join('\n')) : [];
    const names = new Set(entries.map((e) => e.name));
    const statNames = new Set(listed.map((e) => e.name));
    // Only an answer about this very folder counts: every name it gives is listed here, and every folder here is in it.
    if (listed.length === 0 || listed.some((e) => !names.has(e.name)) || dirNames.some((n) => !statNames.has(n))) {
      this.statFailures++;
      return none;
    }
    this.statFailures = 0;
    return new Set(listed.filter((e) => e.type === 'link' && dirNames.includes(e.name)).map((e) => e.name));
  }
}

function walkRemote(client: FtpClient, dir: string, options: MirrorOptions, prefer?: (rel: string) => boolean): Promise<RemoteTree> {
  return new RemoteWalker(client, dir, options.maxDepth ?? DEFAULT_MAX_DEPTH, prefer).walk();
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

// ---- When is a copy up to date? ----
//
// Same size, and the copy's time not older than the source's, in whole seconds. A listing does not
// always give seconds: MLSD does, but `ls -l` (LIST) shows `HH:MM` for recent files and only the
// day (`Mon DD YYYY`) for files older than six months, and DOS listings show minutes. Such a time
// is taken as the range it stands for, [start, end of that minute or day), and compared as one:
// - when the range settles it (the copy is newer than all of it, or older than all of it), done;
// - otherwise, for a download: a local copy last written (ctime, set by the download's own utimes)
//   after the remote range had ended holds every change made within it; if not, and the server
//   has MDTM, its time to the second decides (one round trip, only for such files);
// - for an upload: MDTM decides (vsftpd, LIST only and no MFMT: a file written and uploaded in the
//   same minute is listed as older than itself; MDTM shows the upload's second);
// - with no MDTM the copy counts as current, as before: re-sending every such file on each run
//   would be the worse mistake.
// A download of a file whose listed minute is recent reads MDTM first, so the copy gets the
// second it was taken at and a later change within the same minute shows on the next run.
// LIST times are the server's local time read as UTC; the first MDTM (UTC by RFC 3659) against a
// minute-precise listing gives the offset in whole quarter hours, applied to every listed time.

const SECOND = 1000;
const MINUTE = 60_000;
const DAY = 86_400_000;
/** A listed minute counts as possibly still open this long after it ended (clock differences). */
const CLOCK_LEEWAY = 60_000;

const LS_DATE = /\s(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\s+\d{1,2}\s+(?:\d{4}|\d{1,2}:\d{2}(:\d{2})?)\s/i;
const LS_YEAR = /\s(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\s+\d{1,2}\s+\d{4}\s/i;
const DOS_DATE = /^(?:\d{2}-\d{2}-\d{2,4}|\d{4}-\d{2}-\d{2})\s+\d{1,2}:\d{2}/;

/** How finely a listing gave an entry's time, in ms: a second (MLSD, `ls` with seconds), a minute or a day. */
export function listedPrecision(e: FileInfo): number {
  const raw = e.raw;
  if (!raw || parseMlsxLine(raw)) return SECOND;
  const ls = LS_DATE.exec(raw);
  if (ls) return LS_YEAR.test(raw) ? DAY : ls[1] ? SECOND : MINUTE;
  return DOS_DATE.test(raw) ? MINUTE : SECOND;
}

/** A time known to lie in [lo, hi), ms. */
export interface TimeRange { lo: number; hi: number }

const exactly = (t: number): TimeRange => ({ lo: t, hi: t + 1 });

/**
 * Is a copy whose time lies in `copy` no older than a source whose time lies in `source`, in whole
 * seconds? 'unsure' when the ranges leave both answers open.
 */
export function compareTimes(source: TimeRange, copy: TimeRange): 'current' | 'older' | 'unsure' {
  const s0 = Math.floor(source.lo / SECOND), s1 = Math.ceil(source.hi / SECOND) - 1;
  const c0 = Math.floor(copy.lo / SECOND), c1 = Math.ceil(copy.hi / SECOND) - 1;
  if (c0 >= s1) return 'current';
  if (c1 < s0) return 'older';
  return 'unsure';
}

/** Remote modification times: listed ranges, MDTM where needed, and the listing's time zone. */
class RemoteTimes {
  private readonly exactTimes = new Map<string, number | undefined>();
  private zoneOffset: number | undefined;
  private readonly hasMdtm: boolean;

  constructor(private readonly client: FtpClient, private readonly root: string) {
    this.hasMdtm = client.features.has('MDTM');
  }

  /** MDTM, to the second; undefined when the server has none or refuses. Cached per file. */
  async exact(f: RemoteFile, client = this.client): Promise<number | undefined> {
    if (!this.hasMdtm) return undefined;
    if (this.exactTimes.has(f.rel)) return this.exactTimes.get(f.rel);
    const t = await client.lastModified(join(this.root, f.rel)).then((d) => d.getTime(), () => undefined);
    this.exactTimes.set(f.rel, t);
    return t;
  }

  /** The listed time as the range of UTC times it stands for; undefined when the listing gave none. */
  async range(f: RemoteFile): Promise<(TimeRange & { coarse: boolean }) | undefined> {
    if (!f.modified) return undefined;
    const precision = listedPrecision(f);
    let lo = Math.floor(f.modified.getTime() / precision) * precision;
    if (precision > SECOND) lo -= await this.offset(f, precision);
    return { lo, hi: lo + precision, coarse: precision > SECOND };
  }

  /** How far the listing's clock is ahead of UTC, learnt once from a minute-precise entry and its MDTM. */
  private async offset(f: RemoteFile, precision: number): Promise<number> {
    if (this.zoneOffset !== undefined) return this.zoneOffset;
    if (precision !== MINUTE || !this.hasMdtm) return 0;
    const exact = await this.exact(f);
    const diff = exact === undefined ? 0 : f.modified!.getTime() - Math.floor(exact / MINUTE) * MINUTE;
    // A file changed between the listing and MDTM gives an odd difference: then assume UTC.
    this.zoneOffset = Math.abs(diff) <= 14 * 3600_000 && diff % (15 * MINUTE) === 0 ? diff : 0;
    return this.zoneOffset;
  }
}

/** Download direction: is the local copy (stat `st`) of remote file `f` current? */
async function localCopyCurrent(f: RemoteFile, st: fs.Stats, times: RemoteTimes): Promise<boolean> {
  if (st.size !== f.size) return false;
  const range = await times.range(f);
  if (!range) return true;
  const verdict = compareTimes(range, exactly(st.mtimeMs));
  if (verdict !== 'unsure') return verdict === 'current';
  if (st.ctimeMs >= range.hi + CLOCK_LEEWAY) return true;
  const exact = await times.exact(f);
  return exact === undefined || compareTimes(exactly(exact), exactly(st.mtimeMs)) === 'current';
}

/** Upload direction: is remote file `r` a current copy of local file `f`? */
async function remoteCopyCurrent(f: { size: number; modified: Date }, r: RemoteFile, times: RemoteTimes): Promise<boolean> {
  if (r.size !== f.size) return false;
  const range = await times.range(r);
  if (!range) return true;
  const source = exactly(f.modified.getTime());
  const verdict = compareTimes(source, range);
  if (verdict !== 'unsure') return verdict === 'current';
  const exact = await times.exact(r);
  return exact === undefined || compareTimes(source, exactly(exact)) === 'current';
}

/**
 * Download the tree under `remoteDir` (empty: the current folder) into `localDir`.
 * A file that cannot be copied (a name too long for the local file system, a local write error, a
 * server refusal, a byte count other than the listed size) does not stop the rest: it is reported
 * through `onFile` (`fail`), never given the remote time (so it is not taken as current next
 * time), and once the rest is done the call rejects with a MirrorIncompleteError. A broken
 * connection, a timeout or an abort ends the mirror at once, as before.
 */
export async function mirrorDown(client: FtpClient, connect: () => Promise<FtpClient>, remoteDir: string, localDir: string,
  options: MirrorOptions = {}): Promise<MirrorResult> {
  const result: MirrorResult = { transferred: 0, resumed: 0, skipped: 0, deleted: 0, bytes: 0, failed: 0 };
  const failures: { path: string; error: Error }[] = [];
  const fail = (rel: string, error: Error) => {
    failures.push({ path: rel, error });
    result.failed++;
    options.onFile?.({ path: rel, action: 'fail', error });
  };
  const canResume = client.features.has('REST');
  const remote = await walkRemote(client, remoteDir, options);
  const times = new RemoteTimes(client, remoteDir);
  await fsp.mkdir(localDir, { recursive: true });
  // A folder that cannot be made (its name too long here, a file in the way) fails with all under it.
  const failedDirs = new Set<string>();
  const underFailed = (rel: string) => {
    for (let p = parentOf(rel); p; p = parentOf(p)) if (failedDirs.has(p)) return p;
    return undefined;
  };
  for (const d of remote.dirs) {
    if (underFailed(d)) { failedDirs.add(d); continue; }
    try {
      await fsp.mkdir(path.join(localDir, d), { recursive: true });
    } catch (err) {
      if (!fileOnly(err, options.signal)) throw err;
      failedDirs.add(d);
      fail(`${d}/`, err);
    }
  }
  const tasks: (Task & { expected: number | undefined })[] = [];
  for (const f of remote.files) {
    if (underFailed(f.rel)) continue;
    const local = path.join(localDir, f.rel);
    const st = statQuietly(local);
    if (st && await localCopyCurrent(f, st, times)) { result.skipped++; options.onFile?.({ path: f.rel, action: 'skip' }); continue; }
    // A shorter local file left by an interrupted run is continued, not fetched again.
    const offset = st && canResume && st.size < f.size ? st.size : 0;
    const range = await times.range(f);
    const fresh = range?.coarse && range.hi + CLOCK_LEEWAY > Date.now() ? f : undefined;
    tasks.push({ rel: f.rel, remote: join(remoteDir, f.rel), local, size: f.size, modified: range?.lo, offset, fresh, expected: listedSize(f) });
  }
  await runPool(client, connect, options.parallel ?? 4, tasks, async (c, t) => {
    options.onFile?.({ path: t.rel, action: t.offset ? 'resume' : 'transfer' });
    try {
      // Before the transfer: a change made while it runs then shows as newer next time.
      if (t.fresh) t.modified = await times.exact(t.fresh, c) ?? t.modified;
      const n = await c.download(t.remote, t.local, { offset: t.offset, total: t.size, signal: options.signal, onProgress: options.onProgress, maxRate: shareOf(options) });
      result.bytes += n;
      // Fewer (or more) bytes than listed, with a 226: a server or a link that cut the file short.
      // No remote time on it: the next run sees it as not current and continues or fetches it again.
      if (t.expected !== undefined && t.offset + n !== t.expected) throw new TransferSizeError(t.remote, t.expected, n, t.offset);
      if (t.offset) result.resumed++; else result.transferred++;
      // The remote time on the copy makes the next run see it as unchanged.
      if (t.modified !== undefined) fs.utimesSync(t.local, new Date(), new Date(t.modified)); // direct: a thread-pool trip per file costs more
    } catch (err) {
      if (!fileOnly(err, options.signal)) throw err;
      fail(t.rel, err);
    }
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
  if (failures.length) throw new MirrorIncompleteError(result, failures);
  return result;
}

/** Upload the tree under `localDir` to `remoteDir` (empty: the current folder) (mirror --reverse). */
export async function mirrorUp(client: FtpClient, connect: () => Promise<FtpClient>, localDir: string, remoteDir: string,
  options: MirrorOptions = {}): Promise<MirrorResult> {
  const result: MirrorResult = { transferred: 0, resumed: 0, skipped: 0, deleted: 0, bytes: 0, failed: 0 };
  const canResume = client.features.has('REST');
  const canSetTime = client.features.has('MFMT');
  const local = await walkLocal(localDir);
  const localDirs = new Set(local.dirs);
  await client.ensureDir(remoteDir);
  const empty: RemoteTree = { dirs: [], files: [], links: [], seen: [] };
  const remote = await walkRemote(client, remoteDir, options, (rel) => localDirs.has(rel)).catch((err: unknown) => {
    if (err instanceof MirrorError) throw err;
    return empty;
  });
  // Never write through a symbolic link on the server: whatever it points to is not this tree.
  const links = new Set(remote.links);
  const blocked = (rel: string) => {
    for (let p = rel; p; p = parentOf(p)) if (links.has(p)) return p;
    return undefined;
  };
  for (const rel of [...local.dirs, ...local.files.map((f) => f.rel)]) {
    const link = blocked(rel);
    if (link) throw new MirrorError(`${join(remoteDir, link)} is a symbolic link (or special file) on the server: not writing through it; remove it there first`);
  }
  const times = new RemoteTimes(client, remoteDir);
  const remoteFiles = new Map(remote.files.map((f) => [f.rel, f]));
  const remoteDirs = new Set([...remote.dirs, ...remote.seen]);
  for (const d of local.dirs) if (!remoteDirs.has(d)) await client.ensureDir(join(remoteDir, d));
  const tasks: Task[] = [];
  for (const f of local.files) {
    const r = remoteFiles.get(f.rel);
    if (r && await remoteCopyCurrent(f, r, times)) { result.skipped++; options.onFile?.({ path: f.rel, action: 'skip' }); continue; }
    const offset = r && canResume && r.size < f.size ? r.size : 0;
    tasks.push({ rel: f.rel, remote: join(remoteDir, f.rel), local: path.join(localDir, f.rel), size: f.size, modified: f.modified.getTime(), offset });
  }
  await runPool(client, connect, options.parallel ?? 4, tasks, async (c, t) => {
    options.onFile?.({ path: t.rel, action: t.offset ? 'resume' : 'transfer' });
    // The path, not a stream: the client reads regular files in large positioned chunks.
    const n = await c.upload(t.local, t.remote, { offset: t.offset, signal: options.signal, onProgress: options.onProgress, maxRate: shareOf(options) });
    result.bytes += n; // not `+= await`: that reads bytes before the await and loses the other workers' counts
    if (t.offset) result.resumed++; else result.transferred++;
    // Without MFMT the copy keeps its upload time, which is later than the source's: current too.
    if (canSetTime && t.modified !== undefined) await c.setLastModified(t.remote, new Date(t.modified)).catch(() => undefined);
  }, options.signal);
  if (options.delete) {
    const wanted = new Set(local.files.map((f) => f.rel));
    for (const f of remote.files) {
      if (wanted.has(f.rel)) continue;
      await client.remove(join(remoteDir, f.rel));
      result.deleted++;
      options.onFile?.({ path: f.rel, action: 'delete' });
    }
    // Folders go with RMD once empty, deepest first, never by a recursive removal that could follow
    // a link the listing showed as a folder. Links and folders met twice inside them are removed
    // with DELE, which takes the link itself (and refuses a real folder).
    const doomed = new Set(remote.dirs.filter((d) => !localDirs.has(d)));
    for (const rel of [...remote.links, ...remote.seen]) if (doomed.has(parentOf(rel))) await client.remove(join(remoteDir, rel));
    for (const d of [...remote.dirs].reverse()) {
      if (doomed.has(d)) { await client.removeDir(join(remoteDir, d)); result.deleted++; }
    }
  }
  return result;
}

/** Free bytes for an unprivileged writer in `dir`, or undefined when the file system does not say. */
async function freeSpace(dir: string): Promise<number | undefined> {
  try {
    const st = await fsp.statfs(dir);
    const free = Number(st.bavail) * Number(st.bsize);
    return Number.isFinite(free) ? free : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One large file over N connections, each fetching its own byte range with REST. Falls back to
 * one ordinary download when the server cannot restart (no REST STREAM), gives no SIZE, or the
 * file is small.
 *
 * The segments go into a temporary file next to `local` (`.<name>.wharf-part-<random>`), which
 * replaces `local` only once every segment has brought its whole range and the total is the SIZE:
 * a refused RETR, a failed segment, a short range or an abort leave an existing `local` as it
 * was and remove the temporary file. A SIZE larger than the free space there is refused at once.
 */
export async function downloadSegmented(client: FtpClient, connect: () => Promise<FtpClient>, remote: string, local: string,
  options: { segments?: number; signal?: AbortSignal; onProgress?: (p: Progress) => void; maxRate?: number } = {}): Promise<number> {
  // Without SIZE (502 from a bare RFC 959 server, or a 550 where it is refused) there are no
  // ranges to split: one ordinary download, whose RETR says whether the file is there.
  const size = await client.size(remote).catch((err: unknown) => {
    if (err instanceof FtpError) return undefined;
    throw err;
  });
  if (size === undefined) return client.download(remote, local, options);
  const segments = Math.max(1, Math.min(options.segments ?? 4, Math.floor(size / (1024 * 1024)) || 1));
  if (segments === 1 || !client.features.has('REST')) return client.download(remote, local, options);
  // Through a symbolic link to its file, as an ordinary download writes; the temporary file goes
  // beside it, on the same file system, so the rename is atomic.
  const target = await fsp.realpath(local).catch(() => local);
  const dir = path.dirname(target);
  const free = await freeSpace(dir);
  if (free !== undefined && size > free) {
    throw new Error(`${remote}: the server gives its size as ${size} bytes, more than the ${free} bytes free in ${dir}`);
  }
  const existing = statQuietly(target);
  const part = path.join(dir, `.${path.basename(target)}.wharf-part-${crypto.randomBytes(6).toString('hex')}`);
  const fh = await fsp.open(part, 'wx');
  let renamed = false;
  try {
    // Private while it fills; then the permissions of the file it replaces (a private file stays
    // private), or those a new file gets here (the umask's).
    let mode: number;
    try {
      mode = existing?.isFile() ? existing.mode & 0o7777 : (await fh.stat()).mode & 0o7777;
      await fh.chmod(0o600);
    } finally {
      await fh.close();
    }
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
    // The first failure stops the other segments, and the temporary file goes only once all have
    // stopped writing to it.
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) stop.abort();
    let failure: unknown;
    try {
      await runPool(client, connect, segments, ranges.map((r, i) => ({ ...r, i })), async (c, r) => {
        if (failure !== undefined) return;
        try {
          const out = fs.createWriteStream(part, { flags: 'r+', start: r.start });
          const last = r.start + r.length >= size;
          // The last range reads to the end; the others stop after their length and ABOR the rest.
          const n = await c.download(remote, out, { offset: r.start, total: size, length: last ? undefined : r.length, signal: stop.signal, onProgress: report(r.i), maxRate: shareOf({ maxRate: options.maxRate, parallel: segments }) });
          total += n; // not `total += await`: that reads total before the await and loses parallel segments
          if (n !== r.length) throw new TransferSizeError(`${remote} (bytes ${r.start}-${r.start + r.length - 1})`, r.length, n);
        } catch (err) {
          if (failure === undefined) failure = options.signal?.aborted ? new AbortError() : err;
          stop.abort();
        }
      });
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    if (failure !== undefined) throw failure;
    if (total !== size) throw new TransferSizeError(remote, size, total);
    await fsp.chmod(part, mode);
    await fsp.rename(part, target);
    renamed = true;
    return total;
  } finally {
    if (!renamed) await fsp.rm(part, { force: true }).catch(() => undefined);
  }
}
