// Security extensions (RFC 2228, RFC 4217): AUTH TLS, PBSZ, PROT, CCC.
import { FtpReplyError } from '../errors.js';
import type { Session } from '../session.js';
import type { CommandSpec } from './table.js';

function auth(s: Session, arg: string) {
  const mech = arg.trim().toUpperCase();
  if (!s.ctx.tlsContext()) throw new FtpReplyError(502, 'TLS is not configured on this server.');
  if (s.secure) throw new FtpReplyError(503, 'Already using TLS.');
  if (!['TLS', 'TLS-C', 'SSL', 'TLS-P'].includes(mech)) throw new FtpReplyError(504, 'Security mechanism not understood: use AUTH TLS.');
  // RFC 2228: a new security exchange resets the login; the client logs in again, now protected.
  if (s.account || s.pendingUser !== undefined) s.logout();
  s.reply(234, `AUTH ${mech} successful.`);
  s.upgradeToTls(s.ctx.sessionTlsContext()!);
  s.pbszSet = false;
  // Legacy AUTH SSL / TLS-P meant "protect data too".
  s.protection = mech === 'SSL' || mech === 'TLS-P' ? 'P' : 'C';
}

function requireTlsFirst(s: Session, verb: string) {
  if (!s.secure) throw new FtpReplyError(503, `${verb} requires AUTH TLS first.`);
}

export const securityCommands: CommandSpec[] = [
  {
    verb: 'AUTH', needsLogin: false, needsArg: true, handler: auth, help: 'AUTH <sp> TLS',
    feat: (ctx) => (ctx.tlsContext() ? ['AUTH TLS', 'AUTH SSL'] : []),
  },
  {
    verb: 'PBSZ', needsLogin: false, needsArg: true, help: 'PBSZ <sp> 0',
    feat: (ctx) => (ctx.tlsContext() ? ['PBSZ'] : []),
    handler: (s, arg) => {
      requireTlsFirst(s, 'PBSZ');
      // RFC 2228: an argument that does not parse or does not fit in 32 bits is 501; any other
      // size gets 200 with PBSZ=0, the only size TLS uses (RFC 4217 8).
      const size = arg.trim();
      if (!/^\d{1,10}$/.test(size) || Number(size) > 0xffffffff) throw new FtpReplyError(501, 'PBSZ takes a 32-bit decimal number.');
      s.pbszSet = true;
      s.reply(200, 'PBSZ=0');
    },
  },
  {
    verb: 'PROT', needsLogin: false, needsArg: true, help: 'PROT <sp> C | P',
    feat: (ctx) => (ctx.tlsContext() ? ['PROT'] : []),
    handler: (s, arg) => {
      requireTlsFirst(s, 'PROT');
      if (!s.pbszSet && !s.implicitTls) throw new FtpReplyError(503, 'PBSZ required before PROT.');
      const level = arg.trim().toUpperCase();
      if (level === 'P') { s.protection = 'P'; s.reply(200, 'Protection level set to P.'); return; }
      if (level === 'C') {
        if (s.ctx.options.requireTls.data && !s.exemptFromTls()) throw new FtpReplyError(534, 'Data connections must be protected: PROT C refused.');
        s.protection = 'C';
        s.reply(200, 'Protection level set to C.');
        return;
      }
      if (level === 'S' || level === 'E') throw new FtpReplyError(536, `PROT ${level} not supported by TLS.`);
      throw new FtpReplyError(504, 'Unknown protection level.');
    },
  },
  {
    verb: 'CCC', needsLogin: false, help: 'CCC',
    // RFC 2228 (CCC: 200, 500, 533, 534): a CCC that is not itself protected is 533. Dropping TLS
    // on the control connection would expose later commands, so a protected one is refused by
    // policy with 534.
    handler: (s) => {
      if (!s.secure) throw new FtpReplyError(533, 'CCC must come over a protected control connection.');
      throw new FtpReplyError(534, 'CCC refused: the control connection stays protected.');
    },
  },
];
