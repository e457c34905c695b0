// Shared by the client subcommands: URL + flags + credentials -> a logged-in FtpClient, and exit codes.
import fs from 'node:fs';
import { FtpClient, type FtpClientOptions } from '../client/client.js';
import { FtpConnectionError, FtpError, FtpTimeoutError } from '../client/errors.js';
import { parseFtpUrl, redactUrl, type FtpUrl } from '../client/url.js';
import { TransferSizeError } from '../client/mirror.js';
import { promptPassword, resolveCredentials } from './credentials.js';
import { printable } from './terminal-text.js';

/** Exit codes scripts can rely on (documented in the README). */
export const EXIT = {
  ok: 0,
  /** A local problem: file not found, disk full, bad local path. */
  local: 1,
  /** Bad command line. */
  usage: 2,
  /** Could not connect, TLS failed, or the login was refused. */
  connect: 3,
  /** The server refused an operation (4xx/5xx reply). */
  remote: 4,
  /** The connection broke or timed out in the middle. */
  interrupted: 5,
  /** Cancelled with Ctrl-C. */
  cancelled: 130,
} as const;

export interface ClientFlags {
  insecure?: boolean;
  active?: boolean;
  ca?: string;
  timeout?: string;
  verbose?: boolean;
  quiet?: boolean;
  limitRate?: string;
}

export class CliError extends Error {
  constructor(message: string, readonly exitCode: number) { super(message); }
}

/** The FTP path a URL names: relative to the login folder (RFC 1738), absolute with `%2F` or `//`. */
export function remotePathOf(url: FtpUrl): string {
  return url.path.replace(/^\//, '');
}

/** Anything that looks like a URL, from its scheme to the next space or quote. */
const URL_LIKE = /[A-Za-z][A-Za-z0-9+.-]*:[\\/]+[^\s'"`]*/g;

/**
 * A message fit to print: the password of every URL in it replaced by `****` (a URL given where a
 * local path was expected ends up in fs errors, `path.join` folds its `//`), and each of `secrets`
 * too, raw and %-encoded, wherever it appears (a server reply quoting it). Secrets shorter than
 * four characters are left: replacing every `a` of a message would hide nothing and garble it.
 */
export function redactSecrets(message: string, secrets: readonly (string | undefined)[] = []): string {
  let out = message.replace(URL_LIKE, (u) => redactUrl(u));
  for (const s of secrets) {
    if (!s || s.length < 4) continue;
    for (const form of new Set([s, encodeURIComponent(s)])) out = out.split(form).join('****');
  }
  return out;
}

export function parseUrl(text: string): FtpUrl {
  try { return parseFtpUrl(text); } catch (err) { throw new CliError((err as Error).message, EXIT.usage); }
}

export async function clientOptions(url: FtpUrl, flags: ClientFlags): Promise<FtpClientOptions> {
  const cred = resolveCredentials({ host: url.host, urlUser: url.user, urlPassword: url.password });
  let password = cred.password;
  if (password === undefined) {
    try { password = await promptPassword(`Password for ${cred.user}@${url.host}: `); } catch (err) {
      throw new CliError((err as Error).message, (err as Error).message === 'cancelled' ? EXIT.cancelled : EXIT.connect);
    }
  }
  const seconds = flags.timeout ? Number(flags.timeout) : undefined;
  if (seconds !== undefined && !(seconds > 0)) throw new CliError(`--timeout wants seconds > 0, got ${flags.timeout}`, EXIT.usage);
  const tls: FtpClientOptions['tls'] = {};
  if (flags.insecure) tls.rejectUnauthorized = false;
  if (flags.ca) {
    try { tls.ca = fs.readFileSync(flags.ca); } catch (err) { throw new CliError(`--ca: ${(err as Error).message}`, EXIT.local); }
  }
  return {
    host: url.host,
    port: url.port,
    user: cred.user,
    password,
    security: url.security,
    tls,
    passive: !flags.active,
    timeouts: seconds ? { connect: seconds * 1000, reply: seconds * 1000, dataIdle: seconds * 1000 } : undefined,
    // PASS is hidden by the client already; a server that echoes the password in a reply is not.
    // Reply lines are the server's text: control characters shown, not obeyed by the terminal.
    log: flags.verbose ? (line) => process.stderr.write(`${printable(cred.source === 'anonymous' ? line : redactSecrets(line, [password]))}\n`) : undefined,
  };
}

/** Connect and log in; failures become exit code 3 with a message that never includes the password. */
export async function connectClient(options: FtpClientOptions): Promise<FtpClient> {
  try {
    return await FtpClient.connect(options);
  } catch (err) {
    const where = `${options.host}:${options.port}`;
    if (err instanceof FtpError) throw new CliError(`${where}: ${err.code === 530 ? 'login refused' : 'connection refused by the server'} (${err.code} ${err.reply})`, EXIT.connect);
    throw new CliError(`${where}: ${(err as Error).message}`, EXIT.connect);
  }
}

/** Map any error from a client operation to a message and an exit code. */
export function classify(err: unknown): { message: string; code: number } {
  if (err instanceof CliError) return { message: err.message, code: err.exitCode };
  if (err instanceof FtpError) return { message: err.message, code: EXIT.remote };
  if (err instanceof FtpTimeoutError || err instanceof FtpConnectionError || err instanceof TransferSizeError) return { message: err.message, code: EXIT.interrupted };
  if ((err as Error)?.name === 'AbortError') return { message: 'cancelled', code: EXIT.cancelled };
  const e = err as NodeJS.ErrnoException;
  if (e?.code && typeof e.code === 'string' && e.syscall) return { message: e.message, code: EXIT.local };
  return { message: e?.message ?? String(err), code: EXIT.local };
}
