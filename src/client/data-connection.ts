// Client data connections: EPSV first then PASV (with the NAT fix), or PORT/EPRT; TLS resuming the control session.
import net from 'node:net';
import tls from 'node:tls';
import { parseEpsvReply, parsePasvReply, encodeHostPort, encodeEprt, isPrivateOrUnroutable, normalizeIp } from '../protocol/address.js';
import type { ControlConnection } from './control.js';
import { connectSteerable } from '../io/read-sink.js';
import { FtpConnectionError, FtpError, FtpTimeoutError } from './errors.js';

export interface DataSettings {
  /** Connect to the host a 227 reply names even when it is not the control connection's peer. */
  trustPasvHost?: boolean;
  passive: boolean;
  /** Options for TLS on data connections (PROT P); undefined for clear data connections. */
  tls: tls.ConnectionOptions | undefined;
  host: string;
  timeoutMs: number;
  idleTimeoutMs: number;
}

/**
 * What the client learned about the server: whether EPSV works, and whether it refused the mode
 * asked for (passive or active) so that the other one is used from then on.
 */
export interface DataState { epsv: boolean | undefined; switched?: boolean }

/** A data connection set up before the transfer command; `open()` yields it once usable. */
export interface PendingData {
  open(): Promise<net.Socket>;
  destroy(): void;
}

/** `steerable`: a plain connection whose reads a download into a file takes into its own blocks. */
function connect(host: string, port: number, timeoutMs: number, steerable = false): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = steerable ? connectSteerable({ host, port, noDelay: true }) : net.connect({ host, port, noDelay: true });
    const timer = setTimeout(() => { s.destroy(); reject(new FtpTimeoutError(`data connection to ${host}:${port}`)); }, timeoutMs);
    s.once('connect', () => { clearTimeout(timer); s.removeAllListeners('error'); s.on('error', () => {}); resolve(s); });
    s.once('error', (err) => { clearTimeout(timer); reject(new FtpConnectionError(`data connection to ${host}:${port}: ${err.message}`, err)); });
  });
}

/**
 * Start TLS on a data socket as the client (RFC 4217: the FTP client is the TLS client in both
 * modes), offering the control connection's session so servers that demand reuse accept it.
 */
function secure(raw: net.Socket, ctl: ControlConnection, settings: DataSettings): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      socket: raw,
      // The name the certificate is checked against (without it Node checks "localhost").
      host: settings.host,
      servername: net.isIP(settings.host) ? undefined : settings.host,
      session: ctl.tlsSession,
      ...settings.tls,
    });
    const timer = setTimeout(() => { s.destroy(); reject(new FtpTimeoutError('TLS handshake on data connection')); }, settings.timeoutMs);
    s.once('secureConnect', () => { clearTimeout(timer); s.removeAllListeners('error'); s.on('error', () => {}); resolve(s); });
    s.once('error', (err) => { clearTimeout(timer); raw.destroy(); reject(new FtpConnectionError(`TLS on data connection: ${err.message}`, err)); });
  });
}

async function passiveAddress(ctl: ControlConnection, state: DataState, trustPasvHost: boolean): Promise<{ host: string; port: number }> {
  const peer = normalizeIp(ctl.remoteAddress);
  if (state.epsv !== false) {
    const r = await ctl.raw('EPSV');
    if (r.code === 229) {
      const port = parseEpsvReply(r.text);
      if (port === undefined) throw new FtpError(r.code, r.text, 'EPSV');
      state.epsv = true;
      return { host: peer, port };
    }
    if (state.epsv === true || r.code < 500) throw new FtpError(r.code, r.text, 'EPSV');
    state.epsv = false; // not supported here: PASV from now on
  }
  const r = await ctl.raw('PASV');
  if (r.code !== 227) throw new FtpError(r.code, r.text, 'PASV');
  const hp = parsePasvReply(r.text);
  if (!hp) throw new FtpError(r.code, r.text, 'PASV');
  // Servers behind NAT often advertise their private address: connect to the one we reached instead.
  // A public address other than the peer is ignored too unless trusted: a hostile server could
  // otherwise aim the client at any host:port it can reach (as curl does since CVE-2020-8284).
  const host = hp.host === peer ? peer : isPrivateOrUnroutable(hp.host) || !trustPasvHost ? peer : hp.host;
  return { host, port: hp.port };
}

/**
 * Passive: connect now, before the command is sent; TLS only once the server has answered the
 * command (as Python's ftplib does): some servers (pyftpdlib) drop a handshake that arrives before
 * they have read the command, and none waits for it before sending its 150.
 */
async function preparePassive(ctl: ControlConnection, state: DataState, settings: DataSettings): Promise<PendingData> {
  const { host, port } = await passiveAddress(ctl, state, settings.trustPasvHost === true);
  const raw = await connect(host, port, settings.timeoutMs, !settings.tls);
  return {
    open: async () => {
      const s = settings.tls ? await secure(raw, ctl, settings) : raw;
      s.setTimeout(settings.idleTimeoutMs, () => s.destroy(new FtpTimeoutError('data connection idle')));
      return s;
    },
    destroy: () => { raw.destroy(); },
  };
}

/** An address as one spelling: IPv4-mapped IPv6 (`::ffff:10.0.0.1`) as the IPv4 address it stands for. */
function comparableIp(ip: string | undefined): string {
  const n = normalizeIp(ip ?? '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(n);
  return mapped ? mapped[1]! : n.toLowerCase();
}

/**
 * Active: listen on the control connection's local address and tell the server with PORT or EPRT.
 * Only a connection from the control connection's peer address is taken: anyone else who can reach
 * the listening port (it is announced in clear text) could otherwise receive an upload or feed a
 * download. Others are dropped and the wait goes on until the timeout.
 */
async function prepareActive(ctl: ControlConnection, settings: DataSettings): Promise<PendingData> {
  const local = normalizeIp(ctl.localAddress);
  const peer = comparableIp(ctl.remoteAddress);
  const server = net.createServer({ noDelay: true });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, local, () => resolve()); });
  const port = (server.address() as net.AddressInfo).port;
  let timer: NodeJS.Timeout | undefined;
  let giveUp: (err: Error) => void = () => {};
  const accepted = new Promise<net.Socket>((resolve, reject) => {
    let strangers = 0;
    giveUp = reject;
    timer = setTimeout(() => {
      server.close();
      reject(new FtpTimeoutError(`waiting for the server to connect (active mode)${strangers ? `; refused ${strangers} connection(s) from another address than the server's ${peer}` : ''}`));
    }, settings.timeoutMs);
    const onConnection = (s: net.Socket) => {
      s.on('error', () => {});
      if (comparableIp(s.remoteAddress) !== peer) { strangers++; s.destroy(); return; }
      clearTimeout(timer);
      server.off('connection', onConnection);
      server.close();
      resolve(s);
    };
    server.on('connection', onConnection);
  });
  accepted.catch(() => {});
  try {
    if (net.isIPv4(local)) await ctl.expect(`PORT ${encodeHostPort({ host: local, port })}`, 200);
    else await ctl.expect(`EPRT ${encodeEprt({ host: local, port })}`, 200);
  } catch (err) {
    clearTimeout(timer);
    server.close();
    giveUp(err as Error);
    throw err;
  }
  return {
    open: async () => {
      const raw = await accepted;
      const s = settings.tls ? await secure(raw, ctl, settings) : raw;
      s.setTimeout(settings.idleTimeoutMs, () => s.destroy(new FtpTimeoutError('data connection idle')));
      return s;
    },
    destroy: () => {
      clearTimeout(timer);
      server.close();
      giveUp(new FtpConnectionError('data connection closed before the server connected (active mode)'));
      // Also one accepted but never opened (the command was answered without a transfer).
      accepted.then((s) => s.destroy(), () => {});
    },
  };
}

/** A permanent refusal of a data connection mode: 5xx to PASV after EPSV's, or to PORT/EPRT. */
function modeRefused(err: unknown, passive: boolean): boolean {
  if (!(err instanceof FtpError) || err.code < 500) return false;
  return passive ? /^PASV\b/.test(err.command ?? '') : /^(PORT|EPRT)\b/.test(err.command ?? '');
}

/**
 * A data connection in the mode asked for, or in the other one when the server refuses that mode
 * for good: vsftpd with `pasv_enable=NO` answers 550 to EPSV and PASV, with `port_enable=NO` 500
 * to PORT and EPRT (as FileZilla does, the client falls back once and remembers). A 4xx, a
 * timeout or a failed connection is not a refusal and stands.
 */
export async function prepareData(ctl: ControlConnection, state: DataState, settings: DataSettings): Promise<PendingData> {
  const passive = state.switched ? !settings.passive : settings.passive;
  try {
    return passive ? await preparePassive(ctl, state, settings) : await prepareActive(ctl, settings);
  } catch (err) {
    if (state.switched || !modeRefused(err, passive)) throw err;
    state.switched = true;
    ctl.note(`${passive ? 'passive' : 'active'} mode refused (${(err as FtpError).code}): trying ${passive ? 'active' : 'passive'} mode`);
    try {
      return passive ? await prepareActive(ctl, settings) : await preparePassive(ctl, state, settings);
    } catch (second) {
      // Refused both ways: the first refusal says what the caller asked for.
      if (modeRefused(second, !passive)) { state.switched = false; throw err; }
      throw second;
    }
  }
}
