// Storage backed by a folder on disk, confined to it: symbolic links that lead outside are refused.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { FileInfo } from '../../protocol/listing.js';
import { StorageError, type Storage, type WriteOptions } from './storage.js';

const READ_CHUNK = 1024 * 1024;
const STAT_BATCH = 64;

function toInfo(name: string, st: fs.Stats, target?: string): FileInfo {
  return {
    name,
    type: st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'link' : 'other',
    size: st.isDirectory() ? 0 : st.size,
    modified: st.mtime,
    mode: st.mode & 0o7777,
    unique: `${st.dev.toString(16)}g${st.ino.toString(16)}`,
    ...(target !== undefined ? { target } : {}),
  };
}

/** fs errors keep their code; anything unexpected becomes EACCES so no internal detail leaks. */
function mapError(err: unknown): never {
  const code = (err as NodeJS.ErrnoException)?.code;
  const known = ['ENOENT', 'EEXIST', 'ENOTDIR', 'EISDIR', 'ENOTEMPTY', 'EACCES', 'EPERM', 'EINVAL', 'ENOSPC', 'ELOOP'];
  if (err instanceof StorageError) throw err;
  throw new StorageError((known.includes(code ?? '') ? code : 'EACCES') as StorageError['code']);
}

export class LocalStorage implements Storage {
  private rootReal: string | undefined;

  constructor(private readonly root: string) {}

  /** The root's real path, resolved once: everything is checked against it. */
  private async realRoot(): Promise<string> {
    if (!this.rootReal) this.rootReal = await fsp.realpath(this.root).catch(mapError);
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
    const root = await this.realRoot();
    const joined = path.join(root, ...vpath.split('/').filter(Boolean));
    try {
      const resolved = await fsp.realpath(joined);
      if (!this.inside(root, resolved)) throw new StorageError('EACCES', 'outside root');
      return resolved;
    } catch (err) {
      if (!mayNotExist || (err as NodeJS.ErrnoException).code !== 'ENOENT') mapError(err);
      // A dangling symlink in the final place must not be followed when creating.
      const st = await fsp.lstat(joined).catch(() => undefined);
      if (st?.isSymbolicLink()) throw new StorageError('EACCES', 'dangling link');
      const parent = await fsp.realpath(path.dirname(joined)).catch(mapError);
      if (!this.inside(root, parent)) throw new StorageError('EACCES', 'outside root');
      return path.join(parent, path.basename(joined));
    }
  }

  async stat(vpath: string): Promise<FileInfo> {
    const real = await this.real(vpath);
    const st = await fsp.stat(real).catch(mapError);
    return toInfo(vpath === '/' ? '/' : path.posix.basename(vpath), st);
  }

  async *list(vpath: string): AsyncIterable<FileInfo> {
    const root = await this.realRoot();
    const real = await this.real(vpath);
    const dir = await fsp.opendir(real, { bufferSize: 256 }).catch(mapError);
    let batch: fs.Dirent[] = [];
    const flush = async (): Promise<FileInfo[]> => {
      const infos = await Promise.all(batch.map(async (d) => {
        const full = path.join(real, d.name);
        try {
          if (d.isSymbolicLink()) {
            // Show a link as what it points to when that stays inside the root; never show
            // where a link leads outside it.
            const target = await fsp.realpath(full).catch(() => undefined);
            if (target && this.inside(root, target)) return toInfo(d.name, await fsp.stat(target));
            const lst = await fsp.lstat(full);
            return { ...toInfo(d.name, lst), size: 0 };
          }
          return toInfo(d.name, await fsp.lstat(full));
        } catch {
          return undefined; // vanished between readdir and stat
        }
      }));
      batch = [];
      return infos.filter((x): x is FileInfo => x !== undefined);
    };
    try {
      for await (const d of dir) {
        batch.push(d);
        if (batch.length >= STAT_BATCH) yield* await flush();
      }
      if (batch.length) yield* await flush();
    } catch (err) {
      mapError(err);
    }
  }

  async createReadStream(vpath: string, options: { start?: number } = {}): Promise<Readable> {
    const real = await this.real(vpath);
    const handle = await fsp.open(real, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW).catch(mapError);
    const st = await handle.stat();
    if (st.isDirectory()) { await handle.close(); throw new StorageError('EISDIR'); }
    if (!st.isFile()) { await handle.close(); throw new StorageError('EACCES', 'not a regular file'); }
    return handle.createReadStream({ start: options.start ?? 0, highWaterMark: READ_CHUNK });
  }

  async createWriteStream(vpath: string, options: WriteOptions = {}): Promise<Writable> {
    const real = await this.real(vpath, true);
    const c = fs.constants;
    const st = await fsp.stat(real).catch(() => undefined);
    if (st?.isDirectory()) throw new StorageError('EISDIR');
    let flags = c.O_WRONLY | c.O_CREAT | c.O_NOFOLLOW;
    if (options.exclusive) flags |= c.O_EXCL;
    if (options.append) flags |= c.O_APPEND;
    else if (!options.start) flags |= c.O_TRUNC;
    if (options.start && (!st || st.size < options.start)) throw new StorageError('EINVAL', 'restart beyond end of file');
    const handle = await fsp.open(real, flags, 0o644).catch(mapError);
    // REST n + STOR: keep the first n bytes, replace the rest with what the client sends.
    if (options.start) await handle.truncate(options.start).catch(async (e) => { await handle.close(); mapError(e); });
    return handle.createWriteStream({ start: options.append ? undefined : options.start ?? 0, highWaterMark: READ_CHUNK });
  }

  async mkdir(vpath: string): Promise<void> {
    await fsp.mkdir(await this.real(vpath, true)).catch(mapError);
  }

  async rmdir(vpath: string): Promise<void> {
    if (vpath === '/') throw new StorageError('EACCES', 'root');
    const real = await this.realNoFollow(vpath);
    await fsp.rmdir(real).catch(mapError);
  }

  async unlink(vpath: string): Promise<void> {
    const real = await this.realNoFollow(vpath);
    const st = await fsp.lstat(real).catch(mapError);
    if (st.isDirectory()) throw new StorageError('EISDIR');
    await fsp.unlink(real).catch(mapError);
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

  async rename(from: string, to: string): Promise<void> {
    const src = await this.realNoFollow(from);
    await fsp.lstat(src).catch(mapError);
    const dst = await this.real(to, true);
    await fsp.rename(src, dst).catch(mapError);
  }

  async chmod(vpath: string, mode: number): Promise<void> {
    await fsp.chmod(await this.real(vpath), mode & 0o777).catch(mapError);
  }

  async setModified(vpath: string, date: Date): Promise<void> {
    const real = await this.real(vpath);
    const st = await fsp.stat(real).catch(mapError);
    await fsp.utimes(real, st.atime, date).catch(mapError);
  }
}
