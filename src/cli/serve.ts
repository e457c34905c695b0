// `wharf serve`: build an FtpServer from flags and a config file, run it, shut down cleanly on signals.
import path from 'node:path';
import fs from 'node:fs';
import { Command, Option } from 'commander';
import type { FtpServer, FtpServerOptions, ReloadableOptions } from '../server/server.js';
import { jsonLogger, type Logger, type LogLevel } from '../logger.js';
import type { StaticUser } from '../server/auth/authenticator.js';
import { kebab, loadConfigFile, validateSettings, type ServeSettings } from './serve-config.js';
import { checkSecretsNotServed, checkServedFolder, checkTlsSettings, explainListenError } from './serve-checks.js';
import { logServerEvents } from './serve-log.js';
import { parseRate, parseSize } from '../transfer-limits.js';

// The server, TLS and users-file modules load only when `serve` runs: `wharf get` starts faster.
const serverModule = () => import('../server/server.js');
const certificates = () => import('../server/certificates.js');

const DEFAULTS: ServeSettings = {
  host: '127.0.0.1', port: 2121, root: '.', user: [], anonymous: false, tlsSelfSigned: false,
  requireTls: false, requireTlsReuse: false, anonymousWithoutTls: false, logLevel: 'info', atomicUploads: false,
};

/** `--umask 027` as a number; octal digits only, so a YAML 022 read as the number 22 is caught by the schema. */
export function parseUmask(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^0?[0-7]{1,3}$/.test(value)) throw new Error(`--umask wants octal digits like 022 or 077, got '${value}'`);
  return parseInt(value, 8);
}

/** Comma-separated, repeatable: `--allow-from 10.0.0.0/8 --allow-from 192.0.2.7,2001:db8::/32`. */
function addressList(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').map((v) => v.trim()).filter(Boolean)];
}

function parseRunAs(value: string | undefined): FtpServerOptions['runAs'] {
  if (!value) return undefined;
  const [user, group] = value.split(':');
  const id = (v: string) => (/^\d+$/.test(v) ? Number(v) : v);
  return { user: id(user!), ...(group ? { group: id(group) } : {}) };
}

/** Readable one-line logs for a person at a terminal; JSON lines otherwise. */
function prettyLogger(level: LogLevel): Logger {
  const order = { debug: 20, info: 30, warn: 40, error: 50 };
  const make = (lvl: LogLevel) => (obj: object, msg?: string) => {
    if (order[lvl] < order[level]) return;
    const fields = Object.entries(obj).filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
    process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${lvl.padEnd(5)} ${msg ?? ''} ${fields}\n`);
  };
  return { debug: make('debug'), info: make('info'), warn: make('warn'), error: make('error') };
}

function parseUserFlag(value: string, root: string): StaticUser {
  const i = value.indexOf(':');
  if (i <= 0) throw new Error(`--user wants NAME:PASSWORD, got '${value.replace(/:.*/, ':…')}'`);
  return { username: value.slice(0, i), password: value.slice(i + 1), root };
}

/** Settings a running `wharf serve` takes from its config file on SIGHUP (the rest need a restart). */
const RELOADED: (keyof ServeSettings)[] = ['allowFrom', 'denyFrom', 'maxSessions', 'maxSessionsPerAddress', 'maxDownloadRate', 'maxUploadRate', 'maxUploadSize', 'tlsCert', 'tlsKey'];

const rate = (v: string | number | undefined) => (v === undefined ? undefined : parseRate(v));
const size = (v: string | number | undefined) => (v === undefined ? undefined : parseSize(v));

/** The server options behind the reloadable settings: built the same way at start and on reload. */
function limitsFrom(settings: ServeSettings): ReloadableOptions {
  return {
    maxSessions: settings.maxSessions,
    maxSessionsPerAddress: settings.maxSessionsPerAddress,
    allowFrom: settings.allowFrom,
    denyFrom: settings.denyFrom,
    maxRate: { download: rate(settings.maxDownloadRate), upload: rate(settings.maxUploadRate) },
    maxUploadSize: size(settings.maxUploadSize),
  };
}

export async function buildServer(settings: ServeSettings, logger: Logger, configFile?: string): Promise<{ server: FtpServer; notes: string[]; served: () => string[] }> {
  const root = path.resolve(settings.root);
  if (!fs.statSync(root, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`root folder not found: ${root}`);
  if (settings.anonymousRoot && !fs.statSync(settings.anonymousRoot, { throwIfNoEntry: false })?.isDirectory()) {
    throw new Error(`anonymous root folder not found: ${path.resolve(settings.anonymousRoot)}`);
  }
  checkTlsSettings(settings);
  const umask = parseUmask(settings.umask);
  const notes: string[] = [];
  const users = settings.user.map((u) => parseUserFlag(u, root));
  // No accounts at all: serve the folder anonymously, read-only (the zero-config quick start).
  const anonymousOn = settings.anonymous || (users.length === 0 && !settings.users);
  if (!anonymousOn && (settings.anonymousRoot || settings.anonymousUploadDir || settings.anonymousWithoutTls)) {
    const flag = settings.anonymousRoot ? 'anonymous-root' : settings.anonymousUploadDir ? 'anonymous-upload-dir' : 'anonymous-without-tls';
    throw new Error(`--${flag} needs --anonymous`);
  }
  // Alone it would change nothing: anonymous users are not asked for TLS unless it is required.
  if (settings.anonymousWithoutTls && !settings.requireTls) throw new Error('--anonymous-without-tls goes with --require-tls');
  for (const [key, flag] of [['anonymousMaxRate', 'anonymous-max-rate'], ['anonymousMaxUploadSize', 'anonymous-max-upload-size']] as const) {
    if (!anonymousOn && settings[key] !== undefined) throw new Error(`--${flag} needs --anonymous`);
  }
  const anonymousRate = rate(settings.anonymousMaxRate);
  const anonymousMaxUploadSize = size(settings.anonymousMaxUploadSize);
  const anonymous = anonymousOn ? {
    root: settings.anonymousRoot ? path.resolve(settings.anonymousRoot) : root,
    uploadDir: settings.anonymousUploadDir,
    ...(anonymousRate !== undefined ? { maxRate: { download: anonymousRate, upload: anonymousRate } } : {}),
    ...(anonymousMaxUploadSize !== undefined ? { maxUploadSize: anonymousMaxUploadSize } : {}),
  } : undefined;
  const options: FtpServerOptions = {
    host: settings.host,
    port: settings.port,
    root,
    users,
    anonymous,
    pasvRange: settings.pasvRange,
    pasvAddress: settings.pasvAddress,
    requireTls: settings.requireTls ? { control: true, data: true, anonymousExempt: settings.anonymousWithoutTls } : false,
    requireTlsSessionReuse: settings.requireTlsReuse,
    implicitTlsPort: settings.implicitTlsPort,
    logger,
    timeouts: settings.idleTimeout ? { idle: settings.idleTimeout * 1000 } : undefined,
    atomicUploads: settings.atomicUploads,
    partialUploads: settings.partialUploads,
    banAfterFailures: settings.banAfter,
    runAs: parseRunAs(settings.runAs),
    umask,
    ...limitsFrom(settings),
  };
  /** Folders served besides the root and the anonymous root: the homes a users file gives (as it is now). */
  let homes = (): string[] => [];
  if (settings.users) {
    const { UsersFileAuthenticator } = await import('../server/auth/users-file.js');
    const auth = new UsersFileAuthenticator(settings.users, anonymous, logger);
    await auth.load();
    homes = () => auth.homes();
    auth.watch();
    // Command-line users still work beside the file, checked first.
    const { StaticAuthenticator } = await import('../server/auth/authenticator.js');
    const flagUsers = new StaticAuthenticator(users);
    options.authenticator = { authenticate: async (r) => (await flagUsers.authenticate(r)) ?? auth.authenticate(r) };
  }
  if (settings.tlsCert && settings.tlsKey) {
    const { leaf, ...tls } = await (await certificates()).loadTlsFiles(settings.tlsCert, settings.tlsKey);
    options.tls = tls;
    logCertificate(logger, leaf);
  } else if (settings.tlsSelfSigned) {
    const cert = await (await certificates()).selfSignedCertificate(settings.pasvAddress ? [settings.pasvAddress] : []);
    options.tls = cert;
    notes.push(`self-signed certificate, SHA-256 fingerprint ${cert.fingerprint256}`);
  }
  const served = () => [root, ...(anonymous?.root ? [anonymous.root] : []), ...homes()];
  // After the files are read, so a missing or broken one is reported as such first.
  checkSecretsNotServed([['--tls-key', settings.tlsKey], ['--users', settings.users], ['--config', configFile]],
    served());
  const { FtpServer } = await serverModule();
  let server: FtpServer;
  try {
    server = new FtpServer(options);
  } catch (err) {
    throw new Error(settingsMessage(err));
  }
  // The process is the server: its umask is the one every upload and MKD is created under.
  if (umask !== undefined) process.umask(umask);
  return { server, notes, served };
}

/** A server option's error said in the operator's terms: the flag, not the library option. */
function settingsMessage(err: unknown): string {
  return (err as Error).message.replace(/^allowFrom/, '--allow-from').replace(/^denyFrom/, '--deny-from');
}

/** Subject and expiry at start and on each reload: an expired certificate fails every client, and says so only there. */
function logCertificate(logger: Logger, leaf: import('node:crypto').X509Certificate) {
  const expires = new Date(leaf.validTo);
  const fields = { subject: leaf.subject.replace(/\n/g, ', '), expires: expires.toISOString() };
  if (expires.getTime() < Date.now()) logger.error(fields, 'TLS certificate has expired: clients will refuse it');
  else logger.info(fields, 'TLS certificate loaded');
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve a folder over FTP/FTPS (default: the current folder, anonymous, read-only, on 127.0.0.1:2121)')
    .option('--config <file>', 'settings file (JSON or YAML); flags override it')
    .option('--host <addr>', 'address to listen on (0.0.0.0 or :: for all)')
    .option('--port <n>', 'control port', (v) => Number(v))
    .option('--root <dir>', 'folder to serve')
    .option('--user <name:password>', 'add a user with full access to the root (development; repeatable)', (v, acc: string[]) => [...acc, v], [] as string[])
    .option('--users <file>', 'users file with scrypt hashes (see wharf passwd); reloaded on change')
    .option('--anonymous', 'allow anonymous login (anonymous/ftp, any password), read-only')
    .option('--anonymous-root <dir>', 'folder anonymous users see as / (default: --root)')
    .option('--pasv-range <min-max>', 'passive port range, e.g. 50000-50100')
    .option('--pasv-address <addr>', 'public IPv4 address or host name to advertise in PASV replies (behind NAT)')
    .option('--tls-cert <file>', 'PEM certificate (chain allowed) for FTPS')
    .option('--tls-key <file>', 'PEM private key for FTPS')
    .option('--tls-self-signed', 'generate a self-signed certificate (development only)')
    .option('--implicit-tls-port <n>', 'also listen for implicit FTPS on this port (990 by convention)', (v) => Number(v))
    .option('--require-tls', 'refuse logins and data transfers without TLS')
    .option('--require-tls-reuse', 'data connections must resume the control TLS session')
    .option('--anonymous-without-tls', 'with --require-tls: anonymous users may still log in and download in clear text')
    .option('--idle-timeout <seconds>', 'close idle control connections after this long (default 300)', (v) => Number(v))
    .option('--anonymous-upload-dir <path>', 'folder (as clients see it, e.g. /incoming) where anonymous users may only upload new files')
    .option('--atomic-uploads', 'write uploads to a temporary name and rename them into place when complete')
    .addOption(new Option('--partial-uploads <what>', 'what an interrupted upload leaves (default keep, so REST can resume)').choices(['keep', 'delete']))
    .option('--max-sessions <n>', 'sessions at once (default 2000)', (v) => Number(v))
    .option('--max-sessions-per-address <n>', 'sessions from one address (default 50, 0 = no limit)', (v) => Number(v))
    .option('--ban-after <n>', 'ban an address for 15 minutes after n failed logins in 10 minutes (default 10, 0 = never)', (v) => Number(v))
    .option('--run-as <user[:group]>', 'drop root privileges to this user after binding the ports')
    .option('--allow-from <list>', 'only these addresses and CIDR ranges may connect (comma-separated, repeatable), e.g. 10.0.0.0/8,2001:db8::/32', addressList, undefined)
    .option('--deny-from <list>', 'these addresses and CIDR ranges may not connect (comma-separated, repeatable)', addressList, undefined)
    .option('--max-download-rate <rate>', 'bandwidth per session for downloads, bytes per second or like 512K, 2M (default: no limit)')
    .option('--max-upload-rate <rate>', 'bandwidth per session for uploads, like --max-download-rate')
    .option('--anonymous-max-rate <rate>', 'bandwidth per anonymous session, both ways (wins over the two above for them)')
    .option('--max-upload-size <size>', 'largest file an upload may make, bytes or like 500M, 4G; past it 552 and the file is removed (default: no limit)')
    .option('--anonymous-max-upload-size <size>', 'the same for anonymous uploads (wins over --max-upload-size for them)')
    .option('--umask <octal>', 'permissions left out of new files (rw-rw-rw-) and folders (rwxrwxrwx), e.g. 002 for group-writable uploads (default: the process umask, usually 022)')
    .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error']))
    .addOption(new Option('--log-format <format>', 'log format (default: pretty on a terminal, json otherwise)').choices(['json', 'pretty']))
    .action(async (flags: Record<string, unknown>) => {
      const fromFile = flags.config ? await loadConfigFile(String(flags.config)) : {};
      const { config: _c, ...rest } = flags;
      if (Array.isArray(rest.user) && rest.user.length === 0) delete rest.user;
      const fromFlags = validateSettings(Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)), 'command line');
      const settings: ServeSettings = { ...DEFAULTS, ...fromFile, ...fromFlags };
      const format = settings.logFormat ?? (process.stderr.isTTY ? 'pretty' : 'json');
      const logger = format === 'pretty' ? prettyLogger(settings.logLevel) : jsonLogger(process.stderr, settings.logLevel);
      const { server, notes, served } = await buildServer(settings, logger, flags.config ? String(flags.config) : undefined);
      const addr = await server.listen().catch((err: unknown) => { throw explainListenError(err, settings); });
      try {
        checkServedFolder(path.resolve(settings.root), 'root folder');
        if (settings.anonymousRoot) checkServedFolder(path.resolve(settings.anonymousRoot), 'anonymous root folder');
      } catch (err) {
        await server.close();
        throw err;
      }
      logServerEvents(server, logger, settings.logLevel);
      const hostForUrl = addr.host.includes(':') ? `[${addr.host}]` : addr.host;
      const anon = settings.anonymous || (settings.user.length === 0 && !settings.users);
      const lines = [
        `wharf serving ${path.resolve(settings.root)}`,
        `  ftp://${hostForUrl}:${addr.port}/` + (anon ? '  (anonymous, read-only)' : ''),
        ...(addr.implicitTlsPort ? [`  ftps://${hostForUrl}:${addr.implicitTlsPort}/  (implicit TLS)`] : []),
        ...(server.options.tls ? [`  explicit TLS: AUTH TLS on the control port${settings.requireTls ? (settings.anonymousWithoutTls ? ' (required, except for anonymous users)' : ' (required)') : ''}`] : []),
        ...notes.map((n) => `  ${n}`),
        // A suggestion that works as printed: TLS first when it is required, the certificate taken on trust when self-signed.
        `  try: curl ${settings.requireTls ? `--ssl-reqd ${settings.tlsSelfSigned ? '-k ' : ''}` : ''}${anon ? '' : '--user NAME:PASSWORD '}ftp://${hostForUrl}:${addr.port}/` +
          `   or   lftp ${settings.requireTls ? `-e 'set ftp:ssl-force true${settings.tlsSelfSigned ? '; set ssl:verify-certificate false' : ''}' ` : ''}-p ${addr.port} ${anon ? '' : '-u NAME '}${addr.host}`,
        '  Ctrl-C to stop',
      ];
      process.stdout.write(lines.join('\n') + '\n');
      // One session's unexpected failure must not end everyone's: log it and keep serving.
      process.on('uncaughtException', (err) => logger.error({ err: err.stack ?? String(err) }, 'unexpected error'));
      process.on('unhandledRejection', (err) => logger.error({ err: (err as Error)?.stack ?? String(err) }, 'unhandled rejection'));
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) { process.stderr.write('wharf: forced exit\n'); process.exit(130); }
        stopping = true;
        logger.info({ signal }, 'shutting down: waiting for running transfers');
        server.close().then(() => { logger.info({}, 'stopped'); process.exit(0); }, () => process.exit(1));
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
      // SIGHUP: the config file again, for what can change while running; then the certificate files.
      const reload = async () => {
        if (flags.config) {
          try {
            const next: ServeSettings = { ...DEFAULTS, ...await loadConfigFile(String(flags.config)), ...fromFlags };
            const changed = (Object.keys({ ...settings, ...next }) as (keyof ServeSettings)[])
              .filter((k) => JSON.stringify(next[k]) !== JSON.stringify(settings[k]));
            // A certificate's paths can change only where TLS is on already: turning it on needs a restart.
            const live = (k: keyof ServeSettings) => RELOADED.includes(k) && (server.options.tls !== undefined || (k !== 'tlsCert' && k !== 'tlsKey'));
            // A key moved into a served folder is refused here as at start (the roots cannot move while running).
            if (live('tlsKey')) checkSecretsNotServed([['--tls-key', next.tlsKey]], served());
            server.updateLimits(limitsFrom(next));
            const applied = changed.filter(live);
            for (const k of applied) (settings as unknown as Record<string, unknown>)[k] = next[k];
            logger.info({ changed: applied.map(kebab) }, 'config file reloaded');
            const later = changed.filter((k) => !live(k));
            if (later.length) logger.warn({ settings: later.map(kebab) }, 'changed in the config file: these take effect on restart');
          } catch (err) {
            logger.error({ err: settingsMessage(err) }, 'config file not reloaded; keeping the running settings');
            return;
          }
        }
        if (!settings.tlsCert || !settings.tlsKey) return;
        // One catch for reading, checking and installing: a bad file keeps the running certificate.
        await certificates().then((c) => c.loadTlsFiles(settings.tlsCert!, settings.tlsKey!)).then(({ leaf, ...tls }) => {
          server.reloadTls(tls);
          logCertificate(logger, leaf);
        }).catch((err: Error) => logger.error({ err: err.message }, 'TLS certificate not reloaded; keeping the previous one'));
      };
      process.on('SIGHUP', () => { void reload(); });
    });
}
