// The binary download path: file to data connection with two reused buffers, read-ahead and backpressure.
import type { Duplex } from 'node:stream';
import type { FileReader } from './storage/storage.js';

const CHUNK = 1024 * 1024;

function write(socket: Duplex, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.write(data, (err) => (err ? reject(err) : resolve()));
  });
}

function finish(socket: Duplex): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.end(() => { socket.removeListener('error', reject); resolve(); });
  });
}

/**
 * While one buffer is on its way to the socket, the next chunk is read into the other; a buffer
 * is refilled only after the write that used it has completed, so nothing is overwritten in
 * flight. Two buffers per transfer instead of a fresh 1 MiB allocation per chunk removes most of
 * the garbage collection a large download otherwise costs. Returns the bytes sent.
 */
export async function pumpFile(reader: FileReader, start: number, socket: Duplex, signal: AbortSignal): Promise<number> {
  const size = Math.max(0, reader.size - start);
  const chunk = Math.min(CHUNK, Math.max(size, 1));
  const buffers = [Buffer.allocUnsafe(chunk), Buffer.allocUnsafe(chunk)];
  let position = start;
  let sent = 0;
  let inFlight: Promise<void> = Promise.resolve();
  // A write that fails while a read is pending must still be observed, not left unhandled.
  inFlight.catch(() => {});
  for (let i = 0; ; i ^= 1) {
    if (signal.aborted) throw new Error('aborted');
    const buf = buffers[i]!;
    const n = await reader.read(buf, chunk, position);
    await inFlight;
    if (n === 0) break;
    position += n;
    sent += n;
    inFlight = write(socket, n === chunk ? buf : buf.subarray(0, n));
    inFlight.catch(() => {});
  }
  await finish(socket);
  return sent;
}
