// Pacing a stream to a byte rate: the bandwidth limits of downloads and uploads.
import { Transform } from 'node:stream';

/**
 * A pass-through that lets bytes out at `bytesPerSecond` on average. Chunks are cut into pieces of
 * about a tenth of a second's worth (4-256 KiB), each released once the previous ones have had
 * their time, so the rate holds from the first second and a big read does not go out as one burst.
 * Time not used (a slow disk or client) is not saved up for a burst later. Holding a callback back
 * is what slows the other side: a download's file reads wait, an upload's socket stops being read
 * and TCP's window closes on the client.
 */
export function throttle(bytesPerSecond: number): Transform {
  const piece = Math.max(4096, Math.min(256 * 1024, Math.floor(bytesPerSecond / 10)));
  const msPerByte = 1000 / bytesPerSecond;
  let due = 0;
  let timer: NodeJS.Timeout | undefined;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      let offset = 0;
      const next = () => {
        timer = undefined;
        while (offset < chunk.length) {
          if (this.destroyed) return;
          const now = performance.now();
          const wait = due - now;
          if (wait > 1) { timer = setTimeout(next, wait); return; }
          const part = chunk.subarray(offset, offset + piece);
          offset += part.length;
          due = Math.max(now, due) + part.length * msPerByte;
          this.push(part);
        }
        done();
      };
      next();
    },
    destroy(err, callback) {
      if (timer) clearTimeout(timer);
      callback(err);
    },
  });
}
