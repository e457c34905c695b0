// Counts one transfer's bytes and reports them at most every 100 ms and once at the end, not once per socket chunk.

export interface Progress {
  path: string;
  direction: 'download' | 'upload';
  bytes: number;
  /** Total size when known. */
  total?: number;
  /** Bytes per second since the transfer started. */
  rate: number;
}

export interface ProgressCounter {
  add(n: number): void;
  /** Reports now, however recent the last report: the final figure is never dropped by the throttle. */
  done(): void;
  readonly bytes: number;
}

export function progressCounter(file: string, direction: Progress['direction'], total: number | undefined, report: (p: Progress) => void): ProgressCounter {
  const started = Date.now();
  let bytes = 0;
  let last = 0;
  const emit = (force: boolean) => {
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    report({ path: file, direction, bytes, total, rate: bytes / Math.max(0.001, (now - started) / 1000) });
  };
  return {
    add: (n: number) => { bytes += n; emit(false); },
    done: () => emit(true),
    get bytes() { return bytes; },
  };
}
