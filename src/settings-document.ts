// Parse a settings or users file (JSON by its .json name, YAML otherwise); errors name the file and place, never its text.
import YAML from 'yaml';

/**
 * The parsers quote the offending line (yaml) or a slice of the text (V8's JSON.parse), and that
 * line may hold a password (`user: [bob:secret`): an error says where, not what.
 */
export function parseSettingsDocument(text: string, file: string): unknown {
  if (file.endsWith('.json')) {
    try {
      return JSON.parse(text);
    } catch (err) {
      const at = /position (\d+)/.exec((err as Error).message);
      const place = at ? ` at ${lineColumn(text, Number(at[1]))}` : '';
      throw new Error(`${file}: not valid JSON${place}`);
    }
  }
  try {
    return YAML.parse(text);
  } catch (err) {
    if (!(err instanceof YAML.YAMLError)) throw err;
    const [pos] = err.linePos ?? [];
    const place = pos ? ` at line ${pos.line}, column ${pos.col}` : '';
    // The first sentence only: the rest is a copy of the offending line.
    const what = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '').replace(/:$/, '');
    throw new Error(`${file}: not valid YAML${place}: ${what}`);
  }
}

function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${before[before.length - 1]!.length + 1}`;
}
