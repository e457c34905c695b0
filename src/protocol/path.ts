// Virtual paths: POSIX-style, always absolute, never above "/"; and quoting for 257 replies.
import path from 'node:path';

/**
 * Resolve `input` against the virtual working directory `cwd`. Backslashes count as separators
 * (Windows clients send them) and `..` stops at the virtual root, so the result can never name
 * anything above "/". Returns undefined for input with NUL bytes.
 */
export function resolveVirtual(cwd: string, input: string): string | undefined {
  if (input.includes('\0')) return undefined;
  const arg = input.replace(/\\/g, '/');
  const joined = arg.startsWith('/') ? arg : `${cwd}/${arg}`;
  const out: string[] = [];
  for (const seg of joined.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') { out.pop(); continue; }
    out.push(seg);
  }
  return '/' + out.join('/');
}

/** A name from a listing that is one plain path component: not empty, `.` or `..`, no `/`, `\` or NUL. */
export function isSafeName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !/[/\\\0]/.test(name);
}

export function virtualParent(p: string): string {
  return path.posix.dirname(p);
}

export function virtualBasename(p: string): string {
  return path.posix.basename(p);
}

/** RFC 959 appendix II: the path in a 257 reply is quoted and inner quotes are doubled. */
export function quotePath(p: string): string {
  return `"${p.replace(/"/g, '""')}"`;
}

/**
 * Parse the quoted path out of a 257 reply (client side); inverse of quotePath. Some servers
 * (Pure-FTPd) do not double inner quotes: a closing quote followed by more than the reply's
 * comment (`"/say "hi"" is ...`) means that, and the path then runs to the last quote that is
 * followed by a space or the end of the line.
 */
export function unquotePath(text: string): string | undefined {
  const start = text.indexOf('"');
  if (start < 0) return undefined;
  let out = '';
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      if (text[i + 1] === '"') { out += '"'; i++; continue; }
      if (i + 1 < text.length && text[i + 1] !== ' ') return undoubled(text, start) ?? out;
      return out;
    }
    out += c;
  }
  return undefined;
}

function undoubled(text: string, start: number): string | undefined {
  for (let end = text.length - 1; end > start; end--) {
    if (text[end] === '"' && (end + 1 === text.length || text[end + 1] === ' ')) return text.slice(start + 1, end);
  }
  return undefined;
}
