// The transfer log of `wharf serve`: every finished upload, download, delete, rename and mkdir, one info line each.
import type { FtpServer } from '../server/server.js';
import type { SessionInfo } from '../server/events.js';
import type { Logger, LogLevel } from '../logger.js';

/** Who did it, with the fields the login line has, so one grep on the address or user finds both. */
const who = (s: SessionInfo) => ({ session: s.id, remote: s.remoteAddress, user: s.username });

export function logServerEvents(server: FtpServer, logger: Logger, level: LogLevel): void {
  // Above info nothing here would be written: no listener, no per-transfer cost (the benchmarks run at warn).
  if (level === 'warn' || level === 'error') return;
  server.on('upload', (e) => logger.info({ ...who(e.session), path: e.path, bytes: e.bytes, ms: e.durationMs, mode: e.mode }, 'upload'));
  server.on('download', (e) => logger.info({ ...who(e.session), path: e.path, bytes: e.bytes, ms: e.durationMs }, 'download'));
  server.on('delete', (e) => logger.info({ ...who(e.session), path: e.path, type: e.type }, 'delete'));
  server.on('rename', (e) => logger.info({ ...who(e.session), from: e.from, to: e.to }, 'rename'));
  server.on('mkdir', (e) => logger.info({ ...who(e.session), path: e.path }, 'mkdir'));
}
