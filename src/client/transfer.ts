// Runs one data transfer while the caller holds the command queue; an aborted or broken one leaves the replies back in step (ABOR, NOOP) or the connection closed.
import tls from 'node:tls';
import { Readable, type Duplex } from 'node:stream';
import type { ControlConnection, ReplyText } from './control.js';
import { prepareData, type DataState, type PendingData } from './data-connection.js';
import { AbortError, FtpConnectionError, FtpError, FtpTimeoutError } from './errors.js';
import type { FtpClientOptions } from './client.js';

/** Moves a transfer's bytes over its open data connection; `stopEarly()` when it wants no more, to have the rest aborted. */
export type Move<T> = (data: Duplex, abort: AbortSignal, stopEarly: () => void) => Promise<T>;

/** The client options a transfer reads, again for each transfer. */
type TransferSettings = Pick<FtpClientOptions, 'host' | 'passive' | 'trustPasvAddress' | 'tls' | 'timeouts'>;

/** Timeouts in ms, each defaulted on its own: a caller who sets one keeps the defaults of the others. */
export function clientTimeouts(t: FtpClientOptions['timeouts']): { connect: number; reply: number; dataIdle: number } {
  return { connect: t?.connect ?? 15_000, reply: t?.reply ?? 30_000, dataIdle: t?.dataIdle ?? 60_000 };
}

/** A session's transfer state (TYPE, EPSV, PROT) and the transfer running now, which close() aborts. */
export class TransferRunner {
  private readonly state: DataState = { epsv: undefined };
  private type: 'A' | 'I' | undefined;
  /** PROT P is in force: data connections use TLS. */
  protectedData = false;
  /** The transfer running now, for close() to abort. */
  private current: AbortController | undefined;
  /** close() was called: transfers that start from now on are aborted at once. */
  private closing = false;

  constructor(private readonly ctl: ControlConnection, private readonly options: TransferSettings) {}

  /** For close(): abort the transfer running now, and any that starts later. */
  abortAll(): void {
    this.closing = true;
    this.current?.abort();
  }

  /** TYPE goes out only when it changes; SIZE calls this too, since its answer depends on the type. */
  async setType(t: 'A' | 'I'): Promise<void> {
    if (this.type === t) return;
    await this.ctl.expect(`TYPE ${t}`, 200);
    this.type = t;
  }

  private get replyTimeoutMs(): number { return clientTimeouts(this.options.timeouts).reply; }

  private dataSettings() {
    const timeouts = clientTimeouts(this.options.timeouts);
    return {
      passive: this.options.passive !== false,
      trustPasvHost: this.options.trustPasvAddress === true,
      tls: this.protectedData ? { minVersion: 'TLSv1.2' as const, ...this.options.tls } : undefined,
      host: this.options.host,
      timeoutMs: timeouts.connect,
      idleTimeoutMs: timeouts.dataIdle,
    };
  }

  /**
   * One data transfer; the caller holds the control connection. Set up the data connection, send
   * the command, move the bytes, and finish only when both the bytes and the final reply are in.
   *
   * Abort (the caller's signal, or close()) is honoured at every step, and always leaves the reply
   * stream in step, or the connection destroyed:
   * - before the command is sent: after the reply of the command in flight (TYPE, EPSV...), at once;
   * - after it, before its first reply: once that reply is in (a 1xx means a transfer to abort);
   * - while the data connection opens: once it is open or failed. Over TLS the handshake is let
   *   finish: Pure-FTPd resets the control connection and vsftpd breaks its TLS (plain text on
   *   it) when a data connection vanishes mid-handshake;
   * - while the bytes move: ABOR at once, then the data connection is closed (see `abandon`);
   * - after the bytes are all in, while the final reply is awaited: the reply is read as usual.
   * A signal that fires before the call settles makes it reject with AbortError, even when the
   * server reports the transfer complete: the caller asked to stop, and the outcome stays one thing.
   */
  async run<T>(command: string, type: 'A' | 'I', offset: number, signal: AbortSignal | undefined, move: Move<T>): Promise<T> {
    if (signal?.aborted || this.closing) throw new AbortError();
    const aborter = new AbortController();
    const onAbort = () => aborter.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    this.current = aborter;
    const check = () => { if (aborter.signal.aborted) throw new AbortError(); };
    let pending: PendingData | undefined;
    try {
      await this.setType(type);
      check();
      pending = await prepareData(this.ctl, this.state, this.dataSettings());
      check();
      // REST right before the command it applies to: a REST left without its command (an abort
      // in between) would make some servers start the next, unrelated transfer at that offset.
      if (offset > 0) await this.ctl.expect(`REST ${offset}`, 350);
      this.ctl.write(command);
      const first = await this.ctl.read();
      if (first.code >= 400) { check(); throw new FtpError(first.code, first.text, command); }
      if (first.code >= 200) {
        pending.destroy();
        check();
        // Some servers answer an empty listing with a final reply and no data connection; a file
        // transfer without one moved nothing, and must not pass for an empty file.
        if (!/^(LIST|NLST|MLSD)\b/i.test(command)) throw new FtpError(first.code, `${first.text} (but no data connection was opened)`, command);
        return await move(Readable.from([]) as unknown as Duplex, aborter.signal, () => {});
      }
      return await this.underway(command, pending, aborter.signal, move);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      pending?.destroy();
      if (this.current === aborter) this.current = undefined;
    }
  }

  /** The server has answered 1xx: a transfer is under way. Every way out reads its final reply or breaks the line. */
  private async underway<T>(command: string, pending: PendingData, abort: AbortSignal, move: Move<T>): Promise<T> {
    const upload = /^(STOR|APPE|STOU)\b/i.test(command);
    let data: Duplex;
    try {
      data = await pending.open();
    } catch (err) {
      // No data connection: the server answers 425/426, or waits for one; ABOR settles either.
      const end = await this.abandon(undefined, async () => {});
      if (abort.aborted) throw new AbortError();
      if (end && end.code >= 400) throw new FtpError(end.code, end.text, command);
      throw err;
    }
    if (abort.aborted) {
      // Aborted while the data connection opened: it is open now (TLS handshake done), close it.
      await this.abandon(undefined, () => this.closeData(data, upload));
      throw new AbortError();
    }
    // The final reply may come before the last bytes are read: listen for it from now, but
    // bound the wait only once the data is done (a long transfer has no reply to wait for).
    const final = this.ctl.read(24 * 3600 * 1000);
    let finalIn = false;
    final.then(() => { finalIn = true; }, () => {});
    // Abort while the bytes move: ABOR at once (servers that watch the control connection during
    // a transfer stop it before the data connection breaks under them), then close the data
    // connection: a plain one is reset at once, a TLS download's a turn later (see closeData). An
    // upload's over TLS is left to `move`, which stops writing on the signal, to end it with
    // close_notify; it is reset only if the server stops reading.
    let graceTimer: NodeJS.Timeout | undefined;
    let aborSent = false;
    const onAbort = () => {
      aborSent = this.writeAbor();
      if (!(data instanceof tls.TLSSocket)) data.destroy();
      else if (!upload) void this.closeData(data, false);
      else graceTimer = setTimeout(() => data.destroy(), this.closeGraceMs);
    };
    abort.addEventListener('abort', onAbort, { once: true });
    let stopped = false;
    let result: T | undefined;
    let failure: { err: unknown } | undefined;
    try {
      result = await move(data, abort, () => { stopped = true; });
    } catch (err) {
      failure = { err };
    }
    // From here an abort sends no ABOR of its own: one sent while the replies are being put back
    // in step would be answered after the NOOP's 200.
    abort.removeEventListener('abort', onAbort);
    clearTimeout(graceTimer);
    if (failure) {
      const { err } = failure;
      // The server's own reason (a full disk, a closed file) says more than the data connection it
      // broke; a local failure (the destination's) stands, the server's 426 only echoes it. Decided
      // now: abandon() waits for the final reply, so after it the reply is always in.
      const serverFirst = finalIn || dataConnectionBroke(err);
      const end = await this.abandon(final, () => this.closeData(data, upload), aborSent);
      if (abort.aborted) throw new AbortError();
      if (end && end.code >= 400 && serverFirst && !(err instanceof FtpTimeoutError)) throw new FtpError(end.code, end.text, command);
      throw err;
    }
    if (stopped || abort.aborted) {
      // The caller has what it wanted (or wants no more): close the data connection and ABOR the rest.
      await this.abandon(final, () => this.closeData(data, upload), aborSent);
      if (abort.aborted) throw new AbortError();
      return result as T;
    }
    let done: ReplyText;
    try {
      done = await withTimeout(final, this.replyTimeoutMs, 'the reply after a transfer');
    } catch (err) {
      // Whatever the server says later would be taken as the next command's reply.
      this.ctl.destroy(new FtpConnectionError('control connection dropped: the reply after a transfer timed out', err));
      throw err;
    }
    if (abort.aborted) throw new AbortError();
    if (done.code >= 400) throw new FtpError(done.code, done.text, command);
    return result as T;
  }

  private get closeGraceMs(): number { return Math.min(5000, this.replyTimeoutMs); }

  /**
   * Close a data connection left early. A plain one is reset at once. Over TLS, vsftpd and
   * Pure-FTPd (OpenSSL 3) take a data connection that ends while they read it, without TLS's
   * close_notify, as fatal to the whole session: vsftpd writes "500 OOPS: unexpected eof while
   * reading" in plain text on the TLS control connection, Pure-FTPd resets it. They read it:
   * - during the handshake: 'secureConnect' comes before the client's Finished has left, and a
   *   reset in the same turn cancels it. So a download's is reset a turn later (after the
   *   Finished; the server, writing, gets an error and answers 426). Not with close_notify:
   *   ProFTPD ends the session when one arrives during a download;
   * - during an upload: it ends with close_notify, and is reset once the server has closed too
   *   (it sees an upload that ended early, answers 226, then the ABOR), or after a grace when the
   *   server reads no more.
   */
  private closeData(data: Duplex, upload: boolean): Promise<void> {
    if (data.destroyed || !(data instanceof tls.TLSSocket)) { data.destroy(); return Promise.resolve(); }
    if (!upload) return new Promise((resolve) => setImmediate(() => { data.destroy(); resolve(); }));
    return new Promise((resolve) => {
      const done = () => { clearTimeout(timer); data.destroy(); resolve(); };
      const timer = setTimeout(done, this.closeGraceMs);
      data.once('close', done);
      data.resume(); // the server's close_notify and FIN must be read for 'close' to come
      data.end();
    });
  }

  /** Send ABOR; false when the connection is gone. */
  private writeAbor(): boolean {
    try { this.ctl.write('ABOR'); return true; } catch { return false; }
  }

  /**
   * Leave a transfer that is under way: ABOR (unless `aborSent`), close the data connection,
   * read the transfer's final reply, then NOOP and skip replies up to its 200. Servers answer
   * ABOR with one reply or two (426 then 226, or 225 after the transfer's own 226), some only
   * after a delay: counting them is guesswork, the NOOP's 200 is not. The NOOP goes out only once
   * the transfer's reply is in, so the transfer is over and the server answers the two in order.
   * ABOR goes before the data connection closes: ProFTPD over TLS ends the whole session when a
   * download's connection breaks under it before it has seen the ABOR. If the replies do not
   * come, the connection is destroyed (later calls fail at once, never off by one).
   * Returns the transfer's final reply, or undefined when the connection was given up.
   */
  private async abandon(final: Promise<ReplyText> | undefined, closeData: () => Promise<void>, aborSent = false): Promise<ReplyText | undefined> {
    const ms = this.replyTimeoutMs;
    try {
      if (!aborSent) this.ctl.write('ABOR');
      await closeData();
      const end = await withTimeout(final ?? this.ctl.read(ms), ms, 'the reply to ABOR');
      this.ctl.write('NOOP');
      for (let i = 0; i < 8; i++) {
        const r = await this.ctl.read(ms);
        if (r.code === 200) return end;
        if (r.code === 421) throw new FtpConnectionError(`server closing: ${r.code} ${r.text}`);
      }
      throw new FtpConnectionError('replies out of step after ABOR');
    } catch (err) {
      await closeData().catch(() => undefined);
      if (!this.ctl.closed) this.ctl.destroy(new FtpConnectionError(`control connection dropped after ABOR: ${(err as Error).message}`, err));
      return undefined;
    }
  }
}

/** A data connection the other side reset or closed early (as opposed to a local failure). */
function dataConnectionBroke(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE' || /data connection closed/.test((err as Error | undefined)?.message ?? '');
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new FtpTimeoutError(what)), ms); }),
  ]);
}
