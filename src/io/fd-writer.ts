// Positional gathered writes to an open file descriptor: the FileWriter under uploads (server) and downloads (client).
import fs from 'node:fs';
import type { FileWriter } from '../server/storage/storage.js';

function writev(fd: number, buffers: Buffer[], position: number | null): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.writev(fd, buffers, position as number, (err, written) => (err ? reject(err) : resolve(written)));
  });
}

/** What is left of `buffers` after the first `n` bytes went out (a short write). */
function dropBytes(buffers: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < buffers.length && n >= buffers[i]!.length) { n -= buffers[i]!.length; i++; }
  if (i >= buffers.length) return [];
  return n ? [buffers[i]!.subarray(n), ...buffers.slice(i + 1)] : buffers.slice(i);
}

/** Batches up to this size are written directly when `inline`: cheaper than a thread-pool round trip. */
const INLINE_MAX = 64 * 1024;

/**
 * Writes go through the thread pool, each batch whole (short writes are continued); with
 * `inline`, small batches (a small file, or the tail of one) are written directly. With
 * `append` (O_APPEND) the kernel ignores positions, so none is passed. `close` closes the fd once.
 */
export function fdWriter(fd: number, append: boolean, closeFd: (fd: number) => unknown = fs.closeSync, inline = false): FileWriter {
  let closed = false;
  return {
    writev: async (buffers, position) => {
      let offset = position;
      let rest = buffers;
      const small = inline && buffers.reduce((n, b) => n + b.length, 0) <= INLINE_MAX;
      while (rest.length) {
        const wrote = small ? fs.writevSync(fd, rest, append ? undefined : offset) : await writev(fd, rest, append ? null : offset);
        offset += wrote;
        rest = dropBytes(rest, wrote);
      }
    },
    close: async () => { if (!closed) { closed = true; await Promise.resolve().then(() => closeFd(fd)).catch(() => undefined); } },
  };
}
