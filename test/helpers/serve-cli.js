// Start `wharf serve` as an operator would and stop it with a signal, for the CLI tests.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** Start `wharf serve ARGS` in `cwd`; resolves once it printed its ftp:// address. */
export function serve(args, cwd) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], { cwd });
    let out = '', err = '';
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`no address printed: ${out} ${err}`)); }, 15_000);
    p.stderr.on('data', (d) => (err += d));
    p.stdout.on('data', (d) => {
      out += d;
      const m = /ftp:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      if (m) { clearTimeout(timer); resolve({ proc: p, port: Number(m[1]), out: () => out, err: () => err }); }
    });
    p.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code}: ${err}`)); });
  });
}

/** The exit code (or signal) of `proc`; killed after 15 s. */
export function exited(proc) {
  return new Promise((resolve) => {
    const t = setTimeout(() => { proc.kill('SIGKILL'); resolve('killed'); }, 15_000);
    proc.once('exit', (code, signal) => { clearTimeout(t); resolve(code ?? signal); });
  });
}
