// Where the client CLI finds a login: the URL, then WHARF_USER/WHARF_PASSWORD, then ~/.netrc, else anonymous.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface NetrcEntry { machine: string | undefined; login?: string; password?: string }

/** Parse .netrc text: `machine`/`default` blocks with login and password; `macdef` bodies are skipped. */
export function parseNetrc(text: string): NetrcEntry[] {
  const entries: NetrcEntry[] = [];
  const lines = text.split(/\r?\n/);
  let current: NetrcEntry | undefined;
  for (let i = 0; i < lines.length; i++) {
    const tokens = lines[i]!.replace(/#.*$/, '').trim().split(/\s+/).filter(Boolean);
    for (let t = 0; t < tokens.length; t++) {
      const word = tokens[t]!;
      const value = tokens[t + 1];
      if (word === 'machine') { current = { machine: value }; entries.push(current); t++; }
      else if (word === 'default') { current = { machine: undefined }; entries.push(current); }
      else if (word === 'login' && current) { current.login = value; t++; }
      else if (word === 'password' && current) { current.password = value; t++; }
      else if (word === 'account' && current) t++;
      else if (word === 'macdef') {
        // A macro runs to the next empty line.
        while (i + 1 < lines.length && lines[i + 1]!.trim() !== '') i++;
        break;
      }
    }
  }
  return entries;
}

export interface Credentials { user: string; password: string; source: 'url' | 'env' | 'netrc' | 'anonymous' | 'prompt' }

export interface CredentialSources {
  host: string;
  urlUser?: string;
  urlPassword?: string;
  env?: NodeJS.ProcessEnv;
  netrcPath?: string;
}

/**
 * Pick the login for `host`. A user named in the URL wins and takes its password from the URL,
 * WHARF_PASSWORD or a matching .netrc entry, in that order; returns undefined password if none.
 */
export function resolveCredentials(s: CredentialSources): { user: string; password: string | undefined; source: Credentials['source'] } {
  const env = s.env ?? process.env;
  const netrc = readNetrc(s.netrcPath ?? env.NETRC ?? path.join(os.homedir(), '.netrc'));
  const forHost = netrc.find((e) => e.machine === s.host) ?? netrc.find((e) => e.machine === undefined);
  if (s.urlUser) {
    if (s.urlPassword !== undefined) return { user: s.urlUser, password: s.urlPassword, source: 'url' };
    if (env.WHARF_PASSWORD !== undefined) return { user: s.urlUser, password: env.WHARF_PASSWORD, source: 'env' };
    if (forHost?.login === s.urlUser && forHost.password !== undefined) return { user: s.urlUser, password: forHost.password, source: 'netrc' };
    return { user: s.urlUser, password: undefined, source: 'url' };
  }
  if (env.WHARF_USER) return { user: env.WHARF_USER, password: env.WHARF_PASSWORD, source: 'env' };
  if (forHost?.login) return { user: forHost.login, password: forHost.password ?? '', source: 'netrc' };
  return { user: 'anonymous', password: 'anonymous@', source: 'anonymous' };
}

function readNetrc(file: string): NetrcEntry[] {
  try { return parseNetrc(fs.readFileSync(file, 'utf8')); } catch { return []; }
}

/** Ask for a password on the terminal without echoing it. */
export function promptPassword(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const input = process.stdin;
    if (!input.isTTY) { reject(new Error('a password is needed: give it in WHARF_PASSWORD or ~/.netrc')); return; }
    // Echo off before the question shows: input typed on seeing it is not echoed.
    input.setRawMode(true);
    process.stderr.write(question);
    input.resume();
    input.setEncoding('utf8');
    let answer = '';
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') { done(); resolve(answer); return; }
        if (ch === '\u0003') { done(); reject(new Error('cancelled')); return; }
        if (ch === '\u007f' || ch === '\b') answer = answer.slice(0, -1);
        else answer += ch;
      }
    };
    const done = () => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
    };
    input.on('data', onData);
  });
}
