// The Storage interface: the virtual filesystem every handler talks to instead of `fs`.
import type { Readable, Writable } from 'node:stream';
import type { FileInfo } from '../../protocol/listing.js';

/**
 * Errors a backend throws are mapped to replies by code. Backends use these Node-style codes so
 * the local backend can pass `fs` errors through and the in-memory one can mimic them.
 */
export type StorageErrorCode = 'ENOENT' | 'EEXIST' | 'ENOTDIR' | 'EISDIR' | 'ENOTEMPTY' | 'EACCES' | 'EPERM' | 'EINVAL' | 'ENOSPC' | 'ELOOP';

export class StorageError extends Error {
  constructor(public readonly code: StorageErrorCode, message?: string) {
    super(message ?? code);
    this.name = 'StorageError';
  }
}

export interface WriteOptions {
  /** Start writing at this byte offset, keeping what comes before (REST + STOR). */
  start?: number;
  /** Append to the end (APPE). */
  append?: boolean;
  /** Fail with EEXIST if the file exists (STOU, no-overwrite policies). */
  exclusive?: boolean;
}

export interface RenameOptions {
  /**
   * Fail with EEXIST when `to` exists, atomically where the backend can: an upload or a rename by
   * a user who may not overwrite must not replace a file that appeared since it was checked.
   */
  noReplace?: boolean;
}

/** Positional reads into the caller's buffer, for backends that can: downloads then reuse buffers. */
export interface FileReader {
  readonly size: number;
  /** Read up to `length` bytes at `position` into `buffer`; 0 at the end of the file. */
  read(buffer: Buffer, length: number, position: number): Promise<number>;
  close(): Promise<void>;
}

/** Positional gathered writes, for backends that can: uploads then go to disk in large batches. */
export interface FileWriter {
  /** Write every byte of `buffers` at `position`. */
  writev(buffers: Buffer[], position: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * All paths are virtual: absolute, POSIX, already normalised by the protocol layer so they never
 * contain `..`. A backend must still guarantee nothing outside its root is reached (symbolic links).
 */
export interface Storage {
  stat(path: string): Promise<FileInfo>;
  /** Entries of a directory, streamed so a 100,000-entry listing does not sit in memory. */
  list(path: string): AsyncIterable<FileInfo>;
  /** Optional: the same entries in arrays, so a big listing costs a promise per batch, not per entry. */
  listBatches?(path: string): AsyncIterable<FileInfo[]>;
  createReadStream(path: string, options?: { start?: number }): Promise<Readable>;
  /** Optional: open a regular file for positional reads (the fast download path). */
  openReader?(path: string): Promise<FileReader>;
  createWriteStream(path: string, options?: WriteOptions): Promise<Writable>;
  /** Optional: open for positional batched writes (the fast upload path); same options and checks as createWriteStream. */
  openWriter?(path: string, options?: WriteOptions): Promise<FileWriter & { start: number }>;
  mkdir(path: string): Promise<void>;
  rmdir(path: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rename(from: string, to: string, options?: RenameOptions): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  setModified(path: string, date: Date): Promise<void>;
}
