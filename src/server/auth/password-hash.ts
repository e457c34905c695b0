// scrypt password hashes for users files: `scrypt$N$r$p$salt$hash`, verified in constant time.
import crypto from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(crypto.scrypt) as (pw: string, salt: Buffer, len: number, opts: crypto.ScryptOptions) => Promise<Buffer>;
const KEY_LEN = 32;
const DEFAULTS = { N: 16384, r: 8, p: 1 };

export async function hashPassword(password: string, params = DEFAULTS): Promise<string> {
  const salt = crypto.randomBytes(16);
  const key = await scrypt(password, salt, KEY_LEN, { ...params, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export function isPasswordHash(value: string): boolean {
  return /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/.test(value);
}

/** False for a wrong password or a malformed hash; never throws on input. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  if (!isPasswordHash(stored)) return false;
  const [, n, r, p, saltB64, keyB64] = stored.split('$') as [string, string, string, string, string, string];
  const N = Number(n), R = Number(r), P = Number(p);
  // Bounds keep a hostile users file from making each login cost seconds or gigabytes.
  if (N < 2 || N > 1 << 20 || (N & (N - 1)) !== 0 || R < 1 || R > 32 || P < 1 || P > 16) return false;
  const expected = Buffer.from(keyB64, 'base64');
  if (expected.length < 16) return false;
  const key = await scrypt(password, Buffer.from(saltB64, 'base64'), expected.length, { N, r: R, p: P, maxmem: 256 * 1024 * 1024 });
  return crypto.timingSafeEqual(key, expected);
}
