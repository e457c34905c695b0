// Parses a listing as it streams in from its data connection, within bounds a hostile server cannot push memory past.
import { StringDecoder } from 'node:string_decoder';
import type { Duplex } from 'node:stream';
import type { FileInfo } from '../protocol/listing.js';
import { parseListingLine } from '../protocol/listing-parse.js';

/** Bounds on what a listing may hold in memory (about 250 bytes an entry). */
const MAX_LISTING_ENTRIES = 2_000_000;
const MAX_LISTING_LINE = 64 * 1024;

/**
 * Entries are parsed chunk by chunk: holding the text, its lines and then the entries took 11-13
 * times the listing's size (a 480 MB listing ran out of memory).
 */
export async function readListing(data: Duplex): Promise<FileInfo[]> {
  const entries: FileInfo[] = [];
  const decoder = new StringDecoder('utf8');
  const now = new Date();
  let partial = '';
  const take = (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop()!;
    if (partial.length > MAX_LISTING_LINE) throw new Error(`a listing line longer than ${MAX_LISTING_LINE} characters`);
    for (const line of lines) {
      const e = parseListingLine(line, now);
      if (e) entries.push(e);
    }
    if (entries.length > MAX_LISTING_ENTRIES) throw new Error(`listing of more than ${MAX_LISTING_ENTRIES} entries`);
  };
  for await (const c of data as AsyncIterable<Buffer>) take(decoder.write(c));
  take(decoder.end() + '\n');
  return entries;
}
