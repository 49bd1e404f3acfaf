import { existsSync, readFileSync } from 'node:fs';

/** One line of the gateway's JSON log: flat, so any field a test reads sits at the top level. */
export interface LogLine {
  timestamp: string;
  level: string;
  msg: string;
  request_id?: string;
  [key: string]: unknown;
}

/** Complete lines only: the file is written asynchronously, so the last one may still be half written. */
export function readLogLines(file: string): LogLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .slice(0, -1)
    .map((line) => JSON.parse(line) as LogLine);
}

/** Polls the file until a line matches; fails with `what` and the whole file, so a miss shows what was written. */
export async function waitForLogLine(
  file: string,
  what: string,
  match: (line: LogLine) => boolean,
  timeoutMs = 5_000,
): Promise<LogLine> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = readLogLines(file).find(match);
    if (found !== undefined) return found;
    if (Date.now() > deadline) {
      const text = existsSync(file) ? readFileSync(file, 'utf8') : '(no file)';
      throw new Error(`no log line ${what} in ${file}:\n${text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Matches the end line of request `id` (completed, failed or aborted), not its start line. */
export const endLineOf =
  (id: string) =>
  (line: LogLine): boolean =>
    line.request_id === id && line.msg.startsWith('request ') && line.msg !== 'request started';
