// Storage backed by a folder on disk, confined to it: symbolic links that lead outside are refused.
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { Readable, type Writable } from 'node:stream';
import type { FileInfo } from '../../protocol/listing.js';
import { fdWriter } from '../../io/fd-writer.js';
import { FIELDS, helperAvailable, lstatOnHelper } from './lstat-helper.js';
import { StorageError, type FileReader, type FileWriter, type RenameOptions, type Storage, type WriteOptions } from './storage.js';

const MAX_CHUNK = 1024 * 1024;
const MIN_CHUNK = 16 * 1024;
const UPLOAD_BUFFER = 8 * 1024 * 1024;

const LIST_BATCH = 1024;
/** Batches at least this big send a share of their lstat calls to the helper thread. */
const HELPER_MIN = 64;
/** The helper's share: the main thread also reads the folder and builds the entries. */
const HELPER_SHARE = 0.6;
const readAsync = promisify(fs.read);
/**
 * O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, and with direct
 * calls stall every session; it has no effect on regular files, and anything else is refused
 * after fstat.
 */
const READ_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;
/** Files up to this size are read in one direct call: cheaper than two thread-pool reads and a close. */
const SMALL_FILE = 64 * 1024;

/**
 * The metadata system calls, either made directly or through libuv's thread pool. Direct calls
 * cost 2-5 µs on a local disk against 40-200 µs for a thread-pool round trip, which is most of the
 * cost of a small-file transfer; but on a network filesystem a direct call can stall every session,
 * so that case can choose the thread pool. File contents always stream asynchronously.
 */
interface MetaOps {
  realpath(p: string): string | Promise<string>;
  stat(p: string): fs.Stats | Promise<fs.Stats>;
  lstat(p: string): fs.Stats | Promise<fs.Stats>;
  fstat(fd: number): fs.Stats | Promise<fs.Stats>;
  open(p: string, flags: number, mode: number): number | Promise<number>;
  close(fd: number): void | Promise<void>;
  ftruncate(fd: number, len: number): void | Promise<void>;
  mkdir(p: string, mode: number): unknown;
  rmdir(p: string): void | Promise<void>;
  unlink(p: string): void | Promise<void>;
  rename(a: string, b: string): void | Promise<void>;
  link(a: string, b: string): void | Promise<void>;
  chmod(p: string, mode: number): void | Promise<void>;
  utimes(p: string, atime: Date, mtime: Date): void | Promise<void>;
}

const direct: MetaOps = {
  realpath: (p) => fs.realpathSync.native(p),
  stat: (p) => fs.statSync(p),
  lstat: (p) => fs.lstatSync(p),
  fstat: (fd) => fs.fstatSync(fd),
  open: (p, f, m) => fs.openSync(p, f, m),
  close: (fd) => fs.closeSync(fd),
  ftruncate: (fd, len) => fs.ftruncateSync(fd, len),
  mkdir: (p, m) => fs.mkdirSync(p, m),
  rmdir: (p) => fs.rmdirSync(p),
  unlink: (p) => fs.unlinkSync(p),
  rename: (a, b) => fs.renameSync(a, b),
  link: (a, b) => fs.linkSync(a, b),
  chmod: (p, m) => fs.chmodSync(p, m),
  utimes: (p, a, m) => fs.utimesSync(p, a, m),
};

const threaded: MetaOps = {
  realpath: promisify(fs.realpath.native),
  stat: promisify(fs.stat) as (p: string) => Promise<fs.Stats>,
  lstat: promisify(fs.lstat) as (p: string) => Promise<fs.Stats>,
  fstat: promisify(fs.fstat) as (fd: number) => Promise<fs.Stats>,
  open: promisify(fs.open) as (p: string, f: number, m: number) => Promise<number>,
  close: promisify(fs.close),
  ftruncate: promisify(fs.ftruncate) as (fd: number, len: number) => Promise<void>,
  mkdir: promisify(fs.mkdir) as (p: string, m: number) => Promise<unknown>,
  rmdir: promisify(fs.rmdir),
  unlink: promisify(fs.unlink),
  rename: promisify(fs.rename),
  link: promisify(fs.link),
  chmod: promisify(fs.chmod),
  utimes: promisify(fs.utimes),
};

const { S_IFMT, S_IFDIR, S_IFREG, S_IFLNK } = fs.constants;

/** The entries of a folder share their device: its hex form is made once, not per entry. */
let lastDev = NaN;
let lastDevHex = '';

/** An entry from lstat's numbers, whether they come from fs.Stats or from the helper thread. */
function fileInfo(name: string, mode: number, size: number, modified: Date, dev: number, ino: number): FileInfo {
  const fmt = mode & S_IFMT;
  const type = fmt === S_IFDIR ? 'dir' : fmt === S_IFREG ? 'file' : fmt === S_IFLNK ? 'link' : 'other';
  if (dev !== lastDev) { lastDevHex = dev.toString(16); lastDev = dev; }
  return { name, type, size: type === 'dir' ? 0 : size, modified, mode: mode & 0o7777, unique: `${lastDevHex}g${ino.toString(16)}` };
}

function toInfo(name: string, st: fs.Stats): FileInfo {
  return fileInfo(name, st.mode, st.size, st.mtime, st.dev, st.ino);
}

/** toInfo from the helper thread's numbers for entry `k` (undefined: gone before its lstat). */
function toInfoFromNumbers(name: string, stats: Float64Array, k: number): FileInfo | undefined {
  const o = k * FIELDS;
  const mode = stats[o]!;
  if (Number.isNaN(mode)) return undefined;
  // Rounded as fs.Stats rounds mtimeMs into mtime: MLSD and MLST/MDTM agree to the millisecond.
  return fileInfo(name, mode, stats[o + 1]!, new Date(Math.round(stats[o + 2]!)), stats[o + 3]!, stats[o + 4]!);
}

/** guard() for synchronous calls: filesystem errors become StorageErrors. */
function guardSync<T>(fn: () => T): T {
  try { return fn(); } catch (err) { return mapError(err); }
}

const KNOWN_CODES = new Set(['ENOENT', 'EEXIST', 'ENOTDIR', 'EISDIR', 'ENOTEMPTY', 'EACCES', 'EPERM', 'EINVAL', 'ENOSPC', 'ELOOP']);

/** fs errors keep their code; anything unexpected becomes EACCES so no internal detail leaks. */
function mapError(err: unknown): never {
  if (err instanceof StorageError) throw err;
  const code = (err as NodeJS.ErrnoException)?.code ?? '';
  throw new StorageError((KNOWN_CODES.has(code) ? code : 'EACCES') as StorageError['code']);
}

async function guard<T>(op: () => T | Promise<T>): Promise<T> {
  try { return await op(); } catch (err) { return mapError(err); }
}

/** Read size for a file: whole small files in one read, big ones in 1 MiB chunks. */
function chunkFor(size: number): number {
  return Math.max(MIN_CHUNK, Math.min(MAX_CHUNK, size + 1));
}

/** A listing batch whose first share is being lstat'ed on the helper thread. */
interface EntryBatch {
  dirents: fs.Dirent[];
  /** Indexes (ascending) of the entries the helper does. */
  onHelper: number[];
  answer: Promise<Float64Array | undefined> | undefined;
}

export interface LocalStorageOptions {
  /**
   * Make metadata system calls (stat, open, realpath...) directly instead of in the thread pool.
   * Default true: far faster on local disks. Set false when the root is on a network filesystem.
   */
  directMetadata?: boolean;
  /**
   * Permission bits new files (from rw-rw-rw-) and folders (from rwxrwxrwx) leave out; default
   * 0o022 (rw-r--r--, rwxr-xr-x). The process umask applies too, so it can only take more away.
   */
  umask?: number;
}

/** A umask option, checked wherever it is given (the server checks it at once, not at the first login). */
export function checkUmask(umask: number): number {
  if (!Number.isInteger(umask) || umask < 0 || umask > 0o777) throw new Error(`umask must be from 0 to 0o777, got ${String(umask)}`);
  return umask;
}

export class LocalStorage implements Storage {
  private rootReal: string | undefined;
  private readonly ops: MetaOps;

  private readonly fileMode: number;
  private readonly dirMode: number;

  constructor(private readonly root: string, options: LocalStorageOptions = {}) {
    this.ops = options.directMetadata === false ? threaded : direct;
    const umask = checkUmask(options.umask ?? 0o022);
    this.fileMode = 0o666 & ~umask;
    this.dirMode = 0o777 & ~umask;
  }

  /** The root's real path, resolved once: everything is checked against it. */
  private async realRoot(): Promise<string> {
    if (!this.rootReal) this.rootReal = await guard(() => this.ops.realpath(this.root));
    return this.rootReal;
  }

  private inside(root: string, real: string): boolean {
    return real === root || real.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
  }

  /**
   * Map a virtual path to a real one whose every symbolic link has been resolved and checked.
   * For a path that does not exist yet (a new upload or folder) the parent is checked instead,
   * and the returned path is the resolved parent plus the new name.
   */
  private async real(vpath: string, mayNotExist = false): Promise<string> {
    return (await this.realWithStat(vpath, mayNotExist)).real;
  }

  /**
   * The common case without realpath(3), which readlink()s every component from `/`: the root is
   * already resolved, so lstat only the components below it. When none is a symbolic link the
   * joined path is the real one, and the last lstat is the entry's stat. Anything else (a link,
   * a missing entry, an error) takes the full path below.
   */
  private realFast(root: string, parts: string[]): { real: string; st: fs.Stats } | undefined {
    if (this.ops !== direct || parts.length === 0) return undefined;
    let current = root === '/' ? '' : root;
    let st: fs.Stats | undefined;
    try {
      for (const part of parts) {
        current += '/' + part;
        st = fs.lstatSync(current, { throwIfNoEntry: false });
        if (!st || st.isSymbolicLink()) return undefined;
      }
    } catch {
      return undefined;
    }
    return st ? { real: current, st } : undefined;
  }

  private async realWithStat(vpath: string, mayNotExist = false): Promise<{ real: string; st?: fs.Stats }> {
    const root = await this.realRoot();
    const parts = vpath.split('/').filter(Boolean);
    if (parts.length === 0) return { real: root }; // resolved once already: no realpath per login
    const fast = this.realFast(root, parts);
    if (fast) return fast;
    const joined = path.join(root, ...parts);
    let resolved: string;
    try {
      resolved = await this.ops.realpath(joined);
    } catch (err) {
      if (!mayNotExist || (err as NodeJS.ErrnoException).code !== 'ENOENT') mapError(err);
      // A dangling symlink in the final place must not be followed when creating.
      const st = await Promise.resolve().then(() => this.ops.lstat(joined)).catch(() => undefined);
      if (st?.isSymbolicLink()) throw new StorageError('EACCES', 'dangling link');
      const parent = await guard(() => this.ops.realpath(path.dirname(joined)));
      if (!this.inside(root, parent)) throw new StorageError('EACCES', 'outside root');
      return { real: path.join(parent, path.basename(joined)) };
    }
    if (!this.inside(root, resolved)) throw new StorageError('EACCES', 'outside root');
    return { real: resolved };
  }

  async stat(vpath: string): Promise<FileInfo> {
    const { real, st: known } = await this.realWithStat(vpath);
    const st = known ?? await guard(() => this.ops.stat(real));
    return toInfo(vpath === '/' ? '/' : path.posix.basename(vpath), st);
  }

  async *list(vpath: string): AsyncIterable<FileInfo> {
    for await (const batch of this.listBatches(vpath)) yield* batch;
  }

  /**
   * Entries in batches: one directory read and a stat per entry, then a turn of the event loop,
   * so a 100,000-entry folder neither fills memory nor holds up other sessions. With direct
   * metadata calls a batch is built synchronously: no promise per entry.
   */
  async *listBatches(vpath: string): AsyncIterable<FileInfo[]> {
    const root = await this.realRoot();
    const real = await this.real(vpath);
    const dir = await guard(() => fs.promises.opendir(real, { bufferSize: LIST_BATCH }));
    try {
      if (this.ops === direct) { yield* this.directBatches(root, real, dir); return; }
      for (;;) {
        const batch: FileInfo[] = [];
        let d: fs.Dirent | null = null;
        while (batch.length < LIST_BATCH && (d = await guard(() => dir.read())) !== null) {
          const info = await this.entryInfo(root, real, d);
          if (info) batch.push(info);
        }
        if (batch.length) yield batch;
        if (d === null) break;
        await yieldToLoop();
      }
    } finally {
      await dir.close().catch(() => undefined);
    }
  }

  /**
   * Batches with direct calls. The next batch goes to the helper thread before this one is
   * finished, so the helper works while this thread formats and sends.
   */
  private async *directBatches(root: string, real: string, dir: fs.Dir): AsyncIterable<FileInfo[]> {
    const read = () => {
      const dirents: fs.Dirent[] = [];
      let d: fs.Dirent | null;
      while (dirents.length < LIST_BATCH && (d = guardSync(() => dir.readSync())) !== null) dirents.push(d);
      return dirents;
    };
    let current: EntryBatch | undefined = this.beginEntries(real, read());
    while (current) {
      const next: EntryBatch | undefined = current.dirents.length === LIST_BATCH ? this.beginEntries(real, read()) : undefined;
      const batch = await this.finishEntries(root, real, current);
      if (batch.length) yield batch;
      current = next?.dirents.length ? next : undefined;
      // Between batches other sessions get their turn (awaiting the helper already gave one).
      if (current && !current.answer) await yieldToLoop();
    }
  }

  /**
   * Start a batch: its first share of plain entries goes to the helper thread (links need
   * realpath and the root check, which stay on this thread). Small batches, or no helper: none.
   */
  private beginEntries(dir: string, dirents: fs.Dirent[]): EntryBatch {
    const onHelper: number[] = [];
    if (dirents.length >= HELPER_MIN && helperAvailable()) {
      const share = Math.floor(dirents.length * HELPER_SHARE);
      for (let i = 0; i < share; i++) if (!dirents[i]!.isSymbolicLink()) onHelper.push(i);
    }
    const answer = onHelper.length ? lstatOnHelper(dir, onHelper.map((i) => dirents[i]!.name)) : undefined;
    return { dirents, onHelper, answer };
  }

  /** The rest of a batch on this thread, then the helper's answer; entries keep the folder's order. */
  private async finishEntries(root: string, dir: string, { dirents, onHelper, answer }: EntryBatch): Promise<FileInfo[]> {
    const out: (FileInfo | undefined)[] = new Array(dirents.length);
    let h = 0;
    for (let i = 0; i < dirents.length; i++) {
      if (h < onHelper.length && onHelper[h] === i) { h++; continue; }
      out[i] = this.entryInfoSync(root, dir, dirents[i]!);
    }
    if (answer) {
      const stats = await answer;
      for (let k = 0; k < onHelper.length; k++) {
        const i = onHelper[k]!;
        out[i] = stats ? toInfoFromNumbers(dirents[i]!.name, stats, k) : this.entryInfoSync(root, dir, dirents[i]!);
      }
    }
    return out.filter((e): e is FileInfo => e !== undefined);
  }

  /** entryInfo without promises, for direct (synchronous) metadata calls. */
  private entryInfoSync(root: string, dir: string, d: fs.Dirent): FileInfo | undefined {
    const full = dir + '/' + d.name;
    try {
      if (d.isSymbolicLink()) {
        let target: string | undefined;
        try { target = fs.realpathSync.native(full); } catch { target = undefined; }
        if (target && this.inside(root, target)) return toInfo(d.name, fs.statSync(target));
        return { ...toInfo(d.name, fs.lstatSync(full)), size: 0 };
      }
      return toInfo(d.name, fs.lstatSync(full));
    } catch {
      return undefined; // removed while listing
    }
  }

  private async entryInfo(root: string, dir: string, d: fs.Dirent): Promise<FileInfo | undefined> {
    const full = path.join(dir, d.name);
    try {
      if (d.isSymbolicLink()) {
        // A link shows as what it points to while that stays inside the root; where a link
        // leads outside is never shown.
        const target = await Promise.resolve().then(() => this.ops.realpath(full)).catch(() => undefined);
        if (target && this.inside(root, target)) return toInfo(d.name, await this.ops.stat(target));
        return { ...toInfo(d.name, await this.ops.lstat(full)), size: 0 };
      }
      return toInfo(d.name, await this.ops.lstat(full));
    } catch {
      return undefined; // vanished between readdir and stat
    }
  }

  async createReadStream(vpath: string, options: { start?: number } = {}): Promise<Readable> {
    const real = await this.real(vpath);
    const fd = await guard(() => this.ops.open(real, READ_FLAGS, 0));
    try {
      const st = await this.ops.fstat(fd);
      if (st.isDirectory()) throw new StorageError('EISDIR');
      if (!st.isFile()) throw new StorageError('EACCES', 'not a regular file');
      const start = options.start ?? 0;
      const length = Math.max(0, st.size - start);
      if (this.ops === direct && length <= SMALL_FILE) {
        const buf = Buffer.allocUnsafe(length);
        const n = length ? fs.readSync(fd, buf, 0, length, start) : 0;
        fs.closeSync(fd);
        return Readable.from(n ? [buf.subarray(0, n)] : [], { objectMode: false });
      }
      return fs.createReadStream(real, { fd, start, highWaterMark: chunkFor(length), autoClose: true });
    } catch (err) {
      await Promise.resolve(this.ops.close(fd)).catch(() => undefined);
      return mapError(err);
    }
  }

  async openReader(vpath: string): Promise<FileReader> {
    const real = await this.real(vpath);
    const fd = await guard(() => this.ops.open(real, READ_FLAGS, 0));
    const st = await Promise.resolve().then(() => this.ops.fstat(fd)).catch(async (err) => { await Promise.resolve(this.ops.close(fd)).catch(() => undefined); return mapError(err); });
    if (!st.isFile()) {
      await Promise.resolve(this.ops.close(fd)).catch(() => undefined);
      throw new StorageError(st.isDirectory() ? 'EISDIR' : 'EACCES');
    }
    const inline = this.ops === direct;
    let closed = false;
    return {
      size: st.size,
      // A small read made directly costs less than the thread-pool round trip around it.
      read: async (buffer, length, position) => (inline && length <= SMALL_FILE
        ? guardSync(() => fs.readSync(fd, buffer, 0, length, position))
        : (await readAsync(fd, buffer, 0, length, position)).bytesRead),
      close: async () => { if (!closed) { closed = true; await Promise.resolve(this.ops.close(fd)).catch(() => undefined); } },
    };
  }

  /** Open (create, truncate or keep a prefix) with the checks every upload gets; returns the fd. */
  private async openForWrite(vpath: string, options: WriteOptions): Promise<number> {
    const real = await this.real(vpath, true);
    const c = fs.constants;
    const st = await Promise.resolve().then(() => this.ops.stat(real)).catch(() => undefined);
    if (st?.isDirectory()) throw new StorageError('EISDIR');
    // A FIFO or device is never written; O_NONBLOCK below covers one that appears meanwhile.
    if (st && !st.isFile()) throw new StorageError('EACCES', 'not a regular file');
    if (options.start && (!st || st.size < options.start)) throw new StorageError('EINVAL', 'restart beyond end of file');
    let flags = c.O_WRONLY | c.O_CREAT | c.O_NOFOLLOW | c.O_NONBLOCK;
    if (options.exclusive) flags |= c.O_EXCL;
    if (options.append) flags |= c.O_APPEND;
    else if (!options.start) flags |= c.O_TRUNC;
    const fd = await guard(() => this.ops.open(real, flags, this.fileMode));
    try {
      // REST n + STOR: keep the first n bytes, replace the rest with what the client sends.
      if (options.start) await this.ops.ftruncate(fd, options.start);
    } catch (err) {
      await Promise.resolve(this.ops.close(fd)).catch(() => undefined);
      return mapError(err);
    }
    return fd;
  }

  async createWriteStream(vpath: string, options: WriteOptions = {}): Promise<Writable> {
    const fd = await this.openForWrite(vpath, options);
    // A deep buffer keeps the socket flowing while the previous writev runs on the thread pool.
    return fs.createWriteStream('', { fd, start: options.append ? undefined : options.start ?? 0, highWaterMark: UPLOAD_BUFFER });
  }

  async openWriter(vpath: string, options: WriteOptions = {}): Promise<FileWriter & { start: number }> {
    const fd = await this.openForWrite(vpath, options);
    const append = options.append === true;
    return { start: append ? 0 : options.start ?? 0, ...fdWriter(fd, append, (d) => this.ops.close(d), this.ops === direct) };
  }

  async mkdir(vpath: string): Promise<void> {
    const real = await this.real(vpath, true);
    await guard(() => this.ops.mkdir(real, this.dirMode));
  }

  async rmdir(vpath: string): Promise<void> {
    const real = await this.realNoFollow(vpath);
    await guard(() => this.ops.rmdir(real));
  }

  async unlink(vpath: string): Promise<void> {
    const real = await this.realNoFollow(vpath);
    const st = await guard(() => this.ops.lstat(real));
    if (st.isDirectory()) throw new StorageError('EISDIR');
    await guard(() => this.ops.unlink(real));
  }

  /**
   * Deleting or renaming acts on a link itself, not its target: resolve only the parent,
   * so removing a link that points outside the root removes the link and nothing else.
   */
  private async realNoFollow(vpath: string): Promise<string> {
    if (vpath === '/') throw new StorageError('EACCES', 'root');
    const parent = await this.real(path.posix.dirname(vpath));
    return path.join(parent, path.posix.basename(vpath));
  }

  async rename(from: string, to: string, options: RenameOptions = {}): Promise<void> {
    const src = await this.realNoFollow(from);
    const st = await guard(() => this.ops.lstat(src));
    const dst = await this.real(to, true);
    if (options.noReplace) { await this.renameNoReplace(src, dst, st.isDirectory()); return; }
    await guard(() => this.ops.rename(src, dst));
  }

  /**
   * rename(2) replaces what has the new name. A hard link is made only while nothing has it
   * (EEXIST otherwise, atomically), and the old name then goes. Folders cannot be linked, nor
   * files on file systems without hard links: for them the name is checked just before.
   */
  private async renameNoReplace(src: string, dst: string, isDir: boolean): Promise<void> {
    if (!isDir) {
      try {
        await this.ops.link(src, dst);
        await guard(() => this.ops.unlink(src));
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException)?.code;
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EMLINK') mapError(err);
      }
    }
    if (await Promise.resolve().then(() => this.ops.lstat(dst)).then(() => true, () => false)) throw new StorageError('EEXIST');
    await guard(() => this.ops.rename(src, dst));
  }

  async chmod(vpath: string, mode: number): Promise<void> {
    const real = await this.real(vpath);
    await guard(() => this.ops.chmod(real, mode & 0o777));
  }

  async setModified(vpath: string, date: Date): Promise<void> {
    const real = await this.real(vpath);
    const st = await guard(() => this.ops.stat(real));
    await guard(() => this.ops.utimes(real, st.atime, date));
  }
}
