// The helper thread's side of lstat-helper.ts: lstat names in a folder and answer with their numbers.
import fs from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { FIELDS, type LstatRequest, type LstatResponse } from './lstat-helper.js';

parentPort?.on('message', ({ id, dir, names }: LstatRequest) => {
  const out = new Float64Array(names.length * FIELDS);
  for (let i = 0; i < names.length; i++) {
    const o = i * FIELDS;
    let st: fs.Stats | undefined;
    try { st = fs.lstatSync(dir + '/' + names[i]!, { throwIfNoEntry: false }); } catch { st = undefined; }
    if (!st) { out[o] = NaN; continue; } // gone between readdir and lstat: left out, as on the main thread
    out[o] = st.mode;
    out[o + 1] = st.size;
    out[o + 2] = st.mtimeMs;
    out[o + 3] = st.dev;
    out[o + 4] = st.ino;
  }
  const reply: LstatResponse = { id, stats: out };
  parentPort!.postMessage(reply, [out.buffer]);
});
