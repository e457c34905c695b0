// `wharf shell`: an interactive FTP session with history and tab completion of remote and local names.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import type { FtpClient } from '../client/client.js';
import type { FileInfo } from '../protocol/listing.js';
import { classify, EXIT, redactSecrets } from './client-connect.js';
import { formatBytes, ProgressBar } from './progress-bar.js';
import { printable, printableLines } from './terminal-text.js';

interface ShellCommand {
  args: string;
  help: string;
  /** Which names tab completion offers for the arguments. */
  complete: 'remote' | 'local' | 'none';
  run: (ctx: ShellContext, args: string[]) => Promise<void>;
}

interface ShellContext {
  client: FtpClient;
  out: (line: string) => void;
  quiet: boolean;
  /** --limit-rate, bytes per second, for get and put. */
  maxRate?: number;
  signal: AbortSignal;
  invalidate: () => void;
  history: () => string[];
}

/** Split a command line into words; "double" and 'single' quotes and backslashes keep spaces in names. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let cur = '', inWord = false, quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += c;
    } else if (c === '"' || c === "'") { quote = c; inWord = true; }
    else if (c === '\\' && i + 1 < line.length) { cur += line[++i]; inWord = true; }
    else if (/\s/.test(c)) { if (inWord) { words.push(cur); cur = ''; inWord = false; } }
    else { cur += c; inWord = true; }
  }
  if (inWord) words.push(cur);
  return words;
}

function need(args: string[], min: number, usage: string) {
  if (args.length < min) throw new Error(`usage: ${usage}`);
}

function longLine(e: FileInfo): string {
  const kind = e.type === 'dir' ? 'd' : e.type === 'link' ? 'l' : '-';
  const when = e.modified ? e.modified.toISOString().slice(0, 16).replace('T', ' ') : ''.padEnd(16);
  return `${kind} ${String(e.size ?? '').padStart(12)}  ${when}  ${printable(e.type === 'dir' ? `${e.name}/` : e.name)}${e.target ? ` -> ${printable(e.target)}` : ''}`;
}

async function transferWithBar(ctx: ShellContext, label: string, fn: (onProgress: ProgressBar['update']) => Promise<number>) {
  const bar = new ProgressBar(label, ctx.quiet);
  const started = Date.now();
  const n = await fn(bar.update);
  bar.finish();
  if (!ctx.quiet) {
    const s = (Date.now() - started) / 1000;
    ctx.out(`${label}: ${formatBytes(n)} in ${s.toFixed(1)} s (${formatBytes(n / Math.max(s, 0.001))}/s)`);
  }
}

const COMMANDS: Record<string, ShellCommand> = {
  ls: {
    args: '[-l] [path]', help: 'list a remote folder', complete: 'remote',
    async run(ctx, args) {
      const long = args[0] === '-l';
      const entries = await ctx.client.list(long ? args[1] ?? '' : args[0] ?? '');
      entries.sort((a, b) => a.name.localeCompare(b.name));
      for (const e of entries) ctx.out(long ? longLine(e) : printable(e.type === 'dir' ? `${e.name}/` : e.name));
    },
  },
  dir: { args: '[path]', help: 'long listing (ls -l)', complete: 'remote', run: (ctx, args) => COMMANDS.ls!.run(ctx, ['-l', ...args]) },
  cd: {
    args: '<path>', help: 'change remote folder', complete: 'remote',
    async run(ctx, args) { need(args, 1, 'cd <path>'); await ctx.client.cd(args[0]!); ctx.out(printable(await ctx.client.pwd())); },
  },
  pwd: { args: '', help: 'print remote folder', complete: 'none', async run(ctx) { ctx.out(printable(await ctx.client.pwd())); } },
  get: {
    args: '<remote> [local]', help: 'download a file', complete: 'remote',
    async run(ctx, args) {
      need(args, 1, 'get <remote> [local]');
      const remote = args[0]!;
      let local = args[1] ?? path.posix.basename(remote);
      if (fs.statSync(local, { throwIfNoEntry: false })?.isDirectory()) local = path.join(local, path.posix.basename(remote));
      await transferWithBar(ctx, remote, (onProgress) => ctx.client.download(remote, local, { signal: ctx.signal, onProgress, maxRate: ctx.maxRate }));
    },
  },
  put: {
    args: '<local> [remote]', help: 'upload a file', complete: 'local',
    async run(ctx, args) {
      need(args, 1, 'put <local> [remote]');
      const local = args[0]!;
      const remote = args[1] ?? path.basename(local);
      await fsp.access(local, fs.constants.R_OK);
      await transferWithBar(ctx, remote, (onProgress) => ctx.client.upload(local, remote, { signal: ctx.signal, onProgress, maxRate: ctx.maxRate }));
      ctx.invalidate();
    },
  },
  mkdir: {
    args: '[-p] <path>', help: 'create a remote folder', complete: 'remote',
    async run(ctx, args) {
      const parents = args[0] === '-p';
      const dir = parents ? args[1] : args[0];
      if (!dir) throw new Error('usage: mkdir [-p] <path>');
      if (parents) await ctx.client.ensureDir(dir); else await ctx.client.mkdir(dir);
      ctx.invalidate();
    },
  },
  rm: {
    args: '<file>...', help: 'delete remote files', complete: 'remote',
    async run(ctx, args) { need(args, 1, 'rm <file>...'); for (const f of args) await ctx.client.remove(f); ctx.invalidate(); },
  },
  rmdir: {
    args: '[-r] <path>', help: 'remove a remote folder (-r: with its contents)', complete: 'remote',
    async run(ctx, args) {
      const recursive = args[0] === '-r';
      const dir = recursive ? args[1] : args[0];
      if (!dir) throw new Error('usage: rmdir [-r] <path>');
      await ctx.client.removeDir(dir, { recursive });
      ctx.invalidate();
    },
  },
  mv: {
    args: '<from> <to>', help: 'rename a remote file or folder', complete: 'remote',
    async run(ctx, args) { need(args, 2, 'mv <from> <to>'); await ctx.client.rename(args[0]!, args[1]!); ctx.invalidate(); },
  },
  size: {
    args: '<file>', help: 'size of a remote file', complete: 'remote',
    async run(ctx, args) { need(args, 1, 'size <file>'); ctx.out(String(await ctx.client.size(args[0]!))); },
  },
  quote: {
    args: '<command>', help: 'send a raw FTP command and print the reply', complete: 'none',
    async run(ctx, args) { need(args, 1, 'quote <command>'); const r = await ctx.client.send(args.join(' ')); ctx.out(printableLines(`${r.code} ${r.text}`)); },
  },
  lcd: {
    args: '<path>', help: 'change local folder', complete: 'local',
    async run(ctx, args) { process.chdir(args[0] ?? os.homedir()); ctx.out(process.cwd()); },
  },
  lpwd: { args: '', help: 'print local folder', complete: 'none', async run(ctx) { ctx.out(process.cwd()); } },
  lls: {
    args: '[path]', help: 'list a local folder', complete: 'local',
    async run(ctx, args) {
      const entries = await fsp.readdir(args[0] ?? '.', { withFileTypes: true });
      for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) ctx.out(e.isDirectory() ? `${e.name}/` : e.name);
    },
  },
  history: {
    args: '', help: 'commands typed so far', complete: 'none',
    async run(ctx) { ctx.history().forEach((line, i) => ctx.out(`${String(i + 1).padStart(4)}  ${line}`)); },
  },
  help: {
    args: '', help: 'this list', complete: 'none',
    async run(ctx) {
      for (const [name, c] of Object.entries(COMMANDS)) ctx.out(`${`${name} ${c.args}`.padEnd(24)} ${c.help}`);
      ctx.out(`${'bye'.padEnd(24)} end the session (also quit, exit)`);
    },
  },
};
const ALIASES: Record<string, string> = { '?': 'help', delete: 'rm', rename: 'mv', mkd: 'mkdir', cdup: 'cd', ll: 'dir' };
const EXITS = new Set(['bye', 'quit', 'exit']);

/** Remote names for completion, cached per folder for a few seconds so Tab stays fast. */
class RemoteNames {
  private cache = new Map<string, { at: number; names: string[] }>();
  constructor(private readonly client: FtpClient) {}
  async under(dir: string): Promise<string[]> {
    const hit = this.cache.get(dir);
    if (hit && Date.now() - hit.at < 10_000) return hit.names;
    // Names with control characters are not offered: readline would write them to the terminal as they are.
    const names = (await this.client.list(dir).catch(() => [])).filter((e) => printable(e.name) === e.name)
      .map((e) => (e.type === 'dir' ? `${e.name}/` : e.name));
    this.cache.set(dir, { at: Date.now(), names });
    return names;
  }
  clear() { this.cache.clear(); }
}

async function localNames(dir: string): Promise<string[]> {
  const entries = await fsp.readdir(dir || '.', { withFileTypes: true }).catch(() => []);
  return entries.map((e) => (e.isDirectory() ? `${e.name}/` : e.name));
}

/** Completions for the word under the cursor: command names first, then remote or local paths. */
export async function completeLine(line: string, remote: (dir: string) => Promise<string[]>): Promise<[string[], string]> {
  const words = line.split(/\s+/);
  const word = words[words.length - 1] ?? '';
  if (words.length <= 1) {
    const names = [...Object.keys(COMMANDS), ...EXITS].filter((n) => n.startsWith(word)).sort();
    return [names.map((n) => `${n} `), word];
  }
  const name = ALIASES[words[0]!] ?? words[0]!;
  const cmd = COMMANDS[name];
  if (!cmd || cmd.complete === 'none') return [[], word];
  // `put local remote`: the second argument is a remote name.
  const kind = cmd.complete === 'local' && name === 'put' && words.length > 2 ? 'remote' : cmd.complete;
  const slash = word.lastIndexOf('/');
  const dir = slash >= 0 ? word.slice(0, slash + 1) : '';
  const prefix = word.slice(slash + 1);
  const names = kind === 'remote' ? await remote(dir) : await localNames(dir);
  return [names.filter((n) => n.startsWith(prefix)).sort().map((n) => dir + n), word];
}

function historyFile(): string {
  return process.env.WHARF_HISTFILE ?? path.join(os.homedir(), '.wharf_history');
}

/**
 * Read commands from stdin until bye or end of input. On a terminal: prompt, history (kept in
 * ~/.wharf_history), Tab completion, Ctrl-C cancels the running transfer. Returns the exit code:
 * scripts piping commands in get 4 if any command failed.
 */
export async function runShell(client: FtpClient, options: { quiet: boolean; maxRate?: number; secrets?: readonly (string | undefined)[] }): Promise<number> {
  const terminal = process.stdin.isTTY === true && process.stdout.isTTY === true;
  const names = new RemoteNames(client);
  let saved: string[] = [];
  if (terminal) {
    try { saved = fs.readFileSync(historyFile(), 'utf8').split('\n').filter(Boolean).reverse().slice(0, 500); } catch { /* first run */ }
  }
  const rl = readline.createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal,
    history: saved,
    historySize: 500,
    removeHistoryDuplicates: true,
    completer: (line: string, cb: (err: Error | null, result: [string[], string]) => void) => {
      completeLine(line, (d) => names.under(d)).then((r) => cb(null, r), () => cb(null, [[], line]));
    },
  });
  const typed: string[] = [];
  let current: AbortController | undefined;
  rl.on('SIGINT', () => {
    if (current) current.abort();
    else { process.stdout.write('^C\n'); rl.prompt(); }
  });
  if (terminal) {
    rl.on('history', (h: string[]) => {
      fs.writeFile(historyFile(), [...h].reverse().join('\n') + '\n', { mode: 0o600 }, () => {});
    });
  }
  const out = (line: string) => process.stdout.write(`${line}\n`);
  let failed = false;
  let connectionLost = false;
  const prompt = async () => { if (terminal) { rl.setPrompt(`wharf:${printable(await client.pwd().catch(() => '?'))}> `); rl.prompt(); } };
  await prompt();
  for await (const line of rl) {
    const words = splitWords(line.trim());
    if (words.length === 0) { await prompt(); continue; }
    typed.push(line.trim());
    const name = ALIASES[words[0]!.toLowerCase()] ?? words[0]!.toLowerCase();
    if (EXITS.has(name)) break;
    const cmd = COMMANDS[name];
    if (!cmd) {
      process.stderr.write(`unknown command: ${printable(words[0]!)} (try help)\n`);
      failed = true;
    } else {
      current = new AbortController();
      const args = words[0]!.toLowerCase() === 'cdup' ? ['..'] : words.slice(1);
      try {
        await cmd.run({ client, out, quiet: options.quiet || !terminal, maxRate: options.maxRate, signal: current.signal, invalidate: () => names.clear(), history: () => typed }, args);
      } catch (err) {
        const { message, code } = current.signal.aborted ? { message: 'cancelled', code: EXIT.cancelled } : classify(err);
        process.stderr.write(`${name}: ${printableLines(redactSecrets(message, options.secrets))}\n`);
        failed = true;
        if (code === EXIT.interrupted && !current.signal.aborted) { connectionLost = true; break; }
      } finally {
        current = undefined;
      }
    }
    await prompt();
  }
  rl.close();
  if (connectionLost) return EXIT.interrupted;
  return failed && !terminal ? EXIT.remote : EXIT.ok;
}
