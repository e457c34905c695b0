// V8 heap settings for the long-running `wharf serve` process (an embedding application keeps its own).
import v8 from 'node:v8';

/**
 * Keep V8's young generation at its initial size (1 MiB semi-spaces). V8 grows it by the bytes
 * that survive its scavenges, and in a server those are mostly new sessions: a burst of 1,000
 * logins grew it to several MiB, which then stayed committed, 5-7 KiB of every idle session's
 * share (PSS 10.7-11.6 KiB per idle session, 5.5-5.6 KiB with this). The bench's transfers,
 * listings, small files and logins did the same number of collections either way (--trace-gc).
 * A semi-space flag given to node itself (command line or NODE_OPTIONS) wins.
 */
export function keepYoungGenerationSmall(execArgv = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  if (/semi[-_]space/.test(`${execArgv.join(' ')} ${nodeOptions}`)) return false;
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  return true;
}
