// A minimal structured logger interface (pino-compatible shape) and the two loggers wharf ships.

export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

const LEVELS = { debug: 20, info: 30, warn: 40, error: 50 } as const;
export type LogLevel = keyof typeof LEVELS;

/** One JSON object a line on the given stream, like pino's default output. */
export function jsonLogger(stream: NodeJS.WritableStream, level: LogLevel = 'info'): Logger {
  const min = LEVELS[level];
  const write = (lvl: LogLevel) => (obj: object, msg?: string) => {
    if (LEVELS[lvl] < min) return;
    stream.write(JSON.stringify({ level: lvl, time: new Date().toISOString(), ...obj, ...(msg ? { msg } : {}) }) + '\n');
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}
