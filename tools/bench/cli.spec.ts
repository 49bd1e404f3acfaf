import { describe, expect, it } from '@jest/globals';
import { CliError, parseCli } from './cli.js';
import { SCENARIOS } from './scenarios.js';

describe('parseCli', () => {
  it('runs every scenario by default with --spawn --compare', () => {
    const opts = parseCli(['--spawn', '--compare']);
    expect(opts?.scenarios.map((s) => s.name)).toEqual(SCENARIOS.map((s) => s.name));
    expect(opts?.compare).toBe(true);
    expect(opts?.build).toBe(true);
  });

  it('takes vLLM-style --goodput values, several words after one flag', () => {
    const opts = parseCli(['--target', 'http://127.0.0.1:1', '--goodput', 'ttft:200', 'tpot:50', '--rate', '5']);
    expect(opts?.slo).toEqual({ ttftMs: 200, tpotMs: 50 });
    expect(opts?.scenarios).toHaveLength(1);
    expect(opts?.scenarios[0]?.shape).toEqual({ kind: 'rate', ratePerS: 5, maxConcurrency: undefined });
  });

  it('builds a custom run from --concurrency, --no-stream and --requests', () => {
    const opts = parseCli(['--target', 'http://h:1', '--concurrency', '4', '--no-stream', '--requests', '100']);
    const s = opts?.scenarios[0];
    expect(s?.name).toBe('custom');
    expect(s?.shape).toEqual({ kind: 'concurrency', concurrency: 4 });
    expect(s?.stream).toBe(false);
    expect(s?.requestsPerRound).toBe(100);
    expect(s?.durationS).toBeUndefined();
  });

  it('lets flags shorten a named scenario', () => {
    const opts = parseCli(['--spawn', '--scenario', 'rate-200,stream', '--duration', '2', '--rounds', '2']);
    expect(opts?.scenarios.map((s) => [s.name, s.durationS, s.rounds])).toEqual([
      ['rate-200', 2, 2],
      ['stream', 2, 2],
    ]);
    const streams = parseCli(['--spawn', '--scenario', 'streams-2000', '--duration', '3', '--ramp-up', '2'])
      ?.scenarios[0];
    expect(streams?.durationS).toBe(3);
    expect(streams?.requestsPerRound).toBeUndefined();
    expect(streams?.shape).toEqual({ kind: 'concurrency', concurrency: 2000, rampUpS: 2 });
  });

  it('returns undefined for --help', () => {
    expect(parseCli(['--help'])).toBeUndefined();
  });

  it('rejects contradictory or incomplete flags', () => {
    expect(() => parseCli([])).toThrow(CliError);
    expect(() => parseCli(['--target', 'http://h:1', '--compare'])).toThrow(/--direct/);
    expect(() => parseCli(['--spawn', '--target', 'http://h:1'])).toThrow(/--spawn/);
    expect(() => parseCli(['--spawn', '--scenario', 'nope'])).toThrow(/unknown scenario/);
    expect(() => parseCli(['--spawn', '--rate', '5', '--concurrency', '2'])).toThrow(CliError);
    expect(() => parseCli(['--spawn', '--goodput', 'itl:5'])).toThrow(CliError);
    expect(() => parseCli(['--spawn', '--concurrency', '0'])).toThrow(/integer/);
  });
});
