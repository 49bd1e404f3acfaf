import { describe, expect, it } from '@jest/globals';
import { parseCli } from './cli.js';
import { mergeOptions, DEFAULT_OPTIONS, OptionsError } from './options.js';

describe('parseCli', () => {
  it('defaults to port 8000', () => {
    expect(parseCli([], {}).options).toEqual({ port: 8000 });
  });

  it('reads every flag', () => {
    const { options } = parseCli(
      [
        '--port=0',
        '--host',
        '0.0.0.0',
        '--served-model-name',
        'a,b',
        '--served-model-name',
        'c',
        '--max-model-len',
        '2048',
        '--ttft-ms',
        '200',
        '--itl-ms',
        '50',
        '--jitter',
        '0.1',
        '--output-mode',
        'random',
        '--output-tokens',
        '32',
        '--seed',
        '3',
        '--max-num-seqs',
        '4',
        '--failure',
        'error_mid_stream:5',
        '--embedding-dim',
        '16',
        '--api-key',
        'secret',
      ],
      {},
    );
    expect(options).toEqual({
      port: 0,
      host: '0.0.0.0',
      servedModelNames: ['a', 'b', 'c'],
      maxModelLen: 2048,
      ttftMs: 200,
      itlMs: 50,
      jitter: 0.1,
      outputMode: 'random',
      outputTokens: 32,
      seed: 3,
      maxNumSeqs: 4,
      failure: { kind: 'error_mid_stream', afterTokens: 5 },
      embeddingDim: 16,
      apiKey: 'secret',
    });
    // Everything the CLI produces must also pass the library's validation.
    expect(() => mergeOptions(DEFAULT_OPTIONS, options, false)).not.toThrow();
  });

  it('falls back to env variables, flags winning', () => {
    const { options } = parseCli(['--ttft-ms', '5'], {
      SIM_TTFT_MS: '100',
      SIM_ITL_MS: '7',
      SIM_SERVED_MODEL_NAMES: 'm1,m2',
      SIM_FAILURE: 'hang',
      VLLM_API_KEY: 'k',
    });
    expect(options).toMatchObject({
      ttftMs: 5,
      itlMs: 7,
      servedModelNames: ['m1', 'm2'],
      failure: { kind: 'hang' },
      apiKey: 'k',
    });
  });

  it('rejects unknown flags, non-numbers and bad fault specs', () => {
    expect(() => parseCli(['--nope'], {})).toThrow(OptionsError);
    expect(() => parseCli(['--ttft-ms', 'soon'], {})).toThrow(OptionsError);
    expect(() => parseCli(['--failure', 'explode'], {})).toThrow(OptionsError);
  });
});

describe('mergeOptions', () => {
  it('validates ranges and fault objects', () => {
    expect(() => mergeOptions(DEFAULT_OPTIONS, { jitter: 0.5 }, false)).toThrow(/jitter/);
    expect(() => mergeOptions(DEFAULT_OPTIONS, { maxNumSeqs: 0 }, false)).toThrow(/maxNumSeqs/);
    expect(() =>
      mergeOptions(DEFAULT_OPTIONS, { failure: { kind: 'error_before_stream', status: 200 } }, false),
    ).toThrow(/status/);
    expect(() => mergeOptions(DEFAULT_OPTIONS, { bogus: 1 }, false)).toThrow(/unknown option/);
    expect(mergeOptions(DEFAULT_OPTIONS, { failure: 'error_before_stream:503:legacy' }, true).failure).toEqual({
      kind: 'error_before_stream',
      status: 503,
      legacyShape: true,
    });
  });
});
