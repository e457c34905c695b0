// `wharf serve` keeps V8's young generation at its initial size, unless node was given a semi-space flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { keepYoungGenerationSmall } from '../../dist/cli/heap-tuning.js';

const TUNING = fileURLToPath(new URL('../../dist/cli/heap-tuning.js', import.meta.url));

// Objects that survive scavenges (as sessions do) grow the young generation unless it is held.
const PROBE = `
import v8 from 'node:v8';
const { keepYoungGenerationSmall } = await import(process.argv[1]);
const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
const before = newSpace();
if (process.argv[2] === 'tune') keepYoungGenerationSmall([], '');
const kept = [];
for (let i = 0; i < 300_000; i++) kept.push({ i, name: 'session ' + i });
console.log(JSON.stringify({ before, after: newSpace(), kept: kept.length }));
`;

function probe(mode) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', PROBE, TUNING, mode], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('serve holds the young generation at its size; without it, surviving objects grow it', () => {
  // V8 reports 1 MiB at start and 2 MiB once both semi-spaces are in use, as --max-semi-space-size=1 gives.
  const tuned = probe('tune');
  assert.ok(tuned.after <= 2 * 1024 * 1024, `held: ${tuned.before} -> ${tuned.after} bytes`);
  const plain = probe('plain');
  assert.ok(plain.after >= 4 * tuned.after, `V8's own growth: ${plain.before} -> ${plain.after} bytes`);
});

test('a semi-space flag given to node wins over the tuning', () => {
  assert.equal(keepYoungGenerationSmall(['--max-semi-space-size=16'], ''), false);
  assert.equal(keepYoungGenerationSmall([], '--max_semi_space_size=8 --inspect'), false);
});
