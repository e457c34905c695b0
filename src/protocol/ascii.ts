// TYPE A (ASCII) transforms as streams: LF -> CRLF on the way out, CRLF -> LF on the way in.
import { Transform, type TransformCallback } from 'node:stream';

/**
 * Local text to network text. A lone LF becomes CRLF; an existing CRLF passes unchanged
 * (so a file already in CRLF form is not doubled). Tracks the last byte across chunks.
 */
export class LfToCrlf extends Transform {
  private lastWasCr = false;
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
  private heldCr = false;
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
