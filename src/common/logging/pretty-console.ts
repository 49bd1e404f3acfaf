import PinoPretty from 'pino-pretty';
import type { DestinationStream } from 'pino';
import { LEVEL_NAMES } from './log-format.js';

/** pino's numbers for our level names (`WARNING`, `CRITICAL`, …), which pino-pretty cannot guess. */
const LEVEL_NUMBERS: Readonly<Record<string, number>> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
};
const LEVEL_COLORS: Readonly<Record<string, string>> = {
  trace: 'gray',
  debug: 'blue',
  info: 'green',
  warn: 'yellow',
  error: 'red',
  fatal: 'bgRed',
};
const pairs = (values: Readonly<Record<string, string | number>>): string =>
  Object.entries(values)
    .map(([pinoName, value]) => `${(LEVEL_NAMES[pinoName] ?? pinoName).toLowerCase()}:${value}`)
    .join(',');

/**
 * Left out of the trailing fields: shown in the message itself, or (route, handler, pid) what a developer watching
 * their own requests does not need on every line. app.log keeps them all.
 */
const OMITTED = [
  'pid',
  'hostname',
  'context',
  'request_id',
  'method',
  'path',
  'status_code',
  'duration_ms',
  'route',
  'handler',
];
const REQUEST_ID_SHOWN = 8;

type Colors = Parameters<PinoPretty.MessageFormatFunc>[3]['colors'];

function statusColor(colors: Colors, status: number): (text: string) => string {
  if (status >= 500) return colors.red;
  if (status >= 400) return colors.yellow;
  return colors.green;
}

/**
 * `[Context] message GET /path 200 12 ms (req 1a2b3c4d)`: a request's end line reads as one sentence; the short
 * request id is enough to find the full line in app.log.
 */
const messageFormat: PinoPretty.MessageFormatFunc = (log, messageKey, _level, { colors }) => {
  const text = (key: string): string | undefined => {
    const value = log[key];
    return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
  };
  const parts: string[] = [];
  const context = text('context');
  if (context !== undefined) parts.push(colors.gray(`[${context}]`));
  parts.push(colors.cyan(text(messageKey) ?? ''));
  const method = text('method');
  if (method !== undefined) parts.push(colors.bold(`${method} ${text('path') ?? ''}`));
  const status = log['status_code'];
  if (typeof status === 'number') parts.push(statusColor(colors, status)(String(status)));
  const duration = text('duration_ms');
  if (duration !== undefined) parts.push(`${duration} ms`);
  const requestId = text('request_id');
  if (requestId !== undefined) parts.push(colors.gray(`(req ${requestId.slice(0, REQUEST_ID_SHOWN)})`));
  return parts.join(' ');
};

/** Turns one JSON log line into one readable line (more for an error's stack). */
export function prettyLineFormatter(colorize: boolean): (line: string) => string {
  return PinoPretty.prettyFactory({
    colorize,
    timestampKey: 'timestamp',
    translateTime: 'SYS:HH:MM:ss.l',
    customLevels: pairs(LEVEL_NUMBERS),
    customColors: pairs(LEVEL_COLORS),
    useOnlyCustomProps: true,
    messageFormat,
    ignore: OMITTED.join(','),
    singleLine: true,
  });
}

/**
 * The developer console's stdout: each batch of JSON lines is formatted here, synchronously, and handed to the same
 * asynchronous stdout destination the JSON lines would have gone to, so flushing and exit behave as they do for
 * JSON. Only for a terminal: formatting costs CPU per line, and machines read JSON.
 */
export class PrettyConsole implements DestinationStream {
  private readonly format: (line: string) => string;

  constructor(
    private readonly out: DestinationStream,
    colorize: boolean,
  ) {
    this.format = prettyLineFormatter(colorize);
  }

  write(batch: string): void {
    let text = '';
    for (const line of batch.split('\n')) if (line !== '') text += this.format(line);
    this.out.write(text);
  }
}
