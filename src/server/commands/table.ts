// The command table: each verb declared once; dispatch, FEAT, HELP and the login gate read it.
import type { Session } from '../session.js';
import type { ServerContext } from '../context.js';

export interface CommandSpec {
  /** Canonical verb (aliases such as XPWD point at the PWD spec). */
  verb: string;
  /** Missing handler: a known command answered 502. */
  handler?: (session: Session, arg: string, verb: string) => Promise<void> | void;
  /** Defaults to true. */
  needsLogin?: boolean;
  needsArg?: boolean;
  /** Takes no argument (RFC 959's syntax): one given is a 501. */
  noArg?: boolean;
  /** Lines this command adds to FEAT, given the server's configuration. */
  feat?: (ctx: ServerContext, session: Session) => string[];
  /** Syntax shown by HELP. */
  help: string;
  aliases?: string[];
}

export const COMMANDS = new Map<string, CommandSpec>();

export function register(specs: CommandSpec[]): void {
  for (const spec of specs) {
    COMMANDS.set(spec.verb, spec);
    for (const a of spec.aliases ?? []) COMMANDS.set(a, spec);
  }
}
