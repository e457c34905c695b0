// Informational commands: FEAT (RFC 2389), OPTS, SYST, NOOP, HELP; FEAT and HELP read the command table.
import { selectFacts, MLST_FACTS } from '../../protocol/listing.js';
import { FtpReplyError } from '../errors.js';
import type { Session } from '../session.js';
import { COMMANDS, type CommandSpec } from './table.js';

function uniqueSpecs(): CommandSpec[] {
  return [...new Set(COMMANDS.values())];
}

function feat(s: Session) {
  const lines = new Set<string>(['UTF8', 'TVFS']);
  for (const spec of uniqueSpecs()) for (const l of spec.feat?.(s.ctx, s) ?? []) lines.add(l);
  s.reply(211, ['Features:', ...[...lines].sort().map((l) => ' ' + l), 'End']);
}

function opts(s: Session, arg: string) {
  const [name = '', ...rest] = arg.trim().split(/\s+/);
  const value = rest.join(' ');
  switch (name.toUpperCase()) {
    case 'UTF8':
    case 'UTF-8':
      // Names are always UTF-8 here (RFC 2640): ON (or nothing) confirms it. OFF cannot be honoured,
      // and RFC 2389 4 answers options that are not supported with 501, not a 200 that changes nothing.
      if (/^(ON|)$/i.test(value)) { s.reply(200, 'UTF8 set to on.'); return; }
      if (/^OFF$/i.test(value)) throw new FtpReplyError(501, 'UTF8 cannot be turned off; names stay UTF-8.');
      throw new FtpReplyError(501, 'OPTS UTF8 takes ON.');
    case 'MLST': {
      // RFC 3659 7.9: `OPTS MLST [SP 1*(factname ";")]`, no spaces inside the list; a list that
      // breaks that is 501 and leaves the selection as it was (7.9.2's "unique type;").
      if (/\s/.test(value)) throw new FtpReplyError(501, 'Invalid MLST options: no spaces in the fact list.');
      s.mlstFacts = selectFacts(value);
      // RFC 3659 7.9.1: "MLST OPTS" [ SP 1*( factname ";" ) ], so no space when no fact is left.
      const facts = MLST_FACTS.filter((f) => s.mlstFacts.has(f)).map((f) => f + ';').join('');
      s.reply(200, facts ? `MLST OPTS ${facts}` : 'MLST OPTS');
      return;
    }
    default:
      throw new FtpReplyError(501, 'Option not understood.');
  }
}

function help(s: Session, arg: string) {
  const verb = arg.trim().toUpperCase();
  if (verb) {
    const spec = COMMANDS.get(verb);
    if (!spec) throw new FtpReplyError(501, `Unknown command ${verb.slice(0, 32)}.`);
    s.reply(214, `Syntax: ${spec.help}${spec.handler ? '' : ' (not implemented)'}`);
    return;
  }
  const verbs = [...COMMANDS.entries()].filter(([, spec]) => spec.handler).map(([v]) => v).sort();
  const rows: string[] = [];
  for (let i = 0; i < verbs.length; i += 8) rows.push(' ' + verbs.slice(i, i + 8).map((v) => v.padEnd(6)).join(' '));
  s.reply(214, ['The following commands are recognized:', ...rows, 'Help OK.']);
}

export const infoCommands: CommandSpec[] = [
  { verb: 'FEAT', handler: feat, needsLogin: false, noArg: true, help: 'FEAT' },
  { verb: 'OPTS', handler: opts, needsLogin: false, needsArg: true, help: 'OPTS <sp> command [<sp> options]' },
  { verb: 'SYST', handler: (s) => s.reply(215, 'UNIX Type: L8'), needsLogin: false, noArg: true, help: 'SYST' },
  { verb: 'NOOP', handler: (s) => s.reply(200, 'NOOP ok.'), needsLogin: false, help: 'NOOP' },
  { verb: 'HELP', handler: help, needsLogin: false, help: 'HELP [<sp> command]' },
  {
    // RFC 2640 section 4: replies are in English only; any English tag (or none) is accepted.
    verb: 'LANG', needsLogin: false, help: 'LANG [<sp> language-tag]', feat: () => ['LANG EN*'],
    handler: (s, arg) => {
      const tag = arg.trim().toLowerCase();
      if (tag === '' || tag === 'en' || tag.startsWith('en-')) { s.reply(200, 'Responses changed to English.'); return; }
      throw new FtpReplyError(504, 'Language not supported; only EN is available.');
    },
  },
];
