import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const SELF = relative(ROOT, fileURLToPath(import.meta.url));

/**
 * Paths of a developer's machine: a clone has neither, so a reference through them is a dead link. Sources are cited
 * by their upstream repository and file instead (tools/vllm-sim/CONTRACT.md does it for vLLM).
 */
const MACHINE_PATHS = [/\/work\//, /\.\.\/shared\b/];

describe('tracked files', () => {
  it('point at nothing outside the repository', () => {
    const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0');
    const offending: string[] = [];
    // This file names the patterns; a tracked file deleted in the work tree has nothing to check.
    for (const file of files.filter((f) => f !== '' && f !== SELF && existsSync(join(ROOT, f)))) {
      readFileSync(join(ROOT, file), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (MACHINE_PATHS.some((pattern) => pattern.test(line))) offending.push(`${file}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offending).toEqual([]);
  });
});
