// What a session needs from its server: resolved options, logger, TLS context, events, registry.
import type tls from 'node:tls';
import type { Logger } from '../logger.js';
import type { Authenticator, Account } from './auth/authenticator.js';
import type { Storage } from './storage/storage.js';
import type { Session } from './session.js';
import type { FtpServerEvents } from './events.js';
import type { RateLimit } from './policy/rate-limit.js';
import type { TransferRates } from '../transfer-limits.js';

export interface ResolvedOptions {
  greeting: string;
  pasvRange: [number, number] | undefined;
  /** IPv4 address advertised in 227 replies instead of the control connection's local address. */
  pasvAddress: () => string | undefined;
  maxCommandLength: number;
  timeouts: { login: number; idle: number; dataConnect: number; dataStall: number };
  requireTls: { control: boolean; data: boolean; anonymousExempt: boolean };
  requireTlsSessionReuse: boolean;
  allowForeignDataAddress: boolean;
  allowLowDataPorts: boolean;
  failedLoginDelayMs: number;
  maxLoginAttempts: number;
  commandRate: number;
  errorRate: number;
  atomicUploads: boolean;
  partialUploads: 'keep' | 'delete';
  maxRate: TransferRates;
  /** Bytes; 0: no limit. */
  maxUploadSize: number;
}

export interface ServerContext {
  options: ResolvedOptions;
  logger: Logger;
  /** Shared by every session; each keeps only its state (a number) per limit. */
  limits: { commands: RateLimit; errors: RateLimit };
  authenticator: Authenticator;
  /** The server's TLS context, undefined when TLS is not configured. */
  tlsContext(): tls.SecureContext | undefined;
  /**
   * The context one session's control and data connections use: the server's, or, when data
   * connections must resume the control connection's TLS session, one of the session's own.
   */
  sessionTlsContext(): tls.SecureContext | undefined;
  storageFor(account: Account): Storage;
  emit<E extends keyof FtpServerEvents>(event: E, payload: FtpServerEvents[E]): void;
  sessionClosed(session: Session): void;
  /** Record a failed login; true when the address is banned now. */
  loginFailed(remoteAddress: string): boolean;
  /** Banned addresses get no login at all, on sessions opened before the ban too. */
  isBanned(remoteAddress: string): boolean;
}
