// The binary transfer paths: file to data connection with two reused buffers, and data connection to file in large batches.
import type net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { FileReader, FileWriter } from '../server/storage/storage.js';
import { attachSink, detachSink, confirmEnd, type ReadSink } from './read-sink.js';

const CHUNK = 1024 * 1024;
/**
 * A socket that has taken every chunk before the next one was read is waiting on our reads, and
 * then each read's round trip through the thread pool is what limits: 4 MiB chunks took one
 * download from 1,390-1,600 to 2,050-2,470 MB/s on loopback and cut the server's CPU per GiB from
 * 610-740 to 420-490 ms (8 MiB did no better).
 */
const BIG_CHUNK = 4 * 1024 * 1024;
/**
 * Chunks in a row the socket must take before the next read is ready: more than the kernel's
 * send buffer and a slow reader's receive buffer hold, so an empty pipe does not pass for a fast client.
 */
const EAGER_CHUNKS = 16;
/**
 * Under TLS, Node encrypts a whole write into its own buffer before the socket takes any of it:
 * 64 KiB keeps that ciphertext in cache until it is copied out. FTPS downloads with curl as the
 * client: 663-720 MB/s, against 537-619 with 1 MiB, 523-666 with 256 KiB and 382-608 with 16 KiB.
 */
const TLS_CHUNK = 64 * 1024;

function write(socket: Duplex, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.write(data, (err) => (err ? reject(err) : resolve()));
  });
}

/** End the data connection (after `last`, if given); resolves once every byte is with the kernel. */
export function finish(socket: Duplex, last?: Buffer): Promise<void> {
  // Already closed (ABOR, a reset): its 'close' has gone by and end() would never call back. Node
  // reports writes cut short by destroy() as done, so nothing else says the bytes did not all go.
  if (socket.destroyed) return Promise.reject(new Error('data connection closed'));
  return new Promise((resolve, reject) => {
    const fail = (err?: Error) => { cleanup(); reject(err ?? new Error('data connection closed')); };
    const onClose = () => fail();
    const cleanup = () => { socket.off('error', fail); socket.off('close', onClose); };
    socket.once('error', fail);
    // A socket destroyed by ABOR emits 'close' without 'error' and would never finish.
    socket.once('close', onClose);
    const done = (err?: Error | null) => { if (err) fail(err); else { cleanup(); resolve(); } };
    if (last) socket.end(last, done); else socket.end(done);
  });
}

/**
 * While one buffer is on its way to the socket, the next chunk is read into the other; a buffer
 * is refilled only after the write that used it has completed, so nothing is overwritten in
 * flight. Two buffers per transfer instead of a fresh allocation per chunk removes most of the
 * garbage collection a large download otherwise costs. Plain downloads start with 1 MiB and move
 * to 4 MiB once the socket has waited on our reads for EAGER_CHUNKS chunks in a row (8 MiB per
 * transfer at most; a slow client keeps 2 MiB). Returns the bytes sent.
 */
export async function pumpFile(reader: FileReader, start: number, socket: Duplex, signal: AbortSignal): Promise<number> {
  const size = Math.max(0, reader.size - start);
  const secure = socket instanceof tls.TLSSocket;
  let chunk = Math.min(secure ? TLS_CHUNK : CHUNK, Math.max(size, 1));
  let buffers = [Buffer.allocUnsafe(chunk), Buffer.allocUnsafe(chunk)];
  let position = start;
  let sent = 0;
  let inFlight: Promise<void> = Promise.resolve();
  let written = false;
  const landed = () => { written = true; };
  let eager = 0;
  for (let i = 0; ; i ^= 1) {
    if (signal.aborted) throw new Error('aborted');
    const buf = buffers[i]!;
    const n = await reader.read(buf, chunk, position);
    eager = written ? eager + 1 : 0;
    await inFlight;
    if (signal.aborted) throw new Error('aborted');
    if (n === 0) break;
    position += n;
    sent += n;
    written = false;
    inFlight = write(socket, n === chunk ? buf : buf.subarray(0, n));
    // A write that fails while a read is pending must still be observed, not left unhandled.
    inFlight.then(landed, () => {});
    if (eager === EAGER_CHUNKS && !secure && chunk < BIG_CHUNK && size - sent > BIG_CHUNK) {
      // The buffer being written stays with its write; both new ones are free.
      chunk = BIG_CHUNK;
      buffers = [Buffer.allocUnsafe(chunk), Buffer.allocUnsafe(chunk)];
    }
  }
  await finish(socket);
  return sent;
}

const BATCH = 1024 * 1024;
/**
 * Blocks start small (most uploads are, and a slow client's reads are small whatever the
 * block); a block filled by big reads shows the data is waiting for us, and the next ones are
 * big enough for a read of up to 4 MiB. So memory per upload is 768 KiB at most for a slow client,
 * 12 MiB for one that outruns the disk.
 */
const SMALL_BLOCK = 256 * 1024;
const BIG_BLOCK = 4 * 1024 * 1024;
/** Reads this big on average mean data waits in the socket for us: worth big blocks. */
const BIG_READS = 128 * 1024;
/**
 * Big blocks go back to small ones only when reads fall this low (a client that slowed down).
 * Without the gap, a sender of 64 KiB segments flipped the size every block: 4 MiB filled by 64
 * KiB reads looked slow, 256 KiB filled by the same reads looked fast, and each flip allocated
 * fresh blocks (35,000 page faults per GiB downloaded from vsftpd, against 700 for lftp).
 */
const SMALL_READS = 16 * 1024;
/** One filling, one being written, one queued: reading pauses only when two wait for the disk. */
const MAX_BLOCKS = 3;
/**
 * Small blocks left by finished transfers, for the next ones: without them every transfer
 * allocated a fresh 256 KiB, and a mirror of 2,000 small files spent more CPU in the garbage
 * collector (external memory drives full collections) than in its own code.
 */
const spareBlocks: Buffer[] = [];
const MAX_SPARE = 4;
const takeSmallBlock = () => spareBlocks.pop() ?? Buffer.allocUnsafe(SMALL_BLOCK);
/** Only once no read or write can still reach the block. */
const keepSpare = (block: Buffer) => {
  if (block.length === SMALL_BLOCK && spareBlocks.length < MAX_SPARE) spareBlocks.push(block);
};
const HIGH_WATER = 16 * 1024 * 1024;

/** How a transfer into a file stands; `settle` ends it once. */
interface Ending {
  /** The peer's end has been confirmed (confirmEnd): what is buffered is all there is. */
  ended: boolean;
  settled: boolean;
  /** The write in progress: a failure is reported only once it has landed. */
  inflight: Promise<void>;
  settle(err?: Error): void;
}

/**
 * The ways a transfer into a file ends, for both paths: 'end' (after `atEnd`, confirmed as an
 * end and not a reset) sets `ended` and calls `onEnded`; an error, a close before the end or an
 * abort settle it as failed. `cleanup` runs at once on settling; `reject` waits for the write in
 * progress, so a client that sees the error reply finds a settled prefix on disk, not a write
 * still in progress.
 */
function watchEnding(socket: Duplex, signal: AbortSignal, hooks: { atEnd?: () => void; onEnded: () => void;
  cleanup: () => void; resolve: () => void; reject: (err: Error) => void }): Ending {
  const onEnd = () => {
    hooks.atEnd?.();
    confirmEnd(socket, () => { e.ended = true; hooks.onEnded(); }, e.settle);
  };
  const onError = (err: Error) => e.settle(err);
  const onClose = () => { if (!e.ended) e.settle(new Error('data connection closed before the end of the upload')); };
  const onAbort = () => e.settle(new Error('aborted'));
  const e: Ending = {
    ended: false,
    settled: false,
    inflight: Promise.resolve(),
    settle: (err?: Error) => {
      if (e.settled) return;
      e.settled = true;
      hooks.cleanup();
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
      if (err) void e.inflight.then(() => hooks.reject(err)); else hooks.resolve();
    },
  };
  socket.once('end', onEnd);
  socket.once('error', onError);
  socket.once('close', onClose);
  signal.addEventListener('abort', onAbort, { once: true });
  // A TLS socket reads from its handshake on: an empty upload can have ended, or closed, before
  // the transfer got here, and those events do not come again.
  if (socket.readableEnded || socket.destroyed) {
    process.nextTick(() => { if (!e.settled) (socket.readableEnded ? onEnd : onClose)(); });
  }
  return e;
}

/**
 * Data connection into a file (server uploads, client downloads). A steerable socket
 * (io/read-sink.ts) reads straight into reused blocks; any other (TLS) has its chunks (64 KiB,
 * or 16 KiB under TLS) gathered into one writev per batch while the socket keeps being read,
 * pausing only when 16 MiB wait for the disk. Resolves with the bytes received once all are
 * written (`onBytes` hears of each read: progress); a connection that closes without a clean
 * end is an error (the peer went away mid-transfer). An error `onBytes` returns (a size limit
 * passed) ends the transfer with it at once: that read and any not yet written stay out of the file.
 */
export function pumpToFile(socket: Duplex, writer: FileWriter, start: number, signal: AbortSignal,
  onBytes?: (n: number) => Error | void): Promise<number> {
  const blocks = pumpBlocksToFile(socket, writer, start, signal, onBytes);
  if (blocks) return blocks;
  return new Promise((resolve, reject) => {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let position = start;
    let received = 0;
    let writing = false;
    let paused = false;

    const flush = () => {
      if (writing || ending.settled) return;
      if (pendingBytes === 0) { if (ending.ended) ending.settle(); return; }
      if (!ending.ended && pendingBytes < BATCH) return;
      const batch = pending;
      const n = pendingBytes;
      pending = [];
      pendingBytes = 0;
      writing = true;
      ending.inflight = writer.writev(batch, position).then(() => {
        position += n;
        writing = false;
        if (paused && pendingBytes < HIGH_WATER / 2) { paused = false; socket.resume(); }
        flush();
      }, (err: Error) => ending.settle(err));
    };
    const onData = (c: Buffer) => {
      received += c.length;
      const stop = onBytes?.(c.length);
      if (stop) { ending.settle(stop); return; }
      pending.push(c);
      pendingBytes += c.length;
      if (pendingBytes >= HIGH_WATER && !paused) { paused = true; socket.pause(); }
      flush();
    };
    const ending = watchEnding(socket, signal, {
      onEnded: flush,
      cleanup: () => socket.off('data', onData),
      resolve: () => resolve(received),
      reject,
    });
    socket.on('data', onData);
    // The data connection may have been paused while the transfer was set up.
    socket.resume();
  });
}

/**
 * The binary upload path for steerable sockets (read-sink.ts): reads land directly in up to three
 * blocks, each written whole, in order, once full (or at the end), then reused. Undefined when
 * the socket cannot be steered (TLS, or a socket from elsewhere): the caller uses 'data' events.
 */
function pumpBlocksToFile(socket: Duplex, writer: FileWriter, start: number, signal: AbortSignal,
  onBytes?: (n: number) => Error | void): Promise<number> | undefined {
  let received = 0;
  let position = start;
  // Always free memory: the socket's next read goes to its unfilled part.
  let current: Buffer = takeSmallBlock();
  let reads = 0;
  let want = SMALL_BLOCK;
  let fill = 0;
  let alive = 1;
  const free: Buffer[] = [];
  const queue: { chunk: Buffer; block?: Buffer }[] = [];
  let writing = false;
  let paused = false;
  // Set right after the sink is attached, before any read can arrive (reads come from the event loop).
  let ending!: Ending;

  const canTake = () => free.length > 0 || alive < MAX_BLOCKS;
  const take = () => free.pop() ?? (alive++, Buffer.allocUnsafe(want));
  // A written block comes back, unless blocks of another size are wanted now.
  const recycle = (block: Buffer) => { if (block.length !== want) alive--; else free.push(block); };
  const pump = () => {
    if (writing || ending.settled) return;
    const item = queue.shift();
    if (!item) { if (ending.ended) ending.settle(); return; }
    writing = true;
    ending.inflight = writer.writev([item.chunk], position).then(() => {
      position += item.chunk.length;
      writing = false;
      if (item.block) recycle(item.block);
      if (paused && canTake()) { paused = false; socket.resume(); }
      pump();
    }, (err: Error) => ending.settle(err));
  };
  const submitCurrent = () => {
    if (fill === 0) return;
    const average = fill / reads;
    const size = want === BIG_BLOCK ? (average < SMALL_READS ? SMALL_BLOCK : BIG_BLOCK)
      : (average >= BIG_READS ? BIG_BLOCK : SMALL_BLOCK);
    if (size !== want) { want = size; alive -= free.length; free.length = 0; }
    reads = 0;
    queue.push({ chunk: current.subarray(0, fill), block: current });
    fill = 0;
    current = take();
  };
  /** Count a read; false when onBytes stopped the transfer (settled: nothing more is queued or written). */
  const count = (n: number) => {
    received += n;
    const stop = onBytes?.(n);
    if (stop) ending.settle(stop);
    return !stop;
  };
  /** After a read that queued something: write it, and pause while two blocks wait for the disk. */
  const queued = () => {
    pump();
    if (canTake()) return true;
    // Stop reading (into the empty current block) until a block is back.
    paused = true;
    return false;
  };
  const sink: ReadSink = {
    next: () => current.subarray(fill),
    data: (n) => {
      if (!count(n)) return false;
      fill += n;
      reads++;
      if (fill < current.length) return true;
      submitCurrent();
      return queued();
    },
    copied: (chunk) => {
      if (!count(chunk.length)) return false;
      queue.push({ chunk });
      return queued();
    },
  };
  if (!attachSink(socket, sink)) { keepSpare(current); return undefined; }
  // Settled, the sink detached and no write in progress: blocks still queued are never written.
  const release = () => { keepSpare(current); for (const block of free) keepSpare(block); free.length = 0; };

  return new Promise<number>((resolve, reject) => {
    ending = watchEnding(socket, signal, {
      atEnd: () => { if (fill) { queue.push({ chunk: current.subarray(0, fill) }); fill = 0; } },
      onEnded: pump,
      cleanup: () => detachSink(socket),
      resolve: () => { release(); resolve(received); },
      reject: (err) => { release(); reject(err); },
    });
    socket.resume();
  });
}
