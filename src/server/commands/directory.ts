// Directory commands: PWD, CWD, CDUP, MKD, RMD (and their X- aliases from RFC 775).
import { quotePath } from '../../protocol/path.js';
import { FtpReplyError } from '../errors.js';
import type { Session } from '../session.js';
import type { CommandSpec } from './table.js';

async function changeDir(s: Session, target: string) {
  const info = await s.fs.stat(target);
  if (info.type !== 'dir') throw new FtpReplyError(550, 'Not a directory.');
  s.cwd = target;
  s.reply(250, `Directory changed to ${quotePath(target)}.`);
}

export const directoryCommands: CommandSpec[] = [
  {
    verb: 'PWD', aliases: ['XPWD'], help: 'PWD', noArg: true,
    handler: (s) => s.reply(257, `${quotePath(s.cwd)} is the current directory.`),
  },
  { verb: 'CWD', aliases: ['XCWD'], needsArg: true, help: 'CWD <sp> pathname', handler: (s, arg) => changeDir(s, s.resolve(arg)) },
  { verb: 'CDUP', aliases: ['XCUP'], help: 'CDUP', noArg: true, handler: (s) => changeDir(s, s.resolve('..')) },
  {
    verb: 'MKD', aliases: ['XMKD'], needsArg: true, help: 'MKD <sp> pathname',
    handler: async (s, arg) => {
      const p = s.resolve(arg);
      s.require('mkdir', p);
      if (p === '/') throw new FtpReplyError(550, 'File exists.');
      await s.fs.mkdir(p);
      s.ctx.emit('mkdir', { session: s.info(), path: p });
      s.reply(257, `${quotePath(p)} created.`);
    },
  },
  {
    verb: 'RMD', aliases: ['XRMD'], needsArg: true, help: 'RMD <sp> pathname',
    handler: async (s, arg) => {
      const p = s.resolve(arg);
      s.require('rmdir', p);
      if (p === '/') throw new FtpReplyError(550, 'Permission denied.');
      const info = await s.fs.stat(p).catch(() => undefined);
      if (info && info.type !== 'dir') throw new FtpReplyError(550, 'Not a directory.');
      await s.fs.rmdir(p);
      // Leaving the working directory inside a removed folder would fail every later command.
      if (s.cwd === p || s.cwd.startsWith(p + '/')) s.cwd = '/';
      s.ctx.emit('delete', { session: s.info(), path: p, type: 'dir' });
      s.reply(250, 'Directory removed.');
    },
  },
];
