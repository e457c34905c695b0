// A one-line progress bar on a terminal's stderr: bytes, percent, rate and time left.
import type { Progress } from '../client/client.js';

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return `${h ? `${h}:` : ''}${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`;
}

/** Render one line for `p`, fitted to `width` columns. */
export function renderProgress(label: string, p: Progress, width: number): string {
  const rate = `${formatBytes(p.rate)}/s`;
  if (p.total === undefined || p.total === 0) {
    return fit(`${label}  ${formatBytes(p.bytes)}  ${rate}`, width);
  }
  const fraction = Math.min(1, p.bytes / p.total);
  const left = p.rate > 0 ? (p.total - p.bytes) / p.rate : Infinity;
  const tail = `${String(Math.floor(fraction * 100)).padStart(3)}%  ${formatBytes(p.bytes)}  ${rate}  ${p.bytes >= p.total ? 'done ' : `ETA ${formatSeconds(left)}`}`;
  const barWidth = Math.max(10, Math.min(30, width - tail.length - 20));
  const filled = Math.round(fraction * barWidth);
  const name = label.length > width - tail.length - barWidth - 6 ? `…${label.slice(-(Math.max(8, width - tail.length - barWidth - 7)))}` : label;
  return fit(`${name} [${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}] ${tail}`, width);
}

function fit(line: string, width: number): string {
  return line.length > width ? line.slice(0, width) : line;
}

/** Progress drawn on stderr when it is a terminal and not silenced; otherwise nothing at all. */
export class ProgressBar {
  private last: Progress | undefined;
  private readonly enabled: boolean;
  constructor(private readonly label: string, quiet: boolean, private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.enabled = !quiet && stream.isTTY === true;
  }
  update = (p: Progress): void => {
    this.last = p;
    if (!this.enabled) return;
    this.stream.write(`\r${renderProgress(this.label, p, (this.stream.columns || 80) - 1)}\x1b[K`);
  };
  finish(): void {
    if (this.enabled && this.last) this.stream.write('\n');
  }
}
