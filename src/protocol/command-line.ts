// Split the control connection's bytes into command lines: Telnet IAC handling, length limit, verb + argument.

export const IAC = 255;
const DONT = 254, DO = 253, WONT = 252, WILL = 251, SB = 250, SE = 240, IP = 244, DM = 242;

export interface CommandLine {
  verb: string;
  /** The argument exactly as sent after the first space (may contain spaces; empty if none). */
  arg: string;
}

export type LineEvent =
  | { kind: 'line'; line: string; /** true when a Telnet IP or Synch preceded the line (urgent ABOR). */ urgent: boolean }
  | { kind: 'too-long' }
  | { kind: 'invalid'; reason: string };

/**
 * Incremental splitter for the control connection. Works on bytes so a multi-byte UTF-8
 * character split across TCP segments is reassembled before decoding. Telnet commands are
 * stripped (RFC 959 asks servers to understand IP and Synch before ABOR); option negotiation
 * (WILL/WONT/DO/DONT x) is dropped, not answered. Lines end with CRLF, a bare LF or a bare CR.
 */
export class CommandLineSplitter {
  private telnetState: 0 | 1 | 2 | 3 = 0; // 0 data, 1 after IAC, 2 after option verb, 3 in subnegotiation
  private urgent = false;
  private overflow = false;
  private cur: number[] = [];
  private afterCr = false;

  constructor(private readonly maxLineBytes = 4096) {}

  push(chunk: Buffer): LineEvent[] {
    const events: LineEvent[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      switch (this.telnetState) {
        case 1:
          if (b === IAC) { this.add(b, events); this.telnetState = 0; }
          else if (b === WILL || b === WONT || b === DO || b === DONT) this.telnetState = 2;
          else if (b === SB) this.telnetState = 3;
          else { if (b === IP || b === DM) this.urgent = true; this.telnetState = 0; }
          continue;
        case 2: this.telnetState = 0; continue;
        case 3: if (b === SE) this.telnetState = 0; continue;
      }
      if (b === IAC) { this.telnetState = 1; continue; }
      // CR ends a line too: clients that send "ABOR\r\n" with MSG_OOB lose the LF (the urgent
      // byte) on Linux. The LF (or the NUL of Telnet's CR NUL) that may follow is skipped.
      if (this.afterCr) { this.afterCr = false; if (b === 0x0a || b === 0) continue; }
      if (b === 0x0d) { this.afterCr = true; this.finish(events); continue; }
      if (b === 0x0a) { this.finish(events); continue; }
      this.add(b, events);
    }
    return events;
  }

  private add(b: number, events: LineEvent[]) {
    if (this.overflow) return;
    if (this.cur.length >= this.maxLineBytes) {
      this.overflow = true;
      this.cur = [];
      events.push({ kind: 'too-long' });
      return;
    }
    this.cur.push(b);
  }

  private finish(events: LineEvent[]) {
    if (this.overflow) {
      this.overflow = false;
      this.cur = [];
      this.urgent = false;
      return; // already reported when the limit was crossed
    }
    const bytes = this.cur;
    this.cur = [];
    const urgent = this.urgent;
    this.urgent = false;
    const buf = Buffer.from(bytes);
    if (buf.includes(0)) { events.push({ kind: 'invalid', reason: 'NUL byte in command' }); return; }
    const line = decodeUtf8Strict(buf);
    if (line === undefined) { events.push({ kind: 'invalid', reason: 'invalid UTF-8 in command' }); return; }
    events.push({ kind: 'line', line, urgent });
  }
}

const strictDecoder = new TextDecoder('utf-8', { fatal: true });
export function decodeUtf8Strict(buf: Uint8Array): string | undefined {
  try { return strictDecoder.decode(buf); } catch { return undefined; }
}

/**
 * Parse one command line into verb and argument. The verb is upper-cased; the argument keeps its
 * case and inner spaces (file names may have them), but leading spaces of the line are ignored.
 */
export function parseCommandLine(line: string): CommandLine {
  const trimmed = line.replace(/^ +/, '');
  const sp = trimmed.indexOf(' ');
  if (sp < 0) return { verb: trimmed.toUpperCase(), arg: '' };
  return { verb: trimmed.slice(0, sp).toUpperCase(), arg: trimmed.slice(sp + 1) };
}

/** Format a command for the wire; refuses CR/LF in it so callers cannot inject a second command. */
export function formatCommand(verb: string, arg?: string): string {
  const text = arg === undefined || arg === '' ? verb : `${verb} ${arg}`;
  if (/[\r\n]/.test(text)) throw new Error('command contains CR or LF');
  return text + '\r\n';
}
