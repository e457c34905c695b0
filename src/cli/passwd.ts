// `wharf passwd`: read a password without echo and print a users-file entry with its scrypt hash.
import type { Command } from 'commander';
import { hashPassword } from '../server/auth/password-hash.js';

/** Read one line from stdin; on a terminal, with echo off so the password never shows. */
async function readPassword(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    let data = '';
    for await (const chunk of stdin) {
      data += chunk;
      if (data.includes('\n')) break;
    }
    return data.split(/\r?\n/)[0] ?? '';
  }
  // Echo off before the prompt shows: input typed (or sent by a script) on seeing it is not echoed.
  stdin.setRawMode(true);
  process.stderr.write(prompt);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let pw = '';
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') { done(); resolve(pw); return; }
        if (ch === '\u0003') { done(); reject(new Error('cancelled')); return; }
        if (ch === '\u007f' || ch === '\b') pw = pw.slice(0, -1);
        else pw += ch;
      }
    };
    const done = () => { stdin.off('data', onData); stdin.setRawMode(false); stdin.pause(); process.stderr.write('\n'); };
    stdin.on('data', onData);
  });
}

export function registerPasswd(program: Command): void {
  program
    .command('passwd')
    .description('print a users-file entry with a hashed password (the password is read from stdin)')
    .argument('[username]', 'user name for the entry', 'user')
    .option('--home <dir>', 'home folder for the entry')
    .action(async (username: string, opts: { home?: string }) => {
      const password = await readPassword(`Password for ${username}: `);
      if (!password) throw new Error('empty password');
      // Typed blind, so typed twice (as passwd and htpasswd do); piped input is taken as it comes.
      if (process.stdin.isTTY && (await readPassword('Again: ')) !== password) throw new Error('the passwords differ; nothing printed');
      const entry = { username, password: await hashPassword(password), ...(opts.home ? { home: opts.home } : {}) };
      process.stdout.write(JSON.stringify(entry) + '\n');
    });
}
