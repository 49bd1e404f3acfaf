/** A command-line tool as its main runs it: parse argv, then run, then exit with the run's code. */
export interface Command<T> {
  /** Prefixes its messages: `soak: …`. */
  name: string;
  usage: string;
  /** The options, or undefined for --help; throws `UsageError` for a mistake in argv. */
  parse(argv: readonly string[]): T | undefined;
  /** A user's mistake, answered with the usage text and exit code 2; anything else thrown is a crash. */
  UsageError: abstract new (...args: never[]) => Error;
  /** Resolves with the exit code. */
  run(opts: T): Promise<number>;
}

/**
 * Runs a tool and exits with its code as soon as the run settles, whatever handles are still open; a crash is printed
 * with its stack and exits 1.
 */
export function runCommand<T>(command: Command<T>): void {
  parseThenRun(command).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${command.name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}

async function parseThenRun<T>(command: Command<T>): Promise<number> {
  let opts: T | undefined;
  try {
    opts = command.parse(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof command.UsageError)) throw err;
    process.stderr.write(`${command.name}: ${err.message}\n\n${command.usage}`);
    return 2;
  }
  if (opts === undefined) {
    process.stdout.write(command.usage);
    return 0;
  }
  return command.run(opts);
}

export interface Interruption {
  /** True once a signal came: the run's own clean-up then leaves the stopping to the signal's. */
  readonly interrupted: boolean;
}

/**
 * The first SIGINT or SIGTERM ends the run: the progress bar goes, `stop` ends the processes the run started, and the
 * tool exits 130, a shell's code for an interrupt, whether or not they stopped cleanly.
 */
export function exitOnInterrupt(
  name: string,
  bar: { stop(): void },
  stop: () => Promise<void> | undefined,
): Interruption {
  const state = { interrupted: false };
  const onSignal = (): void => {
    if (state.interrupted) return;
    state.interrupted = true;
    bar.stop();
    process.stderr.write(`\n[${name}] interrupted, stopping…\n`);
    void (stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return state;
}
