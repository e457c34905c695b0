// Storage held in memory: for tests and for embedding apps that hand uploads straight to code.
import { Readable, Writable } from 'node:stream';
import type { FileInfo } from '../../protocol/listing.js';
import { StorageError, type RenameOptions, type Storage, type WriteOptions } from './storage.js';

interface Node {
  type: 'file' | 'dir';
  mode: number;
  modified: Date;
  id: number;
  children?: Map<string, Node>;
  data?: Buffer;
}

export class MemoryStorage implements Storage {
  private nextId = 1;
  private readonly root: Node = this.node('dir');

  private node(type: 'file' | 'dir'): Node {
    return type === 'dir'
      ? { type, mode: 0o755, modified: new Date(), id: this.nextId++, children: new Map() }
      : { type, mode: 0o644, modified: new Date(), id: this.nextId++, data: Buffer.alloc(0) };
  }

  private parts(p: string) { return p.split('/').filter(Boolean); }

  private lookup(p: string): Node {
    let cur = this.root;
    for (const seg of this.parts(p)) {
      if (cur.type !== 'dir') throw new StorageError('ENOTDIR');
      const next = cur.children!.get(seg);
      if (!next) throw new StorageError('ENOENT');
      cur = next;
    }
    return cur;
  }

  private parentOf(p: string): { dir: Node; name: string } {
    const parts = this.parts(p);
    const name = parts.pop();
    if (name === undefined) throw new StorageError('EACCES', 'root');
    const dir = this.lookup('/' + parts.join('/'));
    if (dir.type !== 'dir') throw new StorageError('ENOTDIR');
    return { dir, name };
  }

  private info(name: string, n: Node): FileInfo {
    return { name, type: n.type, size: n.data?.length ?? 0, modified: n.modified, mode: n.mode, unique: `m${n.id}` };
  }

  /** Put a file in place directly (test set-up, seeding an app's storage). */
  writeFile(p: string, data: Buffer | string): void {
    const { dir, name } = this.parentOf(p);
    const n = this.node('file');
    n.data = Buffer.from(data);
    dir.children!.set(name, n);
  }

  readFile(p: string): Buffer {
    const n = this.lookup(p);
    if (n.type !== 'file') throw new StorageError('EISDIR');
    return n.data!;
  }

  async stat(p: string): Promise<FileInfo> {
    const parts = this.parts(p);
    return this.info(parts[parts.length - 1] ?? '/', this.lookup(p));
  }

  async *list(p: string): AsyncIterable<FileInfo> {
    const n = this.lookup(p);
    if (n.type !== 'dir') throw new StorageError('ENOTDIR');
    for (const [name, child] of [...n.children!]) yield this.info(name, child);
  }

  async createReadStream(p: string, options: { start?: number } = {}): Promise<Readable> {
    const n = this.lookup(p);
    if (n.type !== 'file') throw new StorageError('EISDIR');
    return Readable.from([n.data!.subarray(options.start ?? 0)], { objectMode: false });
  }

  async createWriteStream(p: string, options: WriteOptions = {}): Promise<Writable> {
    const { dir, name } = this.parentOf(p);
    let n = dir.children!.get(name);
    if (n?.type === 'dir') throw new StorageError('EISDIR');
    if (n && options.exclusive) throw new StorageError('EEXIST');
    if (options.start && (!n || n.data!.length < options.start)) throw new StorageError('EINVAL');
    if (!n) { n = this.node('file'); dir.children!.set(name, n); }
    const file = n;
    const prefix = options.append ? file.data! : file.data!.subarray(0, options.start ?? 0);
    const chunks: Buffer[] = [prefix];
    if (!options.append) file.data = Buffer.from(prefix);
    return new Writable({
      write(chunk: Buffer, _enc, cb) { chunks.push(chunk); cb(); },
      final(cb) { file.data = Buffer.concat(chunks); file.modified = new Date(); cb(); },
    });
  }

  async mkdir(p: string): Promise<void> {
    const { dir, name } = this.parentOf(p);
    if (dir.children!.has(name)) throw new StorageError('EEXIST');
    dir.children!.set(name, this.node('dir'));
  }

  async rmdir(p: string): Promise<void> {
    const { dir, name } = this.parentOf(p);
    const n = dir.children!.get(name);
    if (!n) throw new StorageError('ENOENT');
    if (n.type !== 'dir') throw new StorageError('ENOTDIR');
    if (n.children!.size) throw new StorageError('ENOTEMPTY');
    dir.children!.delete(name);
  }

  async unlink(p: string): Promise<void> {
    const { dir, name } = this.parentOf(p);
    const n = dir.children!.get(name);
    if (!n) throw new StorageError('ENOENT');
    if (n.type === 'dir') throw new StorageError('EISDIR');
    dir.children!.delete(name);
  }

  async rename(from: string, to: string, options: RenameOptions = {}): Promise<void> {
    const src = this.parentOf(from);
    const n = src.dir.children!.get(src.name);
    if (!n) throw new StorageError('ENOENT');
    if (n.type === 'dir' && (to + '/').startsWith(from.replace(/\/?$/, '/'))) throw new StorageError('EINVAL');
    const dst = this.parentOf(to);
    if (options.noReplace && dst.dir.children!.has(dst.name)) throw new StorageError('EEXIST');
    src.dir.children!.delete(src.name);
    dst.dir.children!.set(dst.name, n);
  }

  async chmod(p: string, mode: number): Promise<void> { this.lookup(p).mode = mode & 0o777; }

  async setModified(p: string, date: Date): Promise<void> { this.lookup(p).modified = date; }
}
