// Run an external client (curl, lftp, python3) asynchronously, with a time bound, capturing its output.
import { spawn } from 'node:child_process';

export function run(cmd, args, { input, timeout = 60_000, cwd, env } = {}) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { timeout, cwd, env: env ?? process.env });
    const out = [], err = [];
    p.stdout.on('data', (d) => out.push(d));
    p.stderr.on('data', (d) => err.push(d));
    p.on('error', (e) => resolve({ status: -1, stdout: Buffer.alloc(0), stderr: String(e), text: '' }));
    p.on('close', (status) => {
      const stdout = Buffer.concat(out);
      resolve({ status, stdout, text: stdout.toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    if (input !== undefined) p.stdin.end(input); else p.stdin.end();
  });
}

export async function have(cmd) {
  const r = await run('sh', ['-c', `command -v ${cmd}`]);
  return r.status === 0;
}

/**
 * For a test that drives `command`: true when it is installed. CI installs every client, so there
 * a missing one fails the test; on a developer's machine the test is skipped, saying which.
 */
export async function needTool(t, command, name = command) {
  if (await have(command)) return true;
  if (process.env.CI) throw new Error(`${name} is not installed (CI must install it)`);
  t.skip(`${name} not installed`);
  return false;
}
