// Bandwidth and upload-size limits: their shape and how people write them ("512K", "2M", "4G"), for the server and the client.
/** Bytes per second; 0 or absent: no limit. */
export interface TransferRates {
  download?: number;
  upload?: number;
}

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * A whole number of bytes, or a number with K, M, G or T (binary multiples, an optional "B", and
 * for rates "/s": "512K", "1.5M", "10MB/s"). Undefined when the text is none of these.
 */
function parseBytes(value: string | number, perSecond: boolean): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?(\/s)?\s*$/i.exec(value);
  const n = m && (perSecond || !m[3]) ? Math.round(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!) : NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A rate in bytes per second (see parseBytes); 0 means no limit. Throws on anything else. */
export function parseRate(value: string | number, what = 'rate'): number {
  const rate = parseBytes(value, true);
  if (rate === undefined) throw new Error(`${what} must be bytes per second, like 512K or 2M (got '${value}')`);
  // Below 1 KiB/s a transfer would crawl for minutes between pieces: a likely slip (bytes for KiB).
  if (rate > 0 && rate < 1024) throw new Error(`${what} must be 0 (no limit) or at least 1K (1024 bytes per second)`);
  return rate;
}

/** A size in bytes (see parseBytes), e.g. the largest file an upload may make; 0 means no limit. */
export function parseSize(value: string | number, what = 'size'): number {
  const size = parseBytes(value, false);
  if (size === undefined) throw new Error(`${what} must be a size in bytes, like 500M or 4G (got '${value}')`);
  return size;
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
