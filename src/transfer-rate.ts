// Bandwidth limits: their shape and how people write them ("500K", "2M", bytes per second), for the server and the client.
/** Bytes per second; 0 or absent: no limit. */
export interface TransferRates {
  download?: number;
  upload?: number;
}

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/**
 * A rate as a whole number of bytes per second, or a number with K, M or G (binary multiples,
 * an optional "B" and "/s": "512K", "1.5M", "10MB/s"). 0 means no limit. Throws on anything else.
 */
export function parseRate(value: string | number, what = 'rate'): number {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return checked(value, what);
    throw new Error(`${what} must be a whole number of bytes per second, or like 512K or 2M`);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?(?:\/s)?\s*$/i.exec(value);
  const rate = m ? Math.round(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!) : NaN;
  if (!Number.isSafeInteger(rate)) throw new Error(`${what} must be bytes per second, like 512K or 2M (got '${value}')`);
  return checked(rate, what);
}

/** Below 1 KiB/s a transfer would crawl for minutes between pieces: refuse it as a likely slip (bytes for KiB). */
function checked(rate: number, what: string): number {
  if (rate > 0 && rate < 1024) throw new Error(`${what} must be 0 (no limit) or at least 1K (1024 bytes per second)`);
  return rate;
}

/**
 * Rates as given in code, checked (each a rate parseRate accepts). A direction left out stays out:
 * an account that limits only uploads keeps the server's download limit.
 */
export function checkedRates(rates: TransferRates | undefined, what: string): TransferRates {
  if (rates === undefined) return {};
  if (typeof rates !== 'object' || rates === null) throw new Error(`${what} must be { download?, upload? } in bytes per second`);
  const out: TransferRates = {};
  if (rates.download !== undefined) out.download = parseRate(rates.download, `${what}.download`);
  if (rates.upload !== undefined) out.upload = parseRate(rates.upload, `${what}.upload`);
  return out;
}
