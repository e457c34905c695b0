// Client subcommands (ls, get, put, mirror, rm, mkdir, shell): placeholder until the client lands.
import type { Command } from 'commander';

export function registerTransferCommands(_program: Command): void {}
