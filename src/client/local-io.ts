// The local end of a transfer, as Move callbacks: downloads into a file or a Writable, uploads from a file or a Readable.
import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Transform, type Duplex, type Readable, type Writable } from 'node:stream';
import { LfToCrlf, CrlfToLf } from '../protocol/ascii.js';
import { fdWriter } from '../io/fd-writer.js';
import { pumpFile, pumpToFile } from '../io/file-pump.js';
import { throttle } from '../io/throttle.js';
import type { FileReader } from '../server/storage/storage.js';
import type { Move } from './transfer.js';

export interface LocalOptions {
  /** TYPE A: line ends converted between CRLF on the wire and LF here. */
  ascii?: boolean;
  /** Told of each chunk's bytes as they pass (progress). */
  count: (n: number) => void;
  /** Bytes per second at most (0 or absent: no limit). */
  rate?: number;
}

/** Download-only: take this many bytes, then ask for the rest of the transfer to be aborted (segments). */
export interface DownloadOptions extends LocalOptions { limit?: number }

export function intoStream(dest: Writable, options: DownloadOptions): Move<void> {
  return (data, abort, stopEarly) => receive(data, dest, abort, stopEarly, options);
}

/**
 * The file is opened (and truncated) only when the move starts, once the server has accepted the
 * RETR and the data connection is open: a refused download leaves an existing file as it was.
 * `onCreated` is told when the file did not exist, for the caller to remove it if nothing arrives.
 */
export function intoFile(file: string, offset: number, options: DownloadOptions & { onCreated: () => void }): Move<void> {
  return async (data, abort, stopEarly) => {
    const fd = openDestination(file, offset, options.onCreated);
    let regular: boolean;
    try { regular = fs.fstatSync(fd).isFile(); } catch (err) { fs.closeSync(fd); throw err; }
    if (regular && !options.ascii && options.limit === undefined && !options.rate) {
      // Binary into a regular file: socket chunks gathered into writev batches of 1 MiB and
      // more while the socket keeps flowing (the server's upload path), not a write per chunk.
      const writer = fdWriter(fd, false, fs.closeSync, true);
      try {
        await pumpToFile(data, writer, offset, abort, options.count);
      } catch (err) {
        await writer.close().catch(() => undefined);
        throw err;
      }
      await writer.close();
      return;
    }
    // Pipes, terminals and devices (/dev/stdout) take sequential writes, not positioned ones.
    const dest = fs.createWriteStream('', { fd, start: offset || undefined, highWaterMark: 1024 * 1024 });
    await receive(data, dest, abort, stopEarly, options);
  };
}

async function receive(data: Duplex, dest: Writable, abort: AbortSignal, stopEarly: () => void, options: DownloadOptions): Promise<void> {
  const limited: Readable = options.limit === undefined ? data : data.pipe(new Limit(options.limit, stopEarly));
  // Paced by not reading the data connection: TCP slows the server down. The connection itself is
  // the transfer's to close (closeData), so a step's end does not destroy it.
  const source = options.rate ? carryErrors(limited, throttle(options.rate)) : limited;
  source.on('data', (c: Buffer) => options.count(c.length));
  if (options.ascii) await pipeline(source, new CrlfToLf(), dest, { signal: abort });
  else await pipeline(source, dest, { signal: abort });
}

/**
 * Binary upload of an open regular file from `offset`: 1 MiB positional reads into two reused
 * buffers, each written while the next is read (the server's download path), instead of a stream
 * of fresh buffers.
 */
export function fromFile(fh: FileHandle, size: number, offset: number, count: (n: number) => void): Move<number> {
  const reader: FileReader = {
    size,
    read: async (buffer, length, position) => {
      const { bytesRead } = await fh.read(buffer, 0, length, position);
      count(bytesRead);
      return bytesRead;
    },
    close: () => fh.close(),
  };
  return (data, abort) => pumpFile(reader, offset, data, abort);
}

/** Upload-only: drop this many bytes of the input first (resuming from a pipe, which has no positions). */
export interface UploadOptions extends LocalOptions { skip?: number }

export function fromStream(input: Readable, options: UploadOptions): Move<void> {
  return async (data, abort) => {
    const skipped = options.skip ? withErrors(input, new Skip(options.skip)) : input;
    const local = options.rate ? withErrors(skipped, throttle(options.rate)) : skipped;
    local.on('data', (c: Buffer) => options.count(c.length));
    await pumpStream(options.ascii ? withErrors(local, new LfToCrlf()) : local, data, abort);
  };
}

/** Open a download's local file: created if missing (`onCreated` told), truncated if not; `r+` when resuming. */
function openDestination(file: string, offset: number, onCreated: () => void): number {
  if (offset > 0) return fs.openSync(file, 'r+');
  try {
    const fd = fs.openSync(file, 'wx');
    onCreated();
    return fd;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return fs.openSync(file, 'w');
  }
}

/** Pass at most `max` bytes, then end and report that the limit was reached. */
class Limit extends Transform {
  private left: number;
  constructor(max: number, private readonly reached: () => void) { super(); this.left = max; }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void) {
    if (this.left <= 0) { cb(); return; }
    const part = chunk.length <= this.left ? chunk : chunk.subarray(0, this.left);
    this.left -= part.length;
    cb(null, part);
    if (this.left === 0) { this.push(null); this.reached(); }
  }
}

/** Drop the first `count` bytes, pass the rest. */
class Skip extends Transform {
  constructor(private left: number) { super(); }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void) {
    if (this.left >= chunk.length) { this.left -= chunk.length; cb(); return; }
    const rest = chunk.subarray(this.left);
    this.left = 0;
    cb(null, rest);
  }
  // A source shorter than the offset would upload nothing and be reported as done.
  override _flush(cb: (err?: Error | null) => void) {
    cb(this.left > 0 ? new Error(`the input ended ${this.left} bytes before the resume offset`) : null);
  }
}

/**
 * Pipe `input` into an upload's data connection and end it. On abort or a failure the input is
 * stopped and destroyed, but the connection is left alone: how it closes is the caller's choice
 * (over TLS, close_notify first; see closeData in transfer.ts). pipeline() would reset it at once.
 */
function pumpStream(input: Readable, out: Writable, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      input.off('error', settle);
      out.off('error', settle);
      out.off('close', onClose);
      out.off('finish', onFinish);
      if (err) { input.unpipe(out); input.destroy(); reject(err); } else resolve();
    };
    const onAbort = () => settle(new Error('aborted'));
    // The message is how dataConnectionBroke (transfer.ts) tells the server's doing from a local failure.
    const onClose = () => settle(new Error('data connection closed'));
    const onFinish = () => settle();
    if (signal.aborted) { onAbort(); return; }
    signal.addEventListener('abort', onAbort, { once: true });
    input.once('error', settle);
    out.once('error', settle);
    out.once('close', onClose);
    out.once('finish', onFinish);
    input.pipe(out);
  });
}

/** `input` piped through `transform`, its errors passed on. */
function carryErrors(input: Readable, transform: Transform): Readable {
  input.once('error', (err) => transform.destroy(err));
  return input.pipe(transform);
}

/** The same, and the input stops when the transform closes (an abort): for local sources. */
function withErrors(input: Readable, transform: Transform): Readable {
  transform.once('close', () => input.destroy());
  return carryErrors(input, transform);
}
