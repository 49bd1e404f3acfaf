import { mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { pino, type DestinationStream, type LevelWithSilent, type Logger } from 'pino';
import { loggerOptions } from './log-format.js';

/** Fans each line out to the outputs of the app that is currently running. */
class SwitchableOutput implements DestinationStream {
  targets: readonly DestinationStream[] = [];

  write(line: string): void {
    for (const target of this.targets) target.write(line);
  }
}

interface ProcessLogging {
  logger: Logger;
  output: SwitchableOutput;
  stdout: DestinationStream;
}

let state: ProcessLogging | undefined;

function processLogging(): ProcessLogging {
  if (state === undefined) {
    const output = new SwitchableOutput();
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
export function attachLogOutputs(options: { dir: string; level: LevelWithSilent }): LogOutputs {
  const { logger, output, stdout } = processLogging();
  mkdirSync(options.dir, { recursive: true });
  const fd = openSync(join(options.dir, 'app.log'), 'a');
  const file = pino.destination({ dest: fd, sync: false });
  output.targets = [stdout, file];
  logger.level = options.level;

  let closed: Promise<void> | undefined;
  return {
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        output.targets = output.targets.filter((target) => target !== file);
        file.once('close', () => resolve());
        file.once('error', () => resolve());
        file.end();
      });
      return closed;
    },
  };
}
