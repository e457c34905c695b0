// File commands: DELE, RNFR/RNTO, SIZE, MDTM, MFMT (RFC 3659 and draft-somers-ftp-mfxx), SITE.
import { formatTimeVal, parseTimeVal } from '../../protocol/listing.js';
import { asciiSizeDelta } from '../../protocol/ascii.js';
import { virtualParent } from '../../protocol/path.js';
import { FtpReplyError } from '../errors.js';
import { ASCII_SCAN_LIMIT } from './transfer.js';
import type { Session } from '../session.js';
import type { Storage } from '../storage/storage.js';
import type { FileInfo } from '../../protocol/listing.js';
import type { CommandSpec } from './table.js';


/**
 * A file's facts for SIZE and MDTM: for users who may list its folder or download it (curl asks
 * SIZE before every RETR); not in an upload-only drop box, which must not tell who uploaded what.
 */
async function statFile(s: Session, arg: string) {
  const p = s.resolve(arg);
  if (!s.allows('download', p)) s.require('list', virtualParent(p));
  const info = await s.fs.stat(p);
  if (info.type !== 'file') throw new FtpReplyError(550, 'Not a regular file.');
  return { p, info };
}

/**
 * TYPE A sizes already computed, per storage, by path, size and modification time. An 11-byte
 * SIZE costs a read of up to 16 MiB (about 40 ms of the main thread here); without this a few
 * read-only sessions repeating it could keep the server busy. Now each version of a file is read
 * once, as a download of it would be.
 */
const asciiSizes = new WeakMap<Storage, Map<string, number>>();
const ASCII_SIZES_KEPT = 1024;

async function cachedAsciiSize(s: Session, p: string, info: FileInfo): Promise<number> {
  // Without a modification time a changed file of the same size could not be told apart.
  if (!info.modified) return asciiSize(s, p);
  let known = asciiSizes.get(s.fs);
  if (!known) asciiSizes.set(s.fs, (known = new Map()));
  const key = `${info.size}:${info.modified.getTime()}:${p}`;
  const hit = known.get(key);
  if (hit !== undefined) return hit;
  const size = await asciiSize(s, p);
  if (known.size >= ASCII_SIZES_KEPT) known.delete(known.keys().next().value!);
  known.set(key, size);
  return size;
}

async function asciiSize(s: Session, p: string): Promise<number> {
  const stream = await s.fs.createReadStream(p);
  let size = 0;
  let lastWasCr = false;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const d = asciiSizeDelta(chunk, lastWasCr);
    size += chunk.length + d.extra;
    lastWasCr = d.lastWasCr;
  }
  return size;
}

const siteHelp = ['SITE commands:', ' CHMOD <sp> mode <sp> pathname', ' HELP', 'End'];

async function site(s: Session, arg: string) {
  const [sub = '', ...rest] = arg.trim().split(' ');
  const verb = sub.toUpperCase();
  if (verb === 'HELP') { s.reply(214, siteHelp); return; }
  if (verb === 'CHMOD') {
    const modeText = rest.shift() ?? '';
    const target = rest.join(' ');
    if (!/^[0-7]{1,4}$/.test(modeText) || !target) throw new FtpReplyError(501, 'Usage: SITE CHMOD <mode> <path>.');
    const p = s.resolve(target);
    s.require('chmod', p);
    await s.fs.chmod(p, parseInt(modeText, 8));
    s.reply(200, 'SITE CHMOD command successful.');
    return;
  }
  // Deliberately no SITE command that copies, executes or reveals anything (CPFR/CPTO, EXEC...).
  s.reply(500, 'Unknown SITE command.');
}

export const fileCommands: CommandSpec[] = [
  {
    verb: 'DELE', needsArg: true, help: 'DELE <sp> pathname',
    handler: async (s, arg) => {
      const p = s.resolve(arg);
      s.require('delete', p);
      await s.fs.unlink(p);
      s.ctx.emit('delete', { session: s.info(), path: p, type: 'file' });
      s.reply(250, 'File deleted.');
    },
  },
  {
    verb: 'RNFR', needsArg: true, help: 'RNFR <sp> pathname',
    handler: async (s, arg) => {
      const p = s.resolve(arg);
      s.require('rename', p);
      if (p === '/') throw new FtpReplyError(550, 'Permission denied.');
      await s.fs.stat(p);
      s.renameFrom = p;
      s.reply(350, 'File exists, ready for destination name.');
    },
  },
  {
    verb: 'RNTO', needsArg: true, help: 'RNTO <sp> pathname',
    handler: async (s, arg) => {
      const from = s.renameFrom;
      s.renameFrom = undefined;
      if (!from) throw new FtpReplyError(503, 'RNFR required first.');
      const to = s.resolve(arg);
      s.require('rename', to);
      if (to === '/') throw new FtpReplyError(553, 'File name not allowed.');
      const overwrite = s.allows('overwrite', to);
      if (!overwrite) {
        const exists = await s.fs.stat(to).then(() => true, () => false);
        if (exists) throw new FtpReplyError(550, 'Permission denied: target exists.');
      }
      await s.fs.rename(from, to, overwrite ? undefined : { noReplace: true });
      s.ctx.emit('rename', { session: s.info(), from, to });
      s.reply(250, 'Rename successful.');
    },
  },
  {
    verb: 'SIZE', needsArg: true, help: 'SIZE <sp> pathname', feat: () => ['SIZE'],
    handler: async (s, arg) => {
      const { p, info } = await statFile(s, arg);
      if (s.type === 'I') { s.reply(213, String(info.size)); return; }
      // RFC 3659 4: in ASCII mode SIZE must be the size as transferred, so compute it or refuse.
      s.require('download', p); // this reads the file
      if (info.size > ASCII_SCAN_LIMIT) throw new FtpReplyError(550, 'SIZE not available in ASCII mode for large files; use TYPE I.');
      s.reply(213, String(await cachedAsciiSize(s, p, info)));
    },
  },
  {
    verb: 'MDTM', needsArg: true, help: 'MDTM <sp> pathname', feat: () => ['MDTM'],
    handler: async (s, arg) => {
      const { info } = await statFile(s, arg);
      s.reply(213, formatTimeVal(info.modified ?? new Date(0)).replace(/\.\d+$/, ''));
    },
  },
  {
    verb: 'MFMT', needsArg: true, help: 'MFMT <sp> time-val <sp> pathname', feat: () => ['MFMT'],
    handler: async (s, arg) => {
      const sp = arg.indexOf(' ');
      const date = sp > 0 ? parseTimeVal(arg.slice(0, sp)) : undefined;
      if (!date || !arg.slice(sp + 1)) throw new FtpReplyError(501, 'Usage: MFMT YYYYMMDDHHMMSS path.');
      const p = s.resolve(arg.slice(sp + 1));
      // Changing a file's time is changing the file: a user who may not overwrite (a drop box's
      // uploaders) may set the times of files this session uploaded, as clients do after each
      // upload, and of no others.
      s.require('upload', p);
      if (!s.uploadedHere(p)) s.require('overwrite', p);
      await s.fs.setModified(p, date);
      // The time as stored: a file system clamps what it cannot hold (9999 became 2446 on tmpfs).
      const stored = (await s.fs.stat(p)).modified ?? date;
      s.reply(213, `Modify=${formatTimeVal(stored).replace(/\.\d+$/, '')}; ${p}`);
    },
  },
  { verb: 'SITE', needsArg: true, handler: site, help: 'SITE <sp> string' },
];
