// Accounts from a users file (JSON or YAML) with scrypt hashes, reloaded when the file changes.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../logger.js';
import type { Permissions } from '../permissions.js';
import { StaticAuthenticator, type Account, type AnonymousOptions, type Authenticator, type LoginRequest, type StaticUser } from './authenticator.js';
import { isPasswordHash, verifyPassword } from './password-hash.js';
import { parseSettingsDocument } from '../../settings-document.js';
import { parseRate, parseSize, type TransferRates } from '../../transfer-limits.js';

/** A valid hash of a random secret: verifying against it costs what a real check costs. */
const DUMMY_HASH = 'scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA==$' + Buffer.alloc(32, 7).toString('base64');

const PERMISSION_NAMES: (keyof Permissions)[] = ['list', 'download', 'upload', 'overwrite', 'append', 'delete', 'rename', 'mkdir', 'rmdir', 'chmod'];
/** Every field an entry may have: a misspelt `home` or `permissions` would otherwise grant the whole root, with every right. */
const ENTRY_FIELDS = new Set(['username', 'password', 'home', 'root', 'permissions', 'maxDownloadRate', 'maxUploadRate', 'maxUploadSize']);

/** Parse and check a users file's text; throws with the entry and field at fault. */
export function parseUsersFile(text: string, file: string, baseDir: string): StaticUser[] {
  const doc = parseSettingsDocument(text, file) as { users?: unknown } | unknown[] | null;
  const list: unknown = Array.isArray(doc) ? doc : (doc as { users?: unknown } | null)?.users;
  if (!Array.isArray(list)) throw new Error(`${file}: expected a list of users (or {users: [...]})`);
  const seen = new Set<string>();
  return list.map((raw: unknown, i: number) => {
    const e = raw as Record<string, unknown>;
    const where = `${file}: user #${i + 1}`;
    if (typeof e !== 'object' || e === null || Array.isArray(e)) throw new Error(`${where}: expected a mapping (username, password, home, permissions)`);
    if (typeof e.username !== 'string' || !e.username) throw new Error(`${where}: username missing`);
    for (const key of Object.keys(e)) {
      if (!ENTRY_FIELDS.has(key)) throw new Error(`${where} (${e.username}): unknown field '${key}' (known: username, password, home, permissions, maxDownloadRate, maxUploadRate, maxUploadSize)`);
    }
    if (seen.has(e.username)) throw new Error(`${where}: user ${e.username} is listed twice`);
    seen.add(e.username);
    if (typeof e.password !== 'string' || !isPasswordHash(e.password)) {
      throw new Error(`${where} (${e.username}): password must be a scrypt hash from 'wharf passwd'`);
    }
    const home = e.home ?? e.root;
    if (home !== undefined && typeof home !== 'string') throw new Error(`${where}: home must be a folder path`);
    let permissions: Partial<Permissions> | undefined;
    if (e.permissions !== undefined) {
      permissions = {};
      const p = e.permissions;
      if (Array.isArray(p)) {
        // A list names what is allowed; everything else is denied.
        for (const name of PERMISSION_NAMES) permissions[name] = p.includes(name);
        for (const name of p) if (!PERMISSION_NAMES.includes(name)) throw new Error(`${where}: unknown permission ${String(name)}`);
      } else if (typeof p === 'object' && p) {
        for (const [k, v] of Object.entries(p)) {
          if (!PERMISSION_NAMES.includes(k as keyof Permissions) || typeof v !== 'boolean') throw new Error(`${where}: bad permission ${k}`);
          permissions[k as keyof Permissions] = v;
        }
      } else throw new Error(`${where}: permissions must be a list or an object`);
    }
    // A limit field, parsed (undefined when absent); `example` says what it should look like.
    const limit = (field: string, parse: (v: string | number, what: string) => number, example: string) => {
      const v = e[field];
      if (v === undefined) return undefined;
      if (typeof v !== 'string' && typeof v !== 'number') throw new Error(`${where} (${e.username}): ${field} must be like ${example}`);
      return parse(v, `${where} (${e.username}): ${field}`);
    };
    const maxRate: TransferRates = {};
    const download = limit('maxDownloadRate', parseRate, '512K or 2M');
    const upload = limit('maxUploadRate', parseRate, '512K or 2M');
    if (download !== undefined) maxRate.download = download;
    if (upload !== undefined) maxRate.upload = upload;
    const maxUploadSize = limit('maxUploadSize', parseSize, '500M or 4G');
    const hash = e.password;
    return {
      username: e.username,
      verify: (pw: string) => verifyPassword(pw, hash),
      root: home === undefined ? undefined : path.resolve(baseDir, home),
      permissions,
      ...(Object.keys(maxRate).length ? { maxRate } : {}),
      ...(maxUploadSize !== undefined ? { maxUploadSize } : {}),
    };
  });
}

export class UsersFileAuthenticator implements Authenticator {
  private inner: StaticAuthenticator | undefined;
  private watcher: fs.StatWatcher | undefined;
  private loadedHomes: string[] = [];

  constructor(private readonly file: string, private readonly anonymous: AnonymousOptions | undefined,
    private readonly logger: Logger) {}

  async load(): Promise<void> {
    const text = await fsp.readFile(this.file, 'utf8');
    const users = parseUsersFile(text, this.file, path.dirname(path.resolve(this.file)));
    this.inner = new StaticAuthenticator(users, this.anonymous, (pw) => verifyPassword(pw, DUMMY_HASH));
    this.loadedHomes = users.flatMap((u) => (u.root === undefined ? [] : [u.root]));
    this.logger.info({ file: this.file, users: users.length }, 'users file loaded');
    // Said now rather than at each refused login: a typo in a home is found when the file is saved.
    for (const u of users) {
      if (u.root && !(await fsp.stat(u.root).catch(() => undefined))?.isDirectory()) {
        this.logger.warn({ file: this.file, user: u.username, home: u.root }, 'home folder not found: this user cannot log in until it exists');
      }
    }
  }

  /** The home folders the file gives its users (absolute): folders served beside the root. */
  homes(): string[] {
    return [...this.loadedHomes];
  }

  /** Poll for changes: works on every filesystem and survives editors that replace the file. */
  watch(intervalMs = 2000): void {
    this.watcher = fs.watchFile(this.file, { interval: intervalMs, persistent: false }, (cur, prev) => {
      if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size) return;
      this.load().catch((err: Error) => this.logger.error({ file: this.file, err: err.message }, 'users file not reloaded; keeping the previous accounts'));
    });
  }

  unwatch(): void {
    if (this.watcher) fs.unwatchFile(this.file);
  }

  authenticate(request: LoginRequest): Promise<Account | undefined> {
    if (!this.inner) return Promise.resolve(undefined);
    return this.inner.authenticate(request);
  }
}
