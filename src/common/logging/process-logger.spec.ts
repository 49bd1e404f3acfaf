import { afterAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attachLogOutputs, processLogger, stdoutFormat } from './process-logger.js';

const root = mkdtempSync(join(tmpdir(), 'process-logger-'));

const messagesIn = (dir: string): string[] =>
  readFileSync(join(dir, 'app.log'), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (JSON.parse(line) as { msg: string }).msg);

describe('process logger outputs', () => {
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('creates the directory, writes at the configured level, and has every line in the file once closed', async () => {
    const dir = join(root, 'a', 'logs');
    const outputs = attachLogOutputs({ dir, level: 'warn' });
    expect(existsSync(join(dir, 'app.log'))).toBe(true);

    const child = processLogger().child({ request_id: 'r1' });
    child.info('below the level');
    child.warn('first');
    processLogger().error('second');
    await outputs.close();
    await outputs.close();

    expect(messagesIn(dir)).toEqual(['first', 'second']);
  });

  it('switches level and file for the next app, including for loggers created before', async () => {
    const early = processLogger().child({ component: 'early' });
    const first = join(root, 'first');
    const second = join(root, 'second');

    const firstOutputs = attachLogOutputs({ dir: first, level: 'error' });
    early.warn('dropped at error level');
    early.error('to the first file');
    await firstOutputs.close();

    const secondOutputs = attachLogOutputs({ dir: second, level: 'debug' });
    early.debug('to the second file');
    await secondOutputs.close();

    expect(messagesIn(first)).toEqual(['to the first file']);
    expect(messagesIn(second)).toEqual(['to the second file']);
  });

  it('keeps app.log JSON lines when stdout shows them formatted for reading', async () => {
    const dir = join(root, 'pretty');
    const outputs = attachLogOutputs({ dir, level: 'info', stdout: 'pretty' });
    processLogger().info({ request_id: 'r2', status_code: 200 }, 'formatted on stdout only');
    await outputs.close();

    const [entry] = readFileSync(join(dir, 'app.log'), 'utf8').trim().split('\n');
    expect(JSON.parse(entry ?? '')).toMatchObject({ level: 'INFO', request_id: 'r2', msg: 'formatted on stdout only' });
  });

  it('formats stdout for reading on a terminal only, unless told otherwise', () => {
    expect(stdoutFormat('auto', true)).toBe('pretty');
    expect(stdoutFormat('auto', false)).toBe('json');
    expect(stdoutFormat('json', true)).toBe('json');
    expect(stdoutFormat('pretty', false)).toBe('pretty');
  });

  it('fails at once when the directory cannot be created', () => {
    const blocker = join(root, 'a-file');
    writeFileSync(blocker, '');
    expect(() => attachLogOutputs({ dir: join(blocker, 'logs'), level: 'info' })).toThrow(/ENOTDIR/);
  });
});
