import { parseArgs, type ParseArgsConfig } from 'node:util';

type Flags = NonNullable<ParseArgsConfig['options']>;

/**
 * The tools' flag parser: Node's `parseArgs`, strict and without positionals, so a mistyped flag or a stray word is an
 * error instead of being ignored. Its errors come back as the tool's own `UsageError`, the class its main answers with
 * the usage text and exit code 2.
 */
export function parseFlags<const T extends Flags>(
  argv: readonly string[],
  flags: T,
  UsageError: new (message: string) => Error,
) {
  try {
    return parseArgs({ args: [...argv], strict: true, allowPositionals: false, options: flags }).values;
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}
