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

export function parseFtpUrl(text: string): FtpUrl {
  let url: URL;
  try { url = new URL(text); } catch { throw new Error(`not a URL: ${text}`); }
  const scheme = url.protocol.replace(/:$/, '').toLowerCase();
  const security: Security | undefined = scheme === 'ftp' ? 'none' : scheme === 'ftpes' ? 'explicit' : scheme === 'ftps' ? 'implicit' : undefined;
  if (!security) throw new Error(`unsupported scheme ${scheme}: use ftp://, ftpes:// or ftps://`);
  if (!url.hostname) throw new Error(`no host in ${text}`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port ? Number(url.port) : security === 'implicit' ? 990 : 21;
  const decode = (v: string) => (v ? decodeURIComponent(v) : undefined);
  return { host, port, user: decode(url.username), password: decode(url.password), security, path: decodeURIComponent(url.pathname || '/') || '/' };
}
