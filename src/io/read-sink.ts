// Plain TCP sockets whose reads can be steered into caller-owned blocks (Node's onread), for transfers into files.
import net from 'node:net';
import { Duplex } from 'node:stream';

/**
 * Where reads go while a sink is attached. Why: read through 'data' events, every socket read
 * lands in a freshly allocated 64 KiB buffer; on a 2-core VM a 1 GiB upload to the server then
 * cost the machine 1.8-2.3 s of CPU against 0.7-0.8 s reading into reused 4 MiB blocks (a read
 * per ~4 MiB instead of 16,384 reads, and each read's window update is what makes loopback TCP
 * do the sender's work in the reader's system call).
 */
export interface ReadSink {
  /** The free memory the next read fills. */
  next(): Buffer;
  /** `n` bytes were read into the start of the memory next() last gave; false pauses reading. */
  data(n: number): boolean;
  /**
   * A read that landed elsewhere (the socket asked for its buffer before the sink was attached),
   * copied out; false pauses reading.
   */
  copied(chunk: Buffer): boolean;
}

/** Reads while no sink is attached are copied out at once, so one buffer serves every socket. */
const SCRATCH = Buffer.allocUnsafe(64 * 1024);

interface SinkState { sink: ReadSink | undefined; socket: net.Socket | undefined }
const states = new WeakMap<net.Socket, SinkState>();

interface HandleCarrier { _handle?: { useUserBuffer?: unknown } | null }

/**
 * The onread hook behind a steerable socket: the sink's memory when attached, else copies into
 * 'data'. Node asks for the next read's buffer right after each read, so the read after a sink is
 * attached still lands in the scratch buffer: `from` says whose memory a read landed in.
 */
function hook(state: SinkState) {
  let from: ReadSink | undefined;
  return {
    buffer: () => { from = state.sink; return from?.next() ?? SCRATCH; },
    callback: (n: number, buf: Buffer) => {
      const sink = state.sink;
      if (sink && sink === from) return sink.data(n);
      const chunk = Buffer.from(buf.subarray(0, n));
      return sink ? sink.copied(chunk) : state.socket!.push(chunk);
    },
  };
}

/**
 * Re-create an accepted, paused, plain socket around the same handle with an onread hook (the
 * option exists only for sockets Node creates on connect). Until a sink is attached it behaves
 * as any socket: reads are copied into 'data' events with backpressure. Anything unexpected
 * about the socket (no handle, already reading, data buffered) leaves it as it was.
 */
export function steerableSocket(s: net.Socket): net.Socket {
  const carrier = s as unknown as HandleCarrier;
  const handle = carrier._handle;
  if (!handle || typeof handle.useUserBuffer !== 'function' || s.readableLength > 0 || s.readableFlowing) return s;
  const state: SinkState = { sink: undefined, socket: undefined };
  carrier._handle = null;
  // Half-open: after the client's end our side stays open until the transfer closes it, so
  // pumpBlocksToFile can tell an end from a reset.
  const t = new net.Socket({ handle, pauseOnCreate: true, allowHalfOpen: true, onread: hook(state) } as unknown as net.SocketConstructorOpts);
  state.socket = t;
  // The old object no longer owns the handle: destroying it only releases the server's count.
  s.destroy();
  states.set(t, state);
  return t;
}

/** net.connect for a plain connection whose reads can later be steered into a sink. */
export function connectSteerable(options: net.TcpNetConnectOpts): net.Socket {
  const state: SinkState = { sink: undefined, socket: undefined };
  const s = net.connect({ ...options, onread: hook(state) } as net.TcpNetConnectOpts);
  state.socket = s;
  states.set(s, state);
  return s;
}

/**
 * Steer `socket`'s reads into `sink` (true), or false when the socket is not steerable or has
 * data waiting in its stream already. The first read after attaching may still land in the
 * shared scratch buffer: the sink gets a copy of it through copied().
 */
export function attachSink(socket: unknown, sink: ReadSink): boolean {
  const state = states.get(socket as net.Socket);
  // Bytes already copied into the stream (a small file that came in whole before the transfer
  // started) are the stream's to deliver: the caller then reads through 'data' events.
  if (!state || state.socket!.readableLength > 0) return false;
  state.sink = sink;
  return true;
}

export function detachSink(socket: unknown): void {
  const state = states.get(socket as net.Socket);
  if (state) state.sink = undefined;
}

const NOTHING = Buffer.alloc(0);

/**
 * After 'end': `done` for a real end, `fail` for a reset. libuv reports a reset that arrives with
 * the last queued bytes as an end of stream, and Node takes the failed shutdown that follows for
 * success. A write (of nothing) tells them apart: after the peer's FIN our side is still open,
 * after a reset it fails. A reset upload must not count as complete (--atomic-uploads would put
 * it in place). Only half-open sockets (steered uploads) keep our side open for this; others
 * end as before.
 */
export function confirmEnd(socket: Duplex, done: () => void, fail: (err: Error) => void): void {
  if (!(socket as net.Socket).allowHalfOpen) { done(); return; }
  socket.write(NOTHING, (err) => (err ? fail(err) : done()));
}

/** Reads land in a slab of this size; a slab with less than MIN_READ left is replaced. */
const SLAB = 1024 * 1024;
const MIN_READ = 64 * 1024;

/**
 * A Duplex over a steerable socket whose reads land in 1 MiB slabs, for a TLS socket to wrap when
 * it receives a transfer. Read by itself, a TLS socket takes at most 64 KiB per read (26,700 reads
 * for 1 GiB uploaded), each into fresh memory: on this VM the page faults and window updates cost
 * the server more than the decryption (2.5-3.0 s of CPU per GiB). The TLS socket copies what it is
 * given at once, so while nothing is left buffered here one slab serves every read (1.9-2.2 s per
 * GiB, FTPS uploads 450-560 -> 630-650 MB/s). Writes, end and destroy go to the socket. Undefined
 * when the socket is not steerable.
 */
export function slabReader(socket: net.Socket): Duplex | undefined {
  let slab = Buffer.allocUnsafe(SLAB);
  let used = 0;
  const d = new Duplex({
    read: () => { socket.resume(); },
    write: (chunk: Buffer, _enc, cb) => { socket.write(chunk, cb); },
    final: (cb) => { socket.end(cb); },
    destroy: (err, cb) => { socket.destroy(err ?? undefined); cb(err); },
  });
  const sink: ReadSink = {
    next: () => {
      if (SLAB - used < MIN_READ) { slab = Buffer.allocUnsafe(SLAB); used = 0; }
      return slab.subarray(used);
    },
    data: (n) => {
      const more = d.push(slab.subarray(used, used + n));
      // Taken at once: the same memory serves the next read. Still buffered (the reader is
      // paused): it stays untouched, and the next read goes after it.
      if (d.readableLength === 0) used = 0; else used += n;
      return more;
    },
    copied: (chunk) => d.push(chunk),
  };
  if (!attachSink(socket, sink)) return undefined;
  // TLS takes an end of its stream without close_notify as a clean end (clients do close that
  // way), so a reset taken for an end below it would complete a cut upload: confirm it first.
  socket.on('end', () => confirmEnd(socket, () => d.push(null), (err) => d.destroy(err)));
  socket.on('error', (err) => d.destroy(err));
  socket.on('close', () => d.destroy());
  return d;
}
