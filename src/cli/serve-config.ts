// `wharf serve` settings: one typed shape for flags and config file, checked at the edge.
import fsp from 'node:fs/promises';
import path from 'node:path';
import { parseRate, parseSize } from '../transfer-limits.js';

export interface ServeSettings {
  host: string;
  port: number;
  root: string;
  user: string[];
  users?: string;
  anonymous: boolean;
  anonymousRoot?: string;
  pasvRange?: string;
  pasvAddress?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsSelfSigned: boolean;
  implicitTlsPort?: number;
  requireTls: boolean;
  requireTlsReuse: boolean;
  /** With requireTls: anonymous users may still log in and download without TLS (a public mirror beside private accounts). */
  anonymousWithoutTls: boolean;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  logFormat?: 'json' | 'pretty';
  idleTimeout?: number;
  anonymousUploadDir?: string;
  atomicUploads: boolean;
  partialUploads?: 'keep' | 'delete';
  maxSessions?: number;
  maxSessionsPerAddress?: number;
  banAfter?: number;
  runAs?: string;
  /** Octal, as a string ("022"): what new files and folders leave out of rw-rw-rw- and rwxrwxrwx. */
  umask?: string;
  allowFrom?: string[];
  denyFrom?: string[];
  /** Bandwidth per session, bytes per second or like "512K", "2M" (0: none). */
  maxDownloadRate?: string | number;
  maxUploadRate?: string | number;
  /** Both directions for anonymous sessions; wins over the two above for them. */
  anonymousMaxRate?: string | number;
  /** The largest file an upload may make, bytes or like "500M", "4G" (0: none). */
  maxUploadSize?: string | number;
  anonymousMaxUploadSize?: string | number;
}

type Kind = 'string' | 'number' | 'boolean' | 'string[]' | 'rate' | 'size';
const SCHEMA: Record<keyof ServeSettings, Kind> = {
  host: 'string', port: 'number', root: 'string', user: 'string[]', users: 'string', anonymous: 'boolean',
  anonymousRoot: 'string', pasvRange: 'string', pasvAddress: 'string', tlsCert: 'string', tlsKey: 'string',
  tlsSelfSigned: 'boolean', implicitTlsPort: 'number', requireTls: 'boolean', requireTlsReuse: 'boolean',
  anonymousWithoutTls: 'boolean',  logLevel: 'string', logFormat: 'string', idleTimeout: 'number', anonymousUploadDir: 'string',
  atomicUploads: 'boolean', partialUploads: 'string', maxSessions: 'number', maxSessionsPerAddress: 'number',
  banAfter: 'number', runAs: 'string', umask: 'string', allowFrom: 'string[]', denyFrom: 'string[]',
  maxDownloadRate: 'rate', maxUploadRate: 'rate', anonymousMaxRate: 'rate', maxUploadSize: 'size', anonymousMaxUploadSize: 'size',
};

const camel = (k: string) => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
export const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Lowest value of each number; 0 where it means "any free port" or "off", 1 where 0 would lock everyone out. */
const MINIMUM: Partial<Record<keyof ServeSettings, number>> = { idleTimeout: 1, maxSessions: 1 };
const CHOICES: Partial<Record<keyof ServeSettings, string[]>> = {
  logLevel: ['debug', 'info', 'warn', 'error'], logFormat: ['json', 'pretty'], partialUploads: ['keep', 'delete'],
};
/** Settings that name files: in a config file, relative to that file's folder (as homes in a users file are). */
const PATHS: (keyof ServeSettings)[] = ['root', 'users', 'tlsCert', 'tlsKey', 'anonymousRoot'];

function parses(parse: (v: string | number) => number, value: unknown): boolean {
  if (typeof value !== 'string' && typeof value !== 'number') return false;
  try { parse(value); return true; } catch { return false; }
}

/** Check a config object against the schema; names may be camelCase or kebab-case like the flags. */
export function validateSettings(raw: unknown, source: string): Partial<ServeSettings> {
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${source}: expected a mapping of settings`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const name = camel(key) as keyof ServeSettings;
    const kind = SCHEMA[name];
    // Messages name the setting as the operator wrote it: the flag on the command line, the key in a file.
    const shown = source === 'command line' ? `--${kebab(name)}` : `'${key}'`;
    if (!kind) throw new Error(`${source}: unknown setting ${shown}`);
    const min = MINIMUM[name] ?? 0;
    const max = name === 'port' || name === 'implicitTlsPort' ? 65535 : Infinity;
    const ok = kind === 'rate' || kind === 'size' ? parses(kind === 'rate' ? parseRate : parseSize, value)
      : kind === 'string[]' ? Array.isArray(value) && value.every((v) => typeof v === 'string')
      : kind === 'number' ? typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
      : typeof value === kind;
    if (!ok) {
      const want = kind === 'rate' ? 'bytes per second, like 512K or 2M (0: no limit; at least 1K)'
        : kind === 'size' ? 'a size in bytes, like 500M or 4G (0: no limit)'
        : kind === 'string[]' ? 'a list of strings'
        : kind === 'number' ? `a whole number from ${min}${max === Infinity ? ' up' : ` to ${max}`}`
        : name === 'pasvRange' ? 'a string like 50000-50100' : name === 'umask' ? 'an octal string like "022"' : `a ${kind}`;
      throw new Error(`${source}: ${shown} must be ${want}`);
    }
    const choices = CHOICES[name];
    if (choices && !choices.includes(value as string)) throw new Error(`${source}: ${shown} must be ${choices.join(', ')}`);
    out[name] = value;
  }
  return out as Partial<ServeSettings>;
}

export async function loadConfigFile(file: string): Promise<Partial<ServeSettings>> {
  const text = await fsp.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new Error(`config file ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.message}`);
  });
  // Loaded here, not at the top: `wharf get` never reads a config file and starts faster without the YAML parser.
  const { parseSettingsDocument } = await import('../settings-document.js');
  const settings = validateSettings(parseSettingsDocument(text, file), file);
  const base = path.dirname(path.resolve(file));
  for (const key of PATHS) {
    if (typeof settings[key] === 'string') (settings as Record<string, unknown>)[key] = path.resolve(base, settings[key] as string);
  }
  return settings;
}
