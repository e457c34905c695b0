#!/usr/bin/env node
// `wharf` command-line entry point: wires the subcommands onto one commander program.
import { Command } from 'commander';
import { registerServe } from './serve.js';
import { registerTransferCommands } from './transfer-commands.js';
import { registerPasswd } from './passwd.js';
import { VERSION } from '../version.js';

const program = new Command();
program
  .name('wharf')
  .description('FTP and FTPS server, client and command-line tool')
  .version(VERSION);

registerServe(program);
registerTransferCommands(program);
registerPasswd(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`wharf: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = process.exitCode || 1;
});
