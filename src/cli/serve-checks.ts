// `wharf serve` startup checks: an operator's mistake is told in the terms of the settings, never as an OpenSSL or libuv code.
import fs from 'node:fs';
import path from 'node:path';
import type { ServeSettings } from './serve-config.js';

/** Settings that do nothing, or refuse every connection, without a certificate. */
export function checkTlsSettings(settings: ServeSettings): void {
  if (settings.tlsCert || settings.tlsKey) {
    if (!settings.tlsCert || !settings.tlsKey) throw new Error('--tls-cert and --tls-key go together');
    if (settings.tlsSelfSigned) throw new Error('--tls-self-signed and --tls-cert/--tls-key exclude each other');
    return;
  }
  if (settings.tlsSelfSigned) return;
  const needy = (['requireTls', 'requireTlsReuse', 'implicitTlsPort'] as const).filter((k) => settings[k] !== undefined && settings[k] !== false);
  if (needy.length) {
    const flags = needy.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ');
    throw new Error(`${flags} needs a certificate: --tls-cert FILE --tls-key FILE (or --tls-self-signed for development)`);
  }
}

/**
 * The folder must be readable by the user the server runs as, which with --run-as is known only
 * after the ports are bound: checked then, so a bad folder stops the start instead of failing every LIST.
 */
export function checkServedFolder(dir: string, what: string): void {
  try {
    fs.accessSync(dir, fs.constants.R_OK | fs.constants.X_OK);
  } catch {
    const uid = typeof process.getuid === 'function' ? ` (uid ${process.getuid()})` : '';
    throw new Error(`${what} ${dir} is not readable by the user wharf runs as${uid}`);
  }
}

/**
 * Files with secrets must lie outside every served folder: a TLS key or a config file (which may
 * list NAME:PASSWORD users) there can be downloaded (`wharf serve --tls-key k.pem` in the folder
 * holding it served the key to anonymous users), and a users file there can be read for its
 * hashes or rewritten by a user who may upload, who then gives himself any home and every right
 * once it reloads. Real paths, so a symbolic link does not hide one.
 */
export function checkSecretsNotServed(files: [flag: string, file: string | undefined][], folders: string[]): void {
  const real = (p: string) => { try { return fs.realpathSync.native(p); } catch { return path.resolve(p); } };
  const served = folders.map(real);
  for (const [flag, file] of files) {
    if (file === undefined) continue;
    const f = real(file);
    const dir = served.find((d) => f.startsWith(d.endsWith(path.sep) ? d : d + path.sep));
    if (dir) throw new Error(`${flag} ${file} is inside the served folder ${dir}: clients could download${flag === '--users' ? ' or rewrite' : ''} it; move it out`);
  }
}

/** Why the server could not start listening, in the operator's terms; other errors pass unchanged. */
export function explainListenError(err: unknown, settings: ServeSettings): Error {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string };
  const where = `${e.address ?? settings.host}:${e.port ?? settings.port}`;
  switch (e.code) {
    case 'EADDRINUSE': return new Error(`cannot listen on ${where}: the port is in use (another FTP server, or wharf already running?)`);
    case 'EACCES': return new Error(`cannot listen on ${where}: ports below 1024 need root or CAP_NET_BIND_SERVICE (see --run-as in docs/operations.md)`);
    case 'EADDRNOTAVAIL': return new Error(`cannot listen on ${where}: ${e.address ?? settings.host} is not an address of this machine (--host)`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN': {
      const setting = e.hostname !== undefined && e.hostname === settings.pasvAddress ? '--pasv-address' : '--host';
      return new Error(`${setting} ${e.hostname ?? ''}: host name not found`);
    }
    default: return err instanceof Error ? err : new Error(String(err));
  }
}
