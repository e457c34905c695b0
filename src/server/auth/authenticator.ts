// The Authenticator interface and the built-in account source: named users plus optional anonymous.
import crypto from 'node:crypto';
import type { Storage } from '../storage/storage.js';
import { type Permissions, ALL_PERMISSIONS, READ_ONLY, permissionsFrom } from '../permissions.js';
import { checkedRates, parseSize, type TransferRates } from '../../transfer-limits.js';

export interface LoginRequest {
  username: string;
  password: string;
  remoteAddress: string;
  /** True when the control connection is protected by TLS. */
  secure: boolean;
}

/** A logged-in identity: where its files are and what it may do. */
export interface Account {
  username: string;
  /** Folder on disk that becomes "/" for this user (used when no storage is given). */
  root?: string;
  /** A storage backend of its own (in-memory, object store...); wins over root. */
  storage?: Storage;
  permissions: Permissions;
  /** Permissions that depend on the folder (virtual path); when present, handlers ask it. */
  permissionsFor?: (path: string) => Permissions;
  anonymous?: boolean;
  /** Bandwidth for this account's file transfers (bytes per second, 0: none); wins over the server's `maxRate`. */
  maxRate?: TransferRates;
  /** The largest file this account's uploads may make (bytes, 0: none); wins over the server's `maxUploadSize`. */
  maxUploadSize?: number;
}

/** Plug in any account source: return the account, or undefined to refuse the login. */
export interface Authenticator {
  authenticate(request: LoginRequest): Promise<Account | undefined>;
}

export const ANONYMOUS_NAMES = new Set(['anonymous', 'ftp']);

/** Compare secrets in time that depends on neither content nor where they differ. */
export function safeEqual(a: string, b: string): boolean {
  const ha = crypto.createHash('sha256').update(a).digest();
  const hb = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(ha, hb);
}

export interface StaticUser {
  username: string;
  /** Plain password (development only) ... */
  password?: string;
  /** ... or a verifier, e.g. for scrypt hashes from a users file. */
  verify?: (password: string) => Promise<boolean>;
  root?: string;
  permissions?: Partial<Permissions>;
  /** Bandwidth for this user's transfers; wins over the server's `maxRate`. */
  maxRate?: TransferRates;
  /** The largest file this user's uploads may make, bytes; wins over the server's `maxUploadSize`. */
  maxUploadSize?: number;
}

export interface AnonymousOptions {
  root?: string;
  permissions?: Partial<Permissions>;
  /** Bandwidth for anonymous transfers (vsftpd's anon_max_rate); wins over the server's `maxRate`. */
  maxRate?: TransferRates;
  /** The largest file an anonymous upload may make (a drop box that cannot fill the disk in one go). */
  maxUploadSize?: number;
  /**
   * A folder (virtual path, e.g. "/incoming") where anonymous users may upload new files but not
   * list, download, overwrite or delete: the classic drop box.
   */
  uploadDir?: string;
}

/** Permissions inside an anonymous drop box: create new files, nothing else. */
const DROP_BOX: Permissions = {
  list: false, download: false, upload: true, overwrite: false, append: false,
  delete: false, rename: false, mkdir: false, rmdir: false, chmod: false,
};

function insideDir(dir: string, p: string): boolean {
  const d = dir.replace(/\/+$/, '') || '/';
  return p === d || p.startsWith(d === '/' ? '/' : d + '/');
}

/**
 * Users given in code or on the command line, plus the anonymous login when enabled. The accounts
 * it returns are shared by all sessions of a user and frozen: a wrapper that adjusts one returns a
 * copy (`{ ...account, permissions: { ...account.permissions, delete: false } }`). A user's root
 * and permissions are read when it is constructed.
 */
export class StaticAuthenticator implements Authenticator {
  private readonly users = new Map<string, { user: StaticUser; account: Account }>();
  private readonly anonymousAccount: Account | undefined;
  private readonly hasVerifiers: boolean;

  /**
   * `dummyVerify` runs for unknown user names when users have slow (hashed) passwords, so a
   * refusal takes as long for a name that does not exist as for a wrong password.
   */
  constructor(users: StaticUser[], anonymous?: AnonymousOptions,
    private readonly dummyVerify?: (password: string) => Promise<unknown>) {
    // One frozen account per user, shared by all its sessions (idle sessions are mostly memory).
    for (const u of users) {
      const permissions = Object.freeze(permissionsFrom(u.permissions, ALL_PERMISSIONS));
      const limits = {
        ...(u.maxRate ? { maxRate: Object.freeze(checkedRates(u.maxRate, `maxRate of ${u.username}`)) } : {}),
        ...(u.maxUploadSize !== undefined ? { maxUploadSize: parseSize(u.maxUploadSize, `maxUploadSize of ${u.username}`) } : {}),
      };
      this.users.set(u.username, { user: u, account: Object.freeze({ username: u.username, root: u.root, permissions, ...limits }) });
    }
    this.hasVerifiers = users.some((u) => u.verify);
    if (anonymous) {
      const permissions = Object.freeze(permissionsFrom(anonymous.permissions, READ_ONLY));
      const dropBox = anonymous.uploadDir;
      this.anonymousAccount = Object.freeze({
        username: 'anonymous', root: anonymous.root, permissions, anonymous: true,
        ...(anonymous.maxRate ? { maxRate: Object.freeze(checkedRates(anonymous.maxRate, 'anonymous maxRate')) } : {}),
        ...(anonymous.maxUploadSize !== undefined ? { maxUploadSize: parseSize(anonymous.maxUploadSize, 'anonymous maxUploadSize') } : {}),
        ...(dropBox ? { permissionsFor: (p: string) => (insideDir(dropBox, p) ? DROP_BOX : permissions) } : {}),
      });
    }
  }

  async authenticate(req: LoginRequest): Promise<Account | undefined> {
    const known = this.users.get(req.username);
    if (known) {
      const { user, account } = known;
      const ok = user.verify ? await user.verify(req.password) : safeEqual(req.password, user.password ?? crypto.randomUUID());
      return ok ? account : undefined;
    }
    if (this.anonymousAccount && ANONYMOUS_NAMES.has(req.username.toLowerCase())) return this.anonymousAccount;
    if (this.hasVerifiers) await this.dummyVerify?.(req.password);
    return undefined;
  }
}
