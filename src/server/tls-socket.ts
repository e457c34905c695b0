// The server side of TLS over a socket wharf accepted itself (control after AUTH TLS or implicit, and data).
import type { Duplex } from 'node:stream';
import tls from 'node:tls';

/**
 * A server TLSSocket over `raw` that ends on a TLS error after its handshake. Node reports such
 * errors (a corrupt or forged record, a bad MAC) through 'error' only for sockets a tls.Server
 * accepted; on one wrapped by hand they surface only as the internal '_tlsError' event, and the
 * connection otherwise sat open, reading nothing, until a timeout. Every 'error' passes through
 * that event as well: network errors (an EPIPE writing close_notify to a client that has gone
 * while its upload is still being read) are left to the socket's own handlers.
 */
export function serverTlsSocket(raw: Duplex, context: tls.SecureContext): tls.TLSSocket {
  const socket = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
  socket.on('_tlsError', (err: Error & { code?: string }) => {
    if (!socket.destroyed && err.code?.startsWith('ERR_SSL_')) socket.destroy(err);
  });
  return socket;
}
