// Client subcommands: ls, get, put, mirror, rm, mkdir and shell, all over one FtpClient per run.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { Command, Option } from 'commander';
import type { FtpClient, Progress } from '../client/client.js';
import type { FileInfo } from '../protocol/listing.js';
import { downloadSegmented, mirrorDown, mirrorUp, MirrorIncompleteError, TransferSizeError } from '../client/mirror.js';
import { CliError, classify, clientOptions, connectClient, EXIT, parseUrl, redactSecrets, remotePathOf, type ClientFlags } from './client-connect.js';
import { formatBytes, ProgressBar } from './progress-bar.js';
import { runShell } from './shell.js';
import { parseRate } from '../transfer-limits.js';
import { printable, printableLines } from './terminal-text.js';

/** Servers count a restart offset in ASCII mode differently (see asciiRestartError in the client). */
const ASCII_RESUME = '--continue cannot be combined with --ascii: servers count an ASCII restart offset differently';

/** For the commands that move files. */
function addRateFlag(cmd: Command): Command {
  return cmd.option('--limit-rate <rate>', 'bandwidth, bytes per second or like 512K, 2M (segments and mirror connections share it)');
}

function addClientFlags(cmd: Command): Command {
  return cmd
    .option('--insecure', 'do not verify the server certificate (ftpes:// and ftps://)')
    .option('--ca <file>', 'trust this CA certificate (PEM) as well')
    .option('--active', 'active mode: the server connects back (PORT/EPRT)')
    .option('--timeout <seconds>', 'connect, reply and idle data timeout')
    .option('-q, --quiet', 'no progress or summary')
    .option('-v, --verbose', 'print the FTP conversation to stderr (passwords hidden)');
}

/** --limit-rate in bytes per second, or undefined for none. */
function rateOf(flags: ClientFlags): number | undefined {
  if (flags.limitRate === undefined) return undefined;
  try {
    return parseRate(flags.limitRate, '--limit-rate') || undefined;
  } catch (err) {
    throw new CliError((err as Error).message, EXIT.usage);
  }
}

/**
 * Run one subcommand: connect from the URL, run `fn`, close, and turn errors into a message and
 * an exit code. Ctrl-C aborts the transfer (ABOR) and exits with 130.
 */
async function withClient(urlText: string, flags: ClientFlags,
  fn: (client: FtpClient, remote: string, signal: AbortSignal, connectMore: () => Promise<FtpClient>, secrets: (string | undefined)[]) => Promise<void>) {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(EXIT.cancelled);
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  let client: FtpClient | undefined;
  // Never printed: an error can quote a URL (a parse error, a URL given where a local path goes).
  const secrets: (string | undefined)[] = [process.env.WHARF_PASSWORD];
  try {
    const url = parseUrl(urlText);
    secrets.push(url.password);
    const options = await clientOptions(url, flags);
    secrets.push(options.password);
    client = await connectClient(options);
    await fn(client, remotePathOf(url), controller.signal, () => connectClient(options), secrets);
  } catch (err) {
    const { message, code } = controller.signal.aborted ? { message: 'cancelled', code: EXIT.cancelled } : classify(err);
    // Messages quote server replies and names: their control characters are shown, not obeyed.
    process.stderr.write(`wharf: ${printableLines(redactSecrets(message, secrets))}\n`);
    process.exitCode = code;
  } finally {
    process.off('SIGINT', onSigint);
    await client?.close().catch(() => undefined);
  }
}

function baseName(remote: string): string {
  return path.posix.basename(remote.replace(/\/+$/, ''));
}

function summary(flags: ClientFlags, verb: string, bytes: number, started: number) {
  if (flags.quiet || !process.stderr.isTTY) return;
  const s = (Date.now() - started) / 1000;
  process.stderr.write(`${verb} ${formatBytes(bytes)} in ${s.toFixed(1)} s (${formatBytes(bytes / Math.max(s, 0.001))}/s)\n`);
}

/** Long listing line: type, size, time, name (and link target); control characters in names shown escaped. */
export function formatEntry(e: FileInfo): string {
  const kind = e.type === 'dir' ? 'd' : e.type === 'link' ? 'l' : e.type === 'file' ? '-' : '?';
  const when = e.modified ? e.modified.toISOString().slice(0, 16).replace('T', ' ') : ''.padEnd(16);
  const name = e.type === 'dir' ? `${e.name}/` : e.name;
  return `${kind} ${String(e.size ?? '').padStart(12)}  ${when}  ${printable(name)}${e.target ? ` -> ${printable(e.target)}` : ''}`;
}

async function ls(urlText: string, flags: ClientFlags & { long?: boolean; json?: boolean }) {
  await withClient(urlText, flags, async (client, remote) => {
    const entries = await client.list(remote);
    entries.sort((a, b) => a.name.localeCompare(b.name));
    if (flags.json) { process.stdout.write(JSON.stringify(entries, null, 2) + '\n'); return; }
    process.stdout.write(entries.map((e) => (flags.long ? formatEntry(e) : printable(e.type === 'dir' ? `${e.name}/` : e.name))).join('\n') + (entries.length ? '\n' : ''));
  });
}

async function get(urlText: string, localArg: string | undefined, flags: ClientFlags & { continue?: boolean; segments?: string; ascii?: boolean }) {
  await withClient(urlText, flags, async (client, remote, signal, connectMore) => {
    if (!remote || remote.endsWith('/')) throw new CliError('the URL names a folder: give a file, or use `wharf mirror`', EXIT.usage);
    const toStdout = localArg === '-';
    let local = localArg ?? baseName(remote);
    if (!toStdout && fs.statSync(local, { throwIfNoEntry: false })?.isDirectory()) local = path.join(local, baseName(remote));
    const started = Date.now();
    if (toStdout) {
      const bar = new ProgressBar(remote, !!flags.quiet);
      const n = await client.download(remote, process.stdout as unknown as Writable, { signal, onProgress: bar.update, ascii: flags.ascii, maxRate: rateOf(flags) });
      bar.finish();
      summary(flags, 'got', n, started);
      return;
    }
    const segments = flags.segments ? Number(flags.segments) : 1;
    if (!(segments >= 1 && segments <= 16 && Number.isInteger(segments))) throw new CliError('--segments wants 1..16', EXIT.usage);
    if (flags.continue && flags.ascii) throw new CliError(ASCII_RESUME, EXIT.usage);
    let offset = 0;
    if (flags.continue) offset = fs.statSync(local, { throwIfNoEntry: false })?.size ?? 0;
    const bar = new ProgressBar(remote, !!flags.quiet);
    const shown = (p: Progress) => bar.update({ ...p, bytes: p.bytes + offset });
    let n: number;
    if (segments > 1 && !offset && !flags.ascii) {
      n = await downloadSegmented(client, connectMore, remote, local, { segments, signal, onProgress: shown, maxRate: rateOf(flags) });
    } else {
      const size = await client.size(remote).catch(() => undefined);
      if (offset && size !== undefined && offset >= size) { if (!flags.quiet) process.stderr.write(`${local} is complete already\n`); return; }
      n = await client.download(remote, local, { offset, signal, onProgress: shown, ascii: flags.ascii, maxRate: rateOf(flags) });
      // The bytes must make up the size the server gave: a transfer cut short with a 226, or a
      // server that took the REST and sent from byte 0 anyway, is not a good copy. (Not in ASCII
      // mode: SIZE counts the file as stored, the transfer counts converted line ends.)
      if (size !== undefined && !flags.ascii && offset + n !== size) {
        bar.finish();
        const err = new TransferSizeError(remote, size, n, offset);
        let what = `${local} is incomplete`;
        if (offset) {
          // What came may not continue the file at all: back to the part there was before.
          const cut = await fsp.truncate(local, offset).then(() => true, () => false);
          what = cut ? `${local} is left as it was (${offset} bytes)` : `${local} may be corrupt`;
        }
        throw new CliError(`${err.message}; ${what}`, EXIT.interrupted);
      }
    }
    bar.finish();
    summary(flags, 'got', n, started);
  });
}

async function put(localArg: string, urlText: string, flags: ClientFlags & { continue?: boolean; mkdir?: boolean; ascii?: boolean }) {
  await withClient(urlText, flags, async (client, remotePath, signal) => {
    const fromStdin = localArg === '-';
    if (flags.continue && flags.ascii) throw new CliError(ASCII_RESUME, EXIT.usage);
    let remote = remotePath;
    if (!remote || remote.endsWith('/')) {
      if (fromStdin) throw new CliError('reading stdin: the URL must name the file to write', EXIT.usage);
      remote += path.basename(localArg);
    }
    if (!fromStdin) {
      const st = await fsp.stat(localArg).catch((err) => { throw new CliError(`${localArg}: ${(err as Error).message}`, EXIT.local); });
      if (st.isDirectory()) throw new CliError(`${localArg} is a folder: use \`wharf mirror --reverse\``, EXIT.usage);
    }
    const parent = path.posix.dirname(remote);
    if (flags.mkdir && parent !== '.' && parent !== '/') await client.ensureDir(parent);
    let offset = 0;
    if (flags.continue && !fromStdin) offset = await client.size(remote).catch(() => 0);
    const started = Date.now();
    const bar = new ProgressBar(remote, !!flags.quiet);
    const local = fromStdin ? undefined : await fsp.stat(localArg);
    const total = local?.isFile() ? local.size : undefined;
    if (total !== undefined && offset >= total && offset > 0) { if (!flags.quiet) process.stderr.write(`${remote} is complete already\n`); return; }
    // A path goes to the client as it is: it reads regular files in large positioned chunks.
    const source = fromStdin ? process.stdin as Readable : localArg;
    const n = await client.upload(source, remote, { offset, signal, ascii: flags.ascii, maxRate: rateOf(flags), onProgress: (p) => bar.update({ ...p, bytes: p.bytes + offset, total }) });
    bar.finish();
    summary(flags, 'sent', n, started);
  });
}

async function mirror(a: string, b: string, flags: ClientFlags & { reverse?: boolean; delete?: boolean; parallel?: string }) {
  const parallel = flags.parallel ? Number(flags.parallel) : 4;
  if (!(Number.isInteger(parallel) && parallel >= 1 && parallel <= 32)) { usageError('--parallel wants 1..32'); return; }
  const [urlText, localDir] = flags.reverse ? [b, a] : [a, b];
  await withClient(urlText, flags, async (client, remote, signal, connectMore, secrets) => {
    const started = Date.now();
    const perFile = new Map<string, number>();
    const bar = new ProgressBar('mirror', !!flags.quiet);
    const onProgress = (p: Progress) => {
      perFile.set(p.path, p.bytes);
      let bytes = 0;
      for (const v of perFile.values()) bytes += v;
      bar.update({ ...p, path: 'mirror', bytes, total: undefined, rate: bytes / Math.max(0.001, (Date.now() - started) / 1000) });
    };
    const onFile = (e: { path: string; action: string; error?: Error }) => {
      // Failures always, on stderr: the run goes on with the other files and exits non-zero at the end.
      if (e.action === 'fail') { process.stderr.write(`wharf: failed ${printable(e.path)}: ${printableLines(redactSecrets(e.error?.message ?? 'failed', secrets))}\n`); return; }
      if (flags.quiet || e.action === 'skip') return;
      // Progress lives on stderr; the list of what changed goes to stdout for scripts.
      process.stdout.write(`${e.action} ${printable(e.path)}\n`);
    };
    if (!flags.reverse && !fs.statSync(localDir, { throwIfNoEntry: false })?.isDirectory() && fs.existsSync(localDir)) {
      throw new CliError(`${localDir} exists and is not a folder`, EXIT.local);
    }
    if (flags.reverse && !fs.statSync(localDir, { throwIfNoEntry: false })?.isDirectory()) throw new CliError(`${localDir}: no such folder`, EXIT.local);
    const options = { parallel, delete: flags.delete, signal, onFile, onProgress, maxRate: rateOf(flags) };
    const tell = (r: { transferred: number; resumed: number; skipped: number; deleted: number; failed: number; bytes: number }) => {
      bar.finish();
      if (flags.quiet) return;
      process.stderr.write(`${r.transferred} transferred, ${r.resumed} resumed, ${r.skipped} unchanged, ${r.deleted} deleted, `
        + `${r.failed ? `${r.failed} failed, ` : ''}${formatBytes(r.bytes)} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    };
    try {
      tell(flags.reverse ? await mirrorUp(client, connectMore, localDir, remote, options) : await mirrorDown(client, connectMore, remote, localDir, options));
    } catch (err) {
      if (!(err instanceof MirrorIncompleteError)) throw err;
      tell(err.result);
      // Each failure is printed already: the exit code is the first one's kind.
      throw new CliError(`${err.failures.length} not mirrored (listed above)`, classify(err.failures[0]!.error).code);
    }
  });
}

async function rm(urlText: string, flags: ClientFlags & { recursive?: boolean; dir?: boolean }) {
  await withClient(urlText, flags, async (client, remote) => {
    if (!remote || remote === '/') throw new CliError('refusing to remove the root folder', EXIT.usage);
    if (flags.recursive) {
      const info = await client.stat(remote);
      if (info?.type === 'dir' || (!info && await isFolder(client, remote))) { await client.removeDir(remote, { recursive: true }); return; }
    }
    if (flags.dir) { await client.removeDir(remote); return; }
    await client.remove(remote);
  });
}

async function isFolder(client: FtpClient, remote: string): Promise<boolean> {
  const here = await client.pwd();
  try { await client.cd(remote); } catch { return false; }
  await client.cd(here);
  return true;
}

async function mkdir(urlText: string, flags: ClientFlags & { parents?: boolean }) {
  await withClient(urlText, flags, async (client, remote) => {
    if (!remote) throw new CliError('the URL names no folder to create', EXIT.usage);
    if (flags.parents) await client.ensureDir(remote);
    else await client.mkdir(remote);
  });
}

function usageError(message: string) {
  process.stderr.write(`wharf: ${message}\n`);
  process.exitCode = EXIT.usage;
}

export function registerTransferCommands(program: Command): void {
  addClientFlags(program.command('ls').description('list a remote folder').argument('<url>', 'ftp://, ftpes:// or ftps:// URL')
    .option('-l, --long', 'type, size, time and name').option('--json', 'entries as JSON'))
    .action((url, opts) => ls(url, opts));

  addRateFlag(addClientFlags(program.command('get').description('download a file').argument('<url>').argument('[local]', 'file or folder to write; - for stdout')
    .option('-c, --continue', 'resume a partial local file').option('--segments <n>', 'fetch in N parallel segments (REST)')
    .option('--ascii', 'TYPE A: convert line ends')))
    .action((url, local, opts) => get(url, local, opts));

  addRateFlag(addClientFlags(program.command('put').description('upload a file').argument('<local>', 'file to send; - for stdin').argument('<url>', 'a URL ending in / keeps the local name')
    .option('-c, --continue', 'resume a partial remote file').option('-p, --mkdir', 'create missing remote folders')
    .option('--ascii', 'TYPE A: convert line ends')))
    .action((local, url, opts) => put(local, url, opts));

  addRateFlag(addClientFlags(program.command('mirror').description('copy a folder tree down (URL DIR), or up with --reverse (DIR URL)')
    .argument('<from>').argument('<to>')
    .option('-R, --reverse', 'upload: mirror --reverse DIR URL')
    .option('--delete', 'delete files that no longer exist on the source side')
    .addOption(new Option('-P, --parallel <n>', 'connections at once').default('4'))))
    .action((from, to, opts) => mirror(from, to, opts));

  addClientFlags(program.command('rm').description('delete a remote file (or folder with -r)').argument('<url>')
    .option('-r, --recursive', 'delete a folder and everything in it').option('-d, --dir', 'remove an empty folder'))
    .action((url, opts) => rm(url, opts));

  addClientFlags(program.command('mkdir').description('create a remote folder').argument('<url>')
    .option('-p, --parents', 'create missing parents; no error if it exists'))
    .action((url, opts) => mkdir(url, opts));

  addRateFlag(addClientFlags(program.command('shell').description('interactive session: ls, cd, get, put, ... (help inside)').argument('<url>')))
    .action(async (url, opts) => {
      await withClient(url, opts, async (client, remote, _signal, _more, secrets) => {
        if (remote) await client.cd(remote);
        process.exitCode = await runShell(client, { quiet: !!opts.quiet, maxRate: rateOf(opts), secrets });
      });
    });
}
