// Errors that carry their FTP reply: handlers throw these, the session turns them into one reply line.

export class FtpReplyError extends Error {
  constructor(public readonly code: number, message: string) {
    super(message);
    this.name = 'FtpReplyError';
  }
}

export const notFound = (what = 'No such file or directory') => new FtpReplyError(550, what);
export const denied = (what = 'Permission denied') => new FtpReplyError(550, what);
export const badName = (what = 'File name not allowed') => new FtpReplyError(553, what);
export const badSequence = (what = 'Bad sequence of commands') => new FtpReplyError(503, what);
export const syntaxError = (what = 'Syntax error in parameters or arguments') => new FtpReplyError(501, what);
export const notImplementedParam = (what = 'Command not implemented for that parameter') => new FtpReplyError(504, what);
export const localError = (what = 'Requested action aborted: local error in processing') => new FtpReplyError(451, what);
