// TLS material for the server: PEM files from disk, or a generated self-signed certificate for development.
import fsp from 'node:fs/promises';
import crypto from 'node:crypto';
import type { TlsOptions } from './server.js';

export async function loadTlsFiles(certFile: string, keyFile: string): Promise<TlsOptions> {
  const [cert, key] = await Promise.all([fsp.readFile(certFile), fsp.readFile(keyFile)]);
  return { cert, key };
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
    ...names.map((n) => ({ type: 2 as const, value: n })),
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
