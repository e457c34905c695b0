// FTP replies: format (server side) and incremental parse (client side), RFC 959 section 4.2.

export interface Reply {
  code: number;
  /** Text lines without the code prefix; a single-line reply has one. */
  lines: string[];
}

export function replyText(reply: Reply): string {
  return reply.lines.join('\n');
}

/** Preliminary (1yz), completion (2yz), intermediate (3yz), transient (4yz), permanent (5yz). */
export const isPositivePreliminary = (code: number) => code >= 100 && code < 200;
export const isPositiveCompletion = (code: number) => code >= 200 && code < 300;
export const isPositiveIntermediate = (code: number) => code >= 300 && code < 400;
export const isNegative = (code: number) => code >= 400;

/**
 * Format a reply. Multi-line replies use `code-first`, then continuation lines, then `code last`.
 * Continuation lines that would look like a terminating line are indented by one space so the
 * client cannot mistake them (RFC 959 4.2). CR and LF inside text never reach the wire raw.
 */
export function formatReply(code: number, text: string | string[]): string {
  const lines = (Array.isArray(text) ? text : [text]).flatMap((l) => String(l).split(/\r?\n|\r/));
  if (lines.length === 0) lines.push('');
  if (lines.length === 1) return `${code} ${lines[0]}\r\n`;
  const codeStr = String(code);
  let out = `${code}-${lines[0]}\r\n`;
  for (let i = 1; i < lines.length - 1; i++) {
    const l = lines[i]!;
    out += (/^\d{3}[ -]/.test(l) || l.startsWith(codeStr) ? ' ' + l : l) + '\r\n';
  }
  out += `${code} ${lines[lines.length - 1]}\r\n`;
  return out;
}

/**
 * Incremental reply parser: feed it control-connection text, it yields complete replies.
 * Tolerates bare LF line ends and servers that prefix continuation lines with the code and a dash.
 */
export class ReplyParser {
  private buffer = '';
  private pending: { code: number; lines: string[] } | undefined;
  /** Bound on a reply's size so a hostile server cannot grow our memory without end. */
  constructor(private readonly maxReplyBytes = 1024 * 1024) {}

  /** Part of a reply has come in but not all of it. */
  get holdsText(): boolean { return this.buffer.length > 0 || this.pending !== undefined; }

  push(chunk: string): Reply[] {
    this.buffer += chunk;
    const out: Reply[] = [];
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      let line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      const r = this.line(line);
      if (r) out.push(r);
    }
    const pendingSize = this.pending ? this.pending.lines.reduce((n, l) => n + l.length + 1, 0) : 0;
    if (this.buffer.length + pendingSize > this.maxReplyBytes) {
      throw new Error('reply too long');
    }
    return out;
  }

  private line(line: string): Reply | undefined {
    // A code is 1xx-5xx, followed by a space, a dash or the end of the line ("2500 x" is none).
    const m = /^([1-5]\d{2})(?:([ -])(.*))?$/.exec(line);
    if (!this.pending) {
      if (!m) {
        // Garbage before any reply: keep it as a line of an unknown reply rather than throwing.
        return undefined;
      }
      const code = Number(m[1]);
      if (m[2] === '-') {
        this.pending = { code, lines: [m[3]!] };
        return undefined;
      }
      return { code, lines: [m[3] ?? ''] };
    }
    if (m && Number(m[1]) === this.pending.code && m[2] !== '-') {
      const done: Reply = { code: this.pending.code, lines: [...this.pending.lines, m[3] ?? ''] };
      this.pending = undefined;
      return done;
    }
    // Continuation line; some servers repeat "code-" on every line.
    if (m && Number(m[1]) === this.pending.code && m[2] === '-') this.pending.lines.push(m[3]!);
    else this.pending.lines.push(line);
    return undefined;
  }
}
