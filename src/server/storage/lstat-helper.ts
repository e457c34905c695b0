// A helper thread that lstats part of a big folder while the main thread does the rest.
import os from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * Numbers per entry in a response: mode, size, mtimeMs, dev, ino (NaN mode: entry gone).
 * Why a thread at all: a listing is almost all lstat calls, and Node spends about twice what C
 * does on each (measured 5 µs against 2.6 µs per entry); split over two cores a 10,000-entry
 * LIST takes about half as long, and the event loop is held half as long.
 */
export const FIELDS = 5;

export interface LstatRequest { id: number; dir: string; names: string[] }
export interface LstatResponse { id: number; stats: Float64Array }

let worker: Worker | undefined;
/** Set once the thread could not start or died: everything then stays on the main thread. */
let unavailable = os.availableParallelism() < 2;
/** Each request's resolve, by id. */
const pending = new Map<number, (stats: Float64Array | undefined) => void>();
let nextId = 1;

function failAll() {
  for (const resolve of pending.values()) resolve(undefined);
  pending.clear();
}

function start(): Worker | undefined {
  if (worker || unavailable) return worker;
  try {
    const w = new Worker(new URL('./lstat-worker.js', import.meta.url));
    w.on('message', ({ id, stats }: LstatResponse) => {
      const resolve = pending.get(id);
      if (!resolve) return;
      pending.delete(id);
      if (pending.size === 0) w.unref();
      resolve(stats);
    });
    const lost = () => {
      unavailable = true;
      worker = undefined;
      failAll();
    };
    w.on('error', lost);
    w.on('exit', lost);
    // Idle, the thread must not keep a process (a test, a CLI run) alive.
    w.unref();
    worker = w;
  } catch {
    unavailable = true;
  }
  return worker;
}

/** True when a helper thread can take work (more than one core, and it has not failed). */
export function helperAvailable(): boolean {
  return !unavailable;
}

/**
 * lstat `names` in the real folder `dir` on the helper thread. Resolves with FIELDS numbers per
 * name, or undefined if the thread is not available (the caller then does the work itself).
 */
export function lstatOnHelper(dir: string, names: string[]): Promise<Float64Array | undefined> {
  const w = start();
  if (!w) return Promise.resolve(undefined);
  const id = nextId++;
  return new Promise((resolve) => {
    pending.set(id, resolve);
    w.ref();
    const req: LstatRequest = { id, dir, names };
    w.postMessage(req);
  });
}
