// TLS material for the server: PEM files from disk, or a generated self-signed certificate for development.
import fsp from 'node:fs/promises';
import crypto from 'node:crypto';
import net from 'node:net';
import type { TlsOptions } from './server.js';

export interface LoadedTls extends TlsOptions {
  /** The leaf certificate (the first of a chain), for logging its subject and expiry. */
  leaf: crypto.X509Certificate;
}

async function readPem(file: string, setting: string): Promise<Buffer> {
  return fsp.readFile(file).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`${setting} ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.message}`);
  });
}

/**
 * Read and check a certificate and its key, so a mistake (files swapped, a key from another
 * certificate) is reported with the file at fault instead of an OpenSSL code at listen or SIGHUP.
 */
export async function loadTlsFiles(certFile: string, keyFile: string): Promise<LoadedTls> {
  const [cert, key] = await Promise.all([readPem(certFile, 'tls-cert'), readPem(keyFile, 'tls-key')]);
  let leaf: crypto.X509Certificate;
  try { leaf = new crypto.X509Certificate(cert); } catch {
    throw new Error(`tls-cert ${certFile}: not a PEM certificate`);
  }
  let privateKey: crypto.KeyObject;
  try { privateKey = crypto.createPrivateKey(key); } catch {
    throw new Error(`tls-key ${keyFile}: not a PEM private key (or it is encrypted)`);
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new Error(`tls-key ${keyFile} is not the key of the certificate in tls-cert ${certFile} (the first certificate of the file must be the server's)`);
  }
  return { cert, key, leaf };
}

export interface SelfSigned extends TlsOptions {
  /** SHA-256 fingerprint, as clients show it, so a user can check what they accept. */
  fingerprint256: string;
}

/** An EC certificate for localhost and the given names, valid a year: development only. */
export async function selfSignedCertificate(names: string[] = []): Promise<SelfSigned> {
  const altNames = [
    { type: 2 as const, value: 'localhost' },
    { type: 7 as const, ip: '127.0.0.1' },
    { type: 7 as const, ip: '::1' },
    // An address must be an IP entry: clients check addresses against those only.
    ...names.map((n) => (net.isIP(n) ? { type: 7 as const, ip: n } : { type: 2 as const, value: n })),
  ];
  // Loaded on first use: the library is large and most runs never generate a certificate.
  const { generate } = await import('selfsigned');
  const pems = await generate([{ name: 'commonName', value: names[0] ?? 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames }],
  });
  const fingerprint256 = new crypto.X509Certificate(pems.cert).fingerprint256;
  return { cert: pems.cert, key: pems.private, fingerprint256 };
}
