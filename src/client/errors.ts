// Errors the client throws: a server reply with its code, a timeout, a broken connection, or an abort.

/** The server answered with a negative reply (4xx/5xx) or an unexpected one. */
export class FtpError extends Error {
  constructor(readonly code: number, readonly reply: string, readonly command?: string) {
    super(`${command ? `${redact(command)}: ` : ''}${code} ${reply}`);
    this.name = 'FtpError';
  }
  /** 4xx: worth retrying later; 5xx: permanent. */
  get transient(): boolean { return this.code >= 400 && this.code < 500; }
}

export class FtpTimeoutError extends Error {
  constructor(what: string) { super(`timed out: ${what}`); this.name = 'FtpTimeoutError'; }
}

export class FtpConnectionError extends Error {
  constructor(message: string, cause?: unknown) { super(message, { cause }); this.name = 'FtpConnectionError'; }
}

export class AbortError extends Error {
  constructor() { super('transfer aborted'); this.name = 'AbortError'; }
}

/** Commands are quoted in errors and logs; a password never is. */
export function redact(command: string): string {
  return /^PASS\b/i.test(command) ? 'PASS ****' : command;
}
