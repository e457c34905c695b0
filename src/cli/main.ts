#!/usr/bin/env node
// `wharf` command-line entry point: heap settings for `serve`, then the commander program.
import { keepYoungGenerationSmall } from './heap-tuning.js';

// Before the program's modules load: loading them already grows V8's young generation.
if (process.argv.slice(2).find((a) => !a.startsWith('-')) === 'serve') keepYoungGenerationSmall();
await import('./program.js');
