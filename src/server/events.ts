// The typed events FtpServer emits, for applications that react to logins and finished transfers.

export interface SessionInfo {
  id: number;
  remoteAddress: string;
  username: string | undefined;
  secure: boolean;
}

export interface LoginEvent { session: SessionInfo; username: string; anonymous: boolean }
export interface LoginFailedEvent { session: SessionInfo; username: string; remoteAddress: string }
export interface TransferEvent {
  session: SessionInfo;
  /** Virtual path, as the client sees it. */
  path: string;
  bytes: number;
  /** Wall time of the transfer in milliseconds. */
  durationMs: number;
}
export interface DeleteEvent { session: SessionInfo; path: string; type: 'file' | 'dir' }
export interface RenameEvent { session: SessionInfo; from: string; to: string }
export interface MkdirEvent { session: SessionInfo; path: string }

export interface FtpServerEvents {
  connect: SessionInfo;
  disconnect: SessionInfo;
  login: LoginEvent;
  loginFailed: LoginFailedEvent;
  upload: TransferEvent & { mode: 'store' | 'append' | 'unique' };
  download: TransferEvent;
  delete: DeleteEvent;
  rename: RenameEvent;
  mkdir: MkdirEvent;
  error: Error;
}
