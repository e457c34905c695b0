// Access control commands: USER, PASS, ACCT, REIN, QUIT, HOST (RFC 7151), CLNT.
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Session } from '../session.js';
import { ANONYMOUS_NAMES } from '../auth/authenticator.js';
import { FtpReplyError } from '../errors.js';
import type { CommandSpec } from './table.js';

const HOME_CHECK_MS = 1000;
const homeChecked = new WeakMap<object, number>();

function tlsRequiredFor(s: Session, username: string): boolean {
  const req = s.ctx.options.requireTls;
  if (!req.control || s.secure) return false;
  return !(req.anonymousExempt && ANONYMOUS_NAMES.has(username.toLowerCase()));
}

async function user(s: Session, arg: string) {
  if (s.account) s.logout(); // a new USER starts a new login, as ProFTPD and RFC 959 allow
  const name = arg.trim();
  if (tlsRequiredFor(s, name)) throw new FtpReplyError(530, 'TLS required: use AUTH TLS before logging in.');
  s.pendingUser = name;
  s.reply(331, ANONYMOUS_NAMES.has(name.toLowerCase())
    ? 'Anonymous login ok, send your e-mail address as password.'
    : `Password required for ${name.slice(0, 64)}.`);
}

async function pass(s: Session, arg: string) {
  if (s.account) throw new FtpReplyError(503, 'Already logged in.');
  const username = s.pendingUser;
  if (username === undefined) throw new FtpReplyError(503, 'Login with USER first.');
  s.pendingUser = undefined;
  s.loginAttempts++;
  const { ctx } = s;
  // The ban is checked at connect, but sessions opened before it would each keep their
  // maxLoginAttempts guesses: 50 sessions opened at once made a ban after 10 failures 250.
  if (ctx.isBanned(s.remoteAddress)) { bannedNow(s); return; }
  let account;
  try {
    account = await ctx.authenticator.authenticate({ username, password: arg, remoteAddress: s.remoteAddress, secure: s.secure });
  } catch (err) {
    // The account source failed (a backend down, a bug in a custom authenticator): not the
    // client's fault, so neither a failed login nor a step towards a ban.
    ctx.logger.error({ session: s.id, user: username, err: (err as Error)?.message }, 'authenticator failed');
    s.reply(421, 'Login service not available, closing control connection.');
    s.end();
    return;
  }
  if (!account) {
    ctx.logger.info({ session: s.id, remote: s.remoteAddress, user: username }, 'login failed');
    ctx.emit('loginFailed', { session: s.info(), username, remoteAddress: s.remoteAddress });
    const banned = ctx.loginFailed(s.remoteAddress);
    // The delay slows guessing on this connection without blocking the event loop.
    await sleep(ctx.options.failedLoginDelayMs);
    s.reply(530, 'Login incorrect.');
    if (banned) { bannedNow(s); return; }
    if (s.loginAttempts >= ctx.options.maxLoginAttempts) {
      s.reply(421, 'Too many failed logins, closing control connection.');
      s.end();
    }
    return;
  }
  // USER let the anonymous names through without TLS; the account decides: one of those names
  // can be a real account (a user "ftp" in a users file), which must not log in in clear text.
  if (ctx.options.requireTls.control && !s.secure && !account.anonymous) {
    throw new FtpReplyError(530, 'TLS required: use AUTH TLS before logging in.');
  }
  let storage;
  try {
    storage = ctx.storageFor(account);
    // A home folder seen within the last second is not checked again: a burst of logins to one
    // shared root costs one stat, and a removed folder is still noticed at once after that.
    const seen = homeChecked.get(storage);
    if (seen === undefined || Date.now() - seen > HOME_CHECK_MS) {
      await storage.stat('/');
      homeChecked.set(storage, Date.now());
    }
  } catch (err) {
    ctx.logger.error({ session: s.id, user: account.username, err: (err as Error)?.message }, 'home folder unavailable');
    s.reply(530, 'Login incorrect.');
    return;
  }
  // A login that succeeds does not clear the address's failures: with any account of its own, or
  // the anonymous login, an attacker cleared them between guesses and was never banned.
  s.loggedIn(account, storage);
  ctx.logger.info({ session: s.id, remote: s.remoteAddress, user: account.username, secure: s.secure }, 'login');
  ctx.emit('login', { session: s.info(), username: account.username, anonymous: !!account.anonymous });
  s.reply(230, account.anonymous ? 'Anonymous access granted, restrictions apply.' : 'User logged in, proceed.');
}

function bannedNow(s: Session) {
  s.reply(421, 'Too many failed logins from your address; try later.');
  s.end();
}

/**
 * RFC 7151 3: `hostname = domain / IP-literal`: a domain name (labels of letters, digits and
 * inner hyphens; U-labels let through), an IPv4 address, or an IPv6 address in brackets.
 */
const LABEL = /^[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?$/u;
function validHostName(host: string): boolean {
  if (host.startsWith('[') && host.endsWith(']')) return net.isIPv6(host.slice(1, -1));
  if (net.isIPv4(host)) return true;
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  return name.length > 0 && name.length <= 253 && name.split('.').every((l) => LABEL.test(l));
}

export const accessCommands: CommandSpec[] = [
  { verb: 'USER', handler: user, needsLogin: false, needsArg: true, help: 'USER <sp> username' },
  { verb: 'PASS', handler: pass, needsLogin: false, help: 'PASS <sp> password' },
  { verb: 'ACCT', handler: (s) => s.reply(202, 'Account not needed, superfluous at this site.'), needsLogin: false, help: 'ACCT <sp> account' },
  {
    verb: 'REIN', needsLogin: false, noArg: true, help: 'REIN',
    handler: (s) => { s.logout(); s.reply(220, 'Service ready for new user.'); },
  },
  {
    verb: 'QUIT', needsLogin: false, help: 'QUIT',
    handler: (s) => { s.reply(221, 'Goodbye.'); s.end(); },
  },
  {
    verb: 'HOST', needsLogin: false, needsArg: true, help: 'HOST <sp> hostname',
    feat: () => ['HOST'],
    handler: (s, arg) => {
      // RFC 7151: HOST comes before USER; this server has one virtual host, so any well-formed name
      // is accepted (there is none to answer 504 for).
      if (s.account || s.pendingUser !== undefined) throw new FtpReplyError(503, 'HOST must come before USER.');
      const host = arg.trim();
      if (!validHostName(host)) throw new FtpReplyError(501, 'HOST takes a host name, an IPv4 address or [IPv6 address].');
      s.hostName = host;
      s.reply(220, 'Host accepted.');
    },
  },
  {
    verb: 'CLNT', needsLogin: false, help: 'CLNT <sp> client-name', feat: () => ['CLNT'],
    handler: (s, arg) => { s.clientName = arg.slice(0, 128); s.reply(200, 'Noted.'); },
  },
];
