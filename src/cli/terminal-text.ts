// Text from the server made safe to print on a terminal: control characters shown, never obeyed.

/**
 * C0 controls except tab (newline and carriage return included: a name must not fake a line of
 * output), DEL and the C1 controls (U+0080-U+009F, which some terminals take as CSI/OSC too) as
 * `\xNN`. An escape sequence (window title, clear screen, OSC 52 clipboard write) then prints as
 * harmless text. For names, reply text and error messages from the server; JSON output has its own
 * escaping.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x08\x0a-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Like `printable`, but newlines are kept: for messages of several lines (a multi-line reply). */
export function printableLines(text: string): string {
  return text.split('\n').map(printable).join('\n');
}
