// Data-connection set-up: PASV, EPSV (RFC 2428), PORT, EPRT, with the bounce-attack checks.
import net from 'node:net';
import { decodeHostPort, decodeEprt, formatPasvReply, formatEpsvReply, normalizeIp } from '../../protocol/address.js';
import { FtpReplyError } from '../errors.js';
import { DataChannelError, PassiveListener } from '../data-channel.js';
import { LogGate } from '../policy/log-gate.js';
import type { Session } from '../session.js';
import type { CommandSpec } from './table.js';

/** How long a session keeps a port of a configured passive range between transfers. */
const PASV_RANGE_LINGER_MS = 2000;
/** A full range is logged at most every 10 s: the operator needs to hear it once, not per PASV. */
const rangeFullLog = new LogGate();
/**
 * Connections refused at a passive port for coming from a foreign address, logged at most every
 * 10 s with their count: anyone who can reach the range can make them at a TCP handshake each.
 */
const foreignLog = new LogGate();

function refuseAfterEpsvAll(s: Session) {
  if (s.epsvAll) throw new FtpReplyError(503, 'Only EPSV is allowed after EPSV ALL.');
}

function openPassive(s: Session): Promise<PassiveListener> {
  const { options, logger } = s.ctx;
  return s.preparePassive(() => PassiveListener.open({
    host: s.localAddress,
    range: options.pasvRange,
    expectedPeer: options.allowForeignDataAddress ? undefined : s.remoteAddress,
    idleMs: options.timeouts.dataConnect,
    // A configured range is usually small: between transfers a port is kept only briefly.
    lingerMs: options.pasvRange ? Math.min(PASV_RANGE_LINGER_MS, options.timeouts.dataConnect) : options.timeouts.dataConnect,
    onRejected: (addr) => {
      const refused = foreignLog.pass();
      if (refused) logger.warn({ session: s.id, from: addr, expected: s.remoteAddress, refused }, 'passive connection from a foreign address refused');
    },
  }).catch((err: unknown) => {
    if (err instanceof DataChannelError && options.pasvRange && rangeFullLog.pass()) {
      logger.warn({ session: s.id, range: options.pasvRange.join('-') }, 'passive port range full: clients get 425; widen --pasv-range');
    }
    throw err;
  }));
}

async function pasv(s: Session) {
  refuseAfterEpsvAll(s);
  const advertised = s.ctx.options.pasvAddress() ?? s.localAddress;
  if (!net.isIPv4(normalizeIp(advertised))) throw new FtpReplyError(425, 'PASV needs IPv4: use EPSV.');
  const listener = await openPassive(s);
  s.reply(227, formatPasvReply({ host: advertised, port: listener.port }));
}

async function epsv(s: Session, arg: string) {
  const a = arg.trim().toUpperCase();
  if (a === 'ALL') {
    s.epsvAll = true;
    s.reply(200, 'EPSV ALL ok.');
    return;
  }
  // localAddress is normalised (no ::ffff: prefix): a colon means IPv6. net.isIPv6 runs a long
  // regular expression, once per transfer.
  const family = s.localAddress.includes(':') ? '2' : '1';
  // RFC 2428 3: the argument is an address family number; one this connection cannot serve
  // (another family, or one the server does not know) is 522 with the usable ones, not a syntax error.
  if (a !== '' && !/^\d{1,5}$/.test(a)) throw new FtpReplyError(501, 'Syntax error in EPSV.');
  if (a !== '' && a !== family) throw new FtpReplyError(522, `Network protocol not supported, use (${family})`);
  const listener = await openPassive(s);
  s.reply(229, formatEpsvReply(listener.port));
}

/** The bounce-attack defence of RFC 2577: only the client's own address, never a privileged port. */
function checkActiveTarget(s: Session, host: string, port: number) {
  const { options } = s.ctx;
  if (!options.allowForeignDataAddress && normalizeIp(host) !== s.remoteAddress) {
    throw new FtpReplyError(504, 'Data connections go only to the address of the control connection.');
  }
  if (!options.allowLowDataPorts && port < 1024) throw new FtpReplyError(504, 'Data connections to ports below 1024 are refused.');
}

export const dataConnectionCommands: CommandSpec[] = [
  { verb: 'PASV', handler: pasv, noArg: true, help: 'PASV' },
  { verb: 'EPSV', handler: epsv, help: 'EPSV [<sp> 1 | 2 | ALL]', feat: () => ['EPSV'] },
  {
    verb: 'PORT', needsArg: true, help: 'PORT <sp> h1,h2,h3,h4,p1,p2',
    handler: (s, arg) => {
      refuseAfterEpsvAll(s);
      const hp = decodeHostPort(arg);
      if (!hp) throw new FtpReplyError(501, 'Syntax error in PORT.');
      checkActiveTarget(s, hp.host, hp.port);
      s.setActive(hp.host, hp.port);
      s.reply(200, 'PORT command successful.');
    },
  },
  {
    verb: 'EPRT', needsArg: true, help: 'EPRT <sp> |proto|addr|port|', feat: () => ['EPRT'],
    handler: (s, arg) => {
      refuseAfterEpsvAll(s);
      const r = decodeEprt(arg);
      if ('error' in r) {
        if (r.error === 'family') throw new FtpReplyError(522, 'Network protocol not supported, use (1,2)');
        throw new FtpReplyError(501, 'Syntax error in EPRT.');
      }
      checkActiveTarget(s, r.host, r.port);
      s.setActive(r.host, r.port);
      s.reply(200, 'EPRT command successful.');
    },
  },
];
