// `wharf serve` settings: one typed shape for flags and config file, checked at the edge.
import fsp from 'node:fs/promises';

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
}

type Kind = 'string' | 'number' | 'boolean' | 'string[]';
const SCHEMA: Record<keyof ServeSettings, Kind> = {
  host: 'string', port: 'number', root: 'string', user: 'string[]', users: 'string', anonymous: 'boolean',
  anonymousRoot: 'string', pasvRange: 'string', pasvAddress: 'string', tlsCert: 'string', tlsKey: 'string',
  tlsSelfSigned: 'boolean', implicitTlsPort: 'number', requireTls: 'boolean', requireTlsReuse: 'boolean',
  logLevel: 'string', logFormat: 'string', idleTimeout: 'number', anonymousUploadDir: 'string',
  atomicUploads: 'boolean', partialUploads: 'string', maxSessions: 'number', maxSessionsPerAddress: 'number',
  banAfter: 'number', runAs: 'string',
};

const camel = (k: string) => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Check a config object against the schema; names may be camelCase or kebab-case like the flags. */
export function validateSettings(raw: unknown, source: string): Partial<ServeSettings> {
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${source}: expected a mapping of settings`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const name = camel(key) as keyof ServeSettings;
    const kind = SCHEMA[name];
    if (!kind) throw new Error(`${source}: unknown setting '${key}'`);
    const ok = kind === 'string[]' ? Array.isArray(value) && value.every((v) => typeof v === 'string')
      : kind === 'number' ? typeof value === 'number' && Number.isInteger(value) && value >= 0
      : typeof value === kind;
    if (!ok) throw new Error(`${source}: '${key}' must be ${kind === 'string[]' ? 'a list of strings' : `a ${kind}`}`);
    out[name] = value;
  }
  if (out.logLevel !== undefined && !['debug', 'info', 'warn', 'error'].includes(out.logLevel as string)) {
    throw new Error(`${source}: logLevel must be debug, info, warn or error`);
  }
  if (out.partialUploads !== undefined && !['keep', 'delete'].includes(out.partialUploads as string)) {
    throw new Error(`${source}: partialUploads must be keep or delete`);
  }
  if (out.port !== undefined && (out.port as number) > 65535) throw new Error(`${source}: port out of range`);
  return out as Partial<ServeSettings>;
}

export async function loadConfigFile(file: string): Promise<Partial<ServeSettings>> {
  const text = await fsp.readFile(file, 'utf8');
  const doc = file.endsWith('.json') ? JSON.parse(text) : (await import('yaml')).default.parse(text);
  return validateSettings(doc, file);
}
