// TYPE A (ASCII) transforms as streams: LF -> CRLF on the way out, CRLF -> LF on the way in.
import { Transform, type TransformCallback } from 'node:stream';

/**
 * Local text to network text. A lone LF becomes CRLF; an existing CRLF passes unchanged
 * (so a file already in CRLF form is not doubled). Tracks the last byte across chunks.
 */
export class LfToCrlf extends Transform {
  /** `afterCr`: the text starts right after a CR (a restart in the middle of a line end). */
  constructor(private lastWasCr = false) { super(); }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
    const prevWasCr = this.lastWasCr;
    const { extra, lastWasCr } = asciiSizeDelta(chunk, prevWasCr);
    this.lastWasCr = lastWasCr;
    if (extra === 0) { cb(null, chunk); return; }
    const out = Buffer.allocUnsafe(chunk.length + extra);
    let j = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === 0x0a && !(i === 0 ? prevWasCr : chunk[i - 1] === 0x0d)) out[j++] = 0x0d;
      out[j++] = b;
    }
    cb(null, out);
  }
}

/**
 * Network text to local text: CRLF becomes LF. A CR at the end of a chunk is held back until
 * the next byte shows whether an LF follows; a lone CR is kept.
 */
export class CrlfToLf extends Transform {
  /** `heldCr`: a CR came just before this text (a restart right after one). */
  constructor(private heldCr = false) { super(); }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
    const out = Buffer.allocUnsafe(chunk.length + 1);
    let j = 0;
    let i = 0;
    if (this.heldCr) {
      this.heldCr = false;
      if (chunk.length === 0) { this.heldCr = true; cb(); return; }
      if (chunk[0] !== 0x0a) out[j++] = 0x0d;
    }
    for (; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === 0x0d) {
        if (i === chunk.length - 1) { this.heldCr = true; break; }
        if (chunk[i + 1] === 0x0a) continue;
      }
      out[j++] = b;
    }
    cb(null, out.subarray(0, j));
  }
  override _flush(cb: TransformCallback) {
    cb(null, this.heldCr ? Buffer.from([0x0d]) : undefined);
  }
}

/** How many CRs converting a chunk to network ASCII adds (lone LFs), and whether it ends in CR. */
export function asciiSizeDelta(chunk: Buffer, prevWasCr: boolean): { extra: number; lastWasCr: boolean } {
  let extra = 0;
  for (let i = 0; i < chunk.length; i++) {
    if (chunk[i] === 0x0a && !(i === 0 ? prevWasCr : chunk[i - 1] === 0x0d)) extra++;
  }
  return { extra, lastWasCr: chunk.length ? chunk[chunk.length - 1] === 0x0d : prevWasCr };
}

/**
 * Where a restart offset counted in network ASCII (REST in TYPE A: RFC 3659 5 counts octets as
 * transferred) falls in the local file, which is fed from its start. `fileOffset` is where to
 * resume; `prevCr` says the file's byte before it is a CR; `split` that the CR sent in front of a
 * lone LF has gone out and the LF at `fileOffset` has not.
 */
export class AsciiOffsetFinder {
  private sent = 0;
  private fileOffset = 0;
  private prevCr = false;
  result: { fileOffset: number; prevCr: boolean; split: boolean } | undefined;

  constructor(private readonly target: number) {
    if (target === 0) this.result = { fileOffset: 0, prevCr: false, split: false };
  }

  /** Feed the file's next bytes; true once the offset is found (undefined result at the end: beyond it). */
  push(chunk: Buffer): boolean {
    if (this.result) return true;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      const cost = b === 0x0a && !this.prevCr ? 2 : 1;
      if (this.sent + cost > this.target) {
        this.result = { fileOffset: this.fileOffset, prevCr: false, split: true };
        return true;
      }
      this.sent += cost;
      this.fileOffset++;
      this.prevCr = b === 0x0d;
      if (this.sent === this.target) {
        this.result = { fileOffset: this.fileOffset, prevCr: this.prevCr, split: false };
        return true;
      }
    }
    return false;
  }
}
