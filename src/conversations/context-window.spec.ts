import { describe, expect, it } from '@jest/globals';
import { type HistoryEntry, truncateHistory } from './context-window.js';

const CHUNK = 16;

/** A conversation of `turns` turns (user then assistant), seqs from 1, token sizes from a deterministic sequence. */
function conversation(turns: number, size: (turn: number) => number = () => 50): HistoryEntry[] {
  const history: HistoryEntry[] = [];
  for (let t = 0; t < turns; t++) {
    history.push({ seq: 2 * t + 1, role: 'user', tokens: size(t) });
    history.push({ seq: 2 * t + 2, role: 'assistant', tokens: size(t) * 2 });
  }
  return history;
}

/** Sizes that vary but repeat: the same conversation every run. */
const varied = (turn: number): number => 20 + ((turn * 37) % 90);

function keptFrom(history: readonly HistoryEntry[], maxModelLen: number, fixedTokens = 100, complete = true): number {
  const result = truncateHistory(
    history,
    { maxModelLen, fixedTokens, reserveTokens: 1 },
    {
      chunkSize: CHUNK,
      windowComplete: complete,
    },
  );
  if (!result.fits) throw new Error('expected the turn to fit');
  return history[result.start]?.seq ?? Infinity;
}

describe('truncateHistory', () => {
  it('keeps everything while it fits', () => {
    const history = conversation(5);
    const result = truncateHistory(
      history,
      { maxModelLen: 4096, fixedTokens: 100, reserveTokens: 256 },
      {
        chunkSize: CHUNK,
        windowComplete: true,
      },
    );
    expect(result).toEqual({ fits: true, start: 0 });
  });

  it('drops the oldest messages, cutting at a user message on the chunk grid', () => {
    const history = conversation(40);
    const start = keptFrom(history, 2000);
    expect((start - 1) % CHUNK).toBe(0);
    expect(history.find((m) => m.seq === start)?.role).toBe('user');
    const kept = history.filter((m) => m.seq >= start).reduce((n, m) => n + m.tokens, 0);
    expect(kept + 100 + 1).toBeLessThanOrEqual(2000);
  });

  it('keeps the prefix stable across successive turns: the cut moves only forward, a chunk at a time', () => {
    const cuts: number[] = [];
    for (let turns = 1; turns <= 300; turns++) cuts.push(keptFrom(conversation(turns, varied), 3000));

    for (let i = 1; i < cuts.length; i++) expect(cuts[i]).toBeGreaterThanOrEqual(cuts[i - 1] ?? 0);
    const distinct = [...new Set(cuts)];
    expect(distinct.length).toBeGreaterThan(3);
    for (const cut of distinct.slice(1)) expect((cut - 1) % CHUNK).toBe(0);
    // 300 turns add ~600 messages; the cut moves at most once per chunk of them, never once per turn.
    expect(distinct.length).toBeLessThanOrEqual(600 / CHUNK + 1);
    // Between two jumps, consecutive requests share the same first history message (the prefix vLLM caches).
    const unchanged = cuts.slice(1).filter((cut, i) => cut === cuts[i]).length;
    expect(unchanged).toBeGreaterThan(cuts.length * 0.8);
  });

  it('stays on the grid when the bounded read cuts the conversation off, whatever the read window', () => {
    const full = conversation(200, varied);
    const cuts: number[] = [];
    for (let end = 300; end <= 400; end += 2) {
      // The newest 100 messages, as a bounded read returns them: the window slides by one turn per request.
      const window = full.filter((m) => m.seq > end - 100 && m.seq <= end);
      cuts.push(keptFrom(window, 100_000, 100, false));
    }
    for (const cut of cuts) expect((cut - 1) % CHUNK).toBe(0);
    for (let i = 1; i < cuts.length; i++) expect(cuts[i]).toBeGreaterThanOrEqual(cuts[i - 1] ?? 0);
    expect(new Set(cuts).size).toBeLessThanOrEqual(100 / CHUNK + 1);
  });

  it('never starts the kept history with a reply or a tool result', () => {
    const history: HistoryEntry[] = [
      { seq: 15, role: 'user', tokens: 10 },
      { seq: 16, role: 'assistant', tokens: 10 },
      { seq: 17, role: 'tool', tokens: 10 },
      { seq: 18, role: 'assistant', tokens: 10 },
      { seq: 19, role: 'user', tokens: 10 },
      { seq: 20, role: 'assistant', tokens: 10 },
    ];
    const result = truncateHistory(
      history,
      { maxModelLen: 35, fixedTokens: 0, reserveTokens: 1 },
      {
        chunkSize: CHUNK,
        windowComplete: true,
      },
    );
    expect(result).toEqual({ fits: true, start: 4 });
  });

  it('sends no history when only the new messages fit', () => {
    const history = conversation(3, () => 1000);
    const result = truncateHistory(
      history,
      { maxModelLen: 1000, fixedTokens: 900, reserveTokens: 50 },
      {
        chunkSize: CHUNK,
        windowComplete: true,
      },
    );
    expect(result).toEqual({ fits: true, start: history.length });
  });

  it('reports the tokens needed when even the system prompt, the new messages and the reserve do not fit', () => {
    const result = truncateHistory(
      conversation(3),
      { maxModelLen: 1000, fixedTokens: 990, reserveTokens: 20 },
      {
        chunkSize: CHUNK,
        windowComplete: true,
      },
    );
    expect(result).toEqual({ fits: false, required: 1010 });
  });
});
