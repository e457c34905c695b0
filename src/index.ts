// Public API: the server, its storage and auth seams, the shared protocol helpers.
export { FtpServer, parsePortRange, type FtpServerOptions, type TlsOptions, type ListeningAddresses, type ReloadableOptions } from './server/server.js';
export type { FtpServerEvents, SessionInfo, TransferEvent, LoginEvent } from './server/events.js';
export { StaticAuthenticator, type Authenticator, type Account, type LoginRequest, type StaticUser } from './server/auth/authenticator.js';
export { ALL_PERMISSIONS, READ_ONLY, type Permissions, type Permission } from './server/permissions.js';
export type { Storage, WriteOptions } from './server/storage/storage.js';
export { StorageError } from './server/storage/storage.js';
export { LocalStorage } from './server/storage/local.js';
export { MemoryStorage } from './server/storage/memory.js';
export type { FileInfo } from './protocol/listing.js';
export { jsonLogger, silentLogger, type Logger } from './logger.js';
export { FtpClient, AbortError, type FtpClientOptions, type TransferOptions, type Progress } from './client/client.js';
export { FtpError, FtpTimeoutError, FtpConnectionError } from './client/errors.js';
export { parseFtpUrl, type FtpUrl, type Security } from './client/url.js';
export { parseListing, parseUnixLine, parseDosLine, parseMlsxLine } from './protocol/listing-parse.js';
export {
  mirrorDown, mirrorUp, downloadSegmented, MirrorError, MirrorIncompleteError, TransferSizeError, type MirrorOptions, type MirrorResult,
} from './client/mirror.js';
export { parseRate, parseSize, type TransferRates } from './transfer-limits.js';
