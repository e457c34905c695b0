// Put the tables of bench/results/latest.json into README.md between the bench markers.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const README = fileURLToPath(new URL('../README.md', import.meta.url));
const out = process.argv[2] ?? fileURLToPath(new URL('./results/latest.out', import.meta.url));
const text = fs.readFileSync(out, 'utf8');
const servers = /\| server \|[\s\S]*?\n\n/.exec(text)?.[0].trim();
const big = /wharf with \d+ idle logged-in sessions: [\d.]+ KiB each\./.exec(text)?.[0];
const client = /Clients against[\s\S]*?\n\n([\s\S]*?)\n\nJSON/.exec(text)?.[1].trim();
let readme = fs.readFileSync(README, 'utf8');
const put = (name, body) => {
  readme = readme.replace(new RegExp(`<!-- bench:${name} -->[\\s\\S]*?<!-- /bench:${name} -->`), `<!-- bench:${name} -->\n${body}\n<!-- /bench:${name} -->`);
};
if (servers) put('servers', `${servers}\n\n${big ?? ''}`.trim());
if (client) put('client', client);
fs.writeFileSync(README, readme);
console.log(`README updated from ${out}`);
