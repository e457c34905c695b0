// Wildcard matching for LIST/NLST/STAT arguments (`*` and `?`), in bounded time.

/**
 * Whether `name` matches `pattern`, where `*` is any run of characters and `?` any one.
 * No regular expression: `a*a*a*…b` made a backtracking one take seconds per name (a read-only
 * user could stall the server with one STAT). This walks both strings once, going back only to
 * the latest `*`, and only while the rest of the name can still hold the rest of the pattern: a
 * name costs at most (name length × pattern length) steps, and patterns are short (MAX_GLOB).
 */
export function globMatch(pattern: string, name: string): boolean {
  // Pattern characters other than `*` still to match from here: the rest of the name must hold them.
  let literals = 0;
  for (let i = 0; i < pattern.length; i++) if (pattern.charCodeAt(i) !== 42) literals++;
  if (literals > name.length) return false;
  let needed = literals;
  let p = 0;
  let n = 0;
  let star = -1;
  let resume = 0;
  let starNeeded = 0;
  while (n < name.length) {
    const c = pattern.charCodeAt(p);
    if (p < pattern.length && c === 42) {
      // Collapse a run of stars; remember where to retry from.
      while (p < pattern.length && pattern.charCodeAt(p) === 42) p++;
      star = p;
      resume = n;
      starNeeded = needed;
    } else if (p < pattern.length && (c === 63 || c === name.charCodeAt(n))) {
      p++;
      n++;
      needed--;
    } else if (star >= 0 && name.length - (resume + 1) >= starNeeded) {
      // The text after the latest star failed here: let that star take one more character.
      p = star;
      n = ++resume;
      needed = starNeeded;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern.charCodeAt(p) === 42) p++;
  return p === pattern.length;
}

/**
 * Longest wildcard pattern expanded: real ones (`*.txt`, `IMG_????.jpg`) are far shorter, and the
 * bound keeps the worst case (a 255-character name built to make every restart fail late) near
 * 50 µs per name, against seconds for one name with the regular expression this replaced.
 */
export const MAX_GLOB = 64;

/** Whether a path component has wildcards to expand. */
export function hasWildcards(component: string): boolean {
  return component.includes('*') || component.includes('?');
}
