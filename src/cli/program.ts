// The `wharf` commander program: the subcommands wired onto one program, run on process.argv.
import { Command, CommanderError } from 'commander';
import { registerServe } from './serve.js';
import { registerTransferCommands } from './transfer-commands.js';
import { registerPasswd } from './passwd.js';
import { redactSecrets } from './client-connect.js';
import { printableLines } from './terminal-text.js';
import { VERSION } from '../version.js';

const program = new Command();
program
  .name('wharf')
  .description('FTP and FTPS server, client and command-line tool')
  .version(VERSION)
  // Usage errors exit with 2, like other Unix tools; commander has printed the message already.
  .exitOverride()
  // Commander quotes arguments in some errors (an unknown option's value): never a URL's password.
  // Set before the subcommands are added, which copy it.
  .configureOutput({ outputError: (text, write) => write(redactSecrets(text, [process.env.WHARF_PASSWORD])) });

registerServe(program);
registerTransferCommands(program);
registerPasswd(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) { process.exitCode = err.exitCode === 0 ? 0 : 2; return; }
  process.stderr.write(`wharf: ${printableLines(redactSecrets(err instanceof Error ? err.message : String(err), [process.env.WHARF_PASSWORD]))}\n`);
  process.exitCode = process.exitCode || 1;
});
