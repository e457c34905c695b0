// FTP URLs as FileZilla spells them: ftp:// plain, ftpes:// explicit TLS, ftps:// implicit TLS.

export type Security = 'none' | 'explicit' | 'implicit';

export interface FtpUrl {
  host: string;
  port: number;
  user: string | undefined;
  password: string | undefined;
  security: Security;
  /** Path after the host, percent-decoded; "/" when none. */
  path: string;
}

/**
 * `text` (a URL, or something meant as one) with the password of its user-info replaced by `****`,
 * for messages that quote it. Works on text that does not parse as well: everything between the
 * first `:` after `scheme://` and the last `@` goes, which may hide more than the password (an `@`
 * in the path) but never less (a password holding `/`, `@` or spaces).
 */
export function redactUrl(text: string): string {
  const at = text.lastIndexOf('@');
  if (at < 0) return text;
  const start = /^[A-Za-z][A-Za-z0-9+.-]*:[\\/]{2,}/.exec(text)?.[0].length ?? 0;
  const colon = text.indexOf(':', start);
  if (colon < 0 || colon > at) return text;
  return `${text.slice(0, colon + 1)}****${text.slice(at)}`;
}

export function parseFtpUrl(text: string): FtpUrl {
  let url: URL;
  try { url = new URL(text); } catch { throw new Error(`not a URL: ${redactUrl(text)}`); }
  const scheme = url.protocol.replace(/:$/, '').toLowerCase();
  const security: Security | undefined = scheme === 'ftp' ? 'none' : scheme === 'ftpes' ? 'explicit' : scheme === 'ftps' ? 'implicit' : undefined;
  if (!security) throw new Error(`unsupported scheme ${scheme}: use ftp://, ftpes:// or ftps://`);
  if (!url.hostname) throw new Error(`no host in ${redactUrl(text)}`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port ? Number(url.port) : security === 'implicit' ? 990 : 21;
  const decode = (v: string, what: string) => {
    if (!v) return undefined;
    try { return decodeURIComponent(v); } catch { throw new Error(`bad %-escape in the ${what} of ${redactUrl(text)}`); }
  };
  return {
    host, port, user: decode(url.username, 'user name'), password: decode(url.password, 'password'), security,
    path: decode(url.pathname, 'path') || '/',
  };
}
