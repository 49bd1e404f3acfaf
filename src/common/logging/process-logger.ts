import { mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { pino, type DestinationStream, type LevelWithSilent, type Logger } from 'pino';
import type { LogStdout } from '../../config/app-config.js';
import { loggerOptions } from './log-format.js';
import { PrettyConsole } from './pretty-console.js';

/** How stdout shows the lines: JSON for machines, or readable and coloured for a developer's terminal. */
export type StdoutFormat = 'json' | 'pretty';

/**
 * `auto` is readable lines on a terminal (a developer running `npm start`) and JSON anywhere else: a pipe, a file,
 * a container's log driver, a collector. Production stdout is therefore JSON unless someone asks otherwise.
 */
export function stdoutFormat(setting: LogStdout, isTty: boolean): StdoutFormat {
  if (setting !== 'auto') return setting;
  return isTty ? 'pretty' : 'json';
}

/** A batch is handed to the outputs once it holds this many characters, or this long after its first line. */
const BATCH_BYTES = 16_384;
const BATCH_MS = 100;

/**
 * Fans lines out to the outputs of the app that is currently running, in batches: one write per output per batch
 * instead of one per line (a write per line to stdout and to app.log, each through libuv's thread pool, was about a
 * tenth of the gateway's CPU at 200 req/s). A line reaches the outputs within `BATCH_MS`, so `tail -f` still follows;
 * closing the app and exiting the process hand over what is pending first.
 */
class SwitchableOutput implements DestinationStream {
  targets: readonly DestinationStream[] = [];
  private pending = '';
  private timer: NodeJS.Timeout | undefined;

  write(line: string): void {
    this.pending += line;
    if (this.pending.length >= BATCH_BYTES) this.flush();
    else this.timer ??= setTimeout(this.flush, BATCH_MS).unref();
  }

  /** Hands the pending lines to the outputs (which write them asynchronously). */
  readonly flush = (): void => {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending === '') return;
    const batch = this.pending;
    this.pending = '';
    for (const target of this.targets) target.write(batch);
  };
}

interface ProcessLogging {
  logger: Logger;
  output: SwitchableOutput;
  stdout: DestinationStream;
  /** Made on first use: formats onto `stdout`. */
  pretty?: PrettyConsole;
}

let state: ProcessLogging | undefined;

function processLogging(): ProcessLogging {
  if (state === undefined) {
    const output = new SwitchableOutput();
    // Registered before the destinations exist, so it runs before pino's own exit hook flushes them.
    process.on('exit', output.flush);
    // Async destinations: lines are buffered and written in the background, never one synchronous write per line.
    // pino registers an exit hook that flushes them synchronously if the process exits without closing the app.
    const stdout = pino.destination({ dest: 1, sync: false });
    output.targets = [stdout];
    state = { logger: pino(loggerOptions(), output), output, stdout };
  }
  return state;
}

/**
 * The one pino logger of the process. nestjs-pino builds its pino-http instance and root logger once per process and
 * reuses them for every later app, ignoring the later apps' params; so the logger is per process too, and what
 * changes per app (level, log file) is switched underneath it by `attachLogOutputs`. Level changes reach existing
 * child loggers because pino children inherit the level from their parent unless given their own.
 */
export function processLogger(): Logger {
  return processLogging().logger;
}

export interface LogOutputs {
  /** Stops writing to the log file, then flushes and closes it. Idempotent. */
  close(): Promise<void>;
}

/**
 * Points the process logger at stdout and `<dir>/app.log` with the given level. The directory and the file are
 * created and opened synchronously so that an unwritable LOG_DIR fails the boot instead of a later write.
 */
export function attachLogOutputs(options: { dir: string; level: LevelWithSilent; stdout?: LogStdout }): LogOutputs {
  const logging = processLogging();
  const { logger, output, stdout } = logging;
  mkdirSync(options.dir, { recursive: true });
  const fd = openSync(join(options.dir, 'app.log'), 'a');
  const file = pino.destination({ dest: fd, sync: false });
  // The file always gets the JSON lines; only what stdout shows changes.
  const screen =
    stdoutFormat(options.stdout ?? 'json', process.stdout.isTTY === true) === 'pretty'
      ? (logging.pretty ??= new PrettyConsole(stdout, process.stdout.isTTY === true))
      : stdout;
  output.targets = [screen, file];
  logger.level = options.level;

  let closed: Promise<void> | undefined;
  return {
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        output.flush();
        output.targets = output.targets.filter((target) => target !== file);
        file.once('close', () => resolve());
        file.once('error', () => resolve());
        file.end();
      });
      return closed;
    },
  };
}

/**
 * Writes text for humans (the start banner) after every line logged so far. On a pretty console it goes through
 * stdout's own queue, behind those lines, so it comes last in the terminal; otherwise to stderr, keeping stdout
 * JSON only (`node dist/src/main.js | jq .` works).
 */
export function writeForHumans(text: string): void {
  const { output, stdout, pretty } = processLogging();
  output.flush();
  if (pretty !== undefined && output.targets.includes(pretty)) stdout.write(text);
  else process.stderr.write(text);
}
