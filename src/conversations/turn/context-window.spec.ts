import { describe, expect, it } from '@jest/globals';
import { type ContextBudget, type HistoryEntry, planContext } from './context-window.js';

/** A conversation of `turns` turns (user then assistant), seqs from `firstSeq`, `size` tokens per message. */
function conversation(turns: number, size = 50, firstSeq = 1): HistoryEntry[] {
  const history: HistoryEntry[] = [];
  for (let t = 0; t < turns; t++) {
    history.push({ seq: firstSeq + 2 * t, role: 'user', tokens: size });
    history.push({ seq: firstSeq + 2 * t + 1, role: 'assistant', tokens: size });
  }
  return history;
}

const budget = (maxModelLen: number, fixedTokens = 100, reserveTokens = 1): ContextBudget => ({
  maxModelLen,
  fixedTokens,
  reserveTokens,
});

const tokensOf = (history: readonly HistoryEntry[], start: number): number =>
  history.slice(start).reduce((total, entry) => total + entry.tokens, 0);

/**
 * Runs `turns` turns the way the gateway does: each turn sends the history from the stored start, and a cut moves
 * the start. Returns, per turn, the seq the turn's prompt started with.
 */
function simulate(turns: number, maxModelLen: number, size: number): number[] {
  const stored: HistoryEntry[] = [];
  let startSeq = 0;
  const starts: number[] = [];
  for (let t = 0; t < turns; t++) {
    const history = stored.filter((entry) => entry.seq >= startSeq);
    const plan = planContext(history, budget(maxModelLen, size + 10, 1), true);
    if (!plan.fits) throw new Error('expected the turn to fit');
    const first = history[plan.start];
    if (plan.cut) startSeq = first?.seq ?? stored.length + 1;
    starts.push(first?.seq ?? stored.length + 1);
    stored.push({ seq: stored.length + 1, role: 'user', tokens: size });
    stored.push({ seq: stored.length + 1, role: 'assistant', tokens: size });
  }
  return starts;
}

describe('planContext', () => {
  it('keeps everything, without a cut, while it fits', () => {
    const history = conversation(5);
    expect(planContext(history, budget(10_000), true)).toEqual({ fits: true, start: 0, cut: false });
    // Exactly full still fits: 500 history + 100 fixed + 1 reserve.
    expect(planContext(history, budget(601), true)).toEqual({ fits: true, start: 0, cut: false });
  });

  it('on overflow, drops the oldest turns down to about half of the room, cutting at a user message', () => {
    // Room for history: 1000 - 100 - 1 = 899; half is 449: four turns of 100 tokens fit in it, five do not.
    const history = conversation(10);
    const plan = planContext(history, budget(1000), true);
    expect(plan).toEqual({ fits: true, start: 12, cut: true });
    expect(history[12]).toMatchObject({ seq: 13, role: 'user' });
    expect(tokensOf(history, 12)).toBeLessThanOrEqual(449);
    expect(tokensOf(history, 10)).toBeGreaterThan(449);
  });

  it('has hysteresis: after a cut, turns keep the same prefix until the window overflows again', () => {
    // 250-token messages, one turn is 500; room 4096 - 260 - 1 = 3835, half 1917: a cut keeps three turns.
    const starts = simulate(30, 4096, 250);
    // The first cut happens once the history no longer fits: seven turns (3500 tokens) fit, eight do not.
    expect(starts.slice(0, 8)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    expect(starts[8]).toBe(11);
    // Then the start stays put for several turns at a time, and only ever moves forward.
    const changes = starts.filter((start, i) => i > 0 && start !== starts[i - 1]).length;
    expect(changes).toBeLessThanOrEqual(Math.ceil(30 / 4));
    for (let i = 1; i < starts.length; i++) expect(starts[i]).toBeGreaterThanOrEqual(starts[i - 1] ?? 0);
    // Every turn sent at least the previous turn whole.
    starts.forEach((start, turn) => expect(start).toBeLessThanOrEqual(Math.max(1, 2 * turn - 1)));
  });

  it('sends the six-turn case the issue describes with at least the previous turn each time', () => {
    // About 1,000 tokens per turn (500 + 505) against a 4,096-token window, with room for a 500-token reply.
    const history: HistoryEntry[] = [];
    for (let turn = 0; turn < 6; turn++) {
      const plan = planContext(history, budget(4096, 510, 500), true);
      if (!plan.fits) throw new Error('expected the turn to fit');
      if (turn > 0) expect(history.length - plan.start).toBeGreaterThanOrEqual(2);
      history.push({ seq: history.length + 1, role: 'user', tokens: 500 });
      history.push({ seq: history.length + 1, role: 'assistant', tokens: 505 });
    }
  });

  it('never sends less history than fits: a newest turn larger than half is kept when it fits whole', () => {
    // Room 899: the newest turn (600 tokens) is over the 449 target, but fits.
    const history: HistoryEntry[] = [
      { seq: 1, role: 'user', tokens: 300 },
      { seq: 2, role: 'assistant', tokens: 300 },
      { seq: 3, role: 'user', tokens: 300 },
      { seq: 4, role: 'assistant', tokens: 300 },
    ];
    expect(planContext(history, budget(1000), true)).toEqual({ fits: true, start: 2, cut: true });
    // When not even the newest turn fits, nothing is sent, and the start moves past it.
    const bigger = history.map((entry) => ({ ...entry, tokens: 500 }));
    expect(planContext(bigger, budget(1000), true)).toEqual({ fits: true, start: 4, cut: true });
  });

  it('never starts the kept history with a reply or a tool result', () => {
    const history: HistoryEntry[] = [
      { seq: 1, role: 'user', tokens: 100 },
      { seq: 2, role: 'assistant', tokens: 100 },
      { seq: 3, role: 'tool', tokens: 100 },
      { seq: 4, role: 'assistant', tokens: 100 },
      { seq: 5, role: 'user', tokens: 100 },
      { seq: 6, role: 'assistant', tokens: 100 },
    ];
    const plan = planContext(history, budget(700), true);
    expect(plan).toMatchObject({ fits: true, cut: true });
    if (plan.fits) expect(history[plan.start]?.role ?? 'user').toBe('user');
  });

  it('moves the start past the older half of a bounded read that did not reach it, even when all of it fits', () => {
    const history = conversation(10, 10, 41);
    const plan = planContext(history, budget(100_000), false);
    expect(plan).toEqual({ fits: true, start: 10, cut: true });
    expect(history[10]?.seq).toBe(51);
  });

  it('reports the tokens needed when even the system prompt, the new messages and the reserve do not fit', () => {
    expect(planContext(conversation(2), budget(1000, 990, 20), true)).toEqual({ fits: false, required: 1010 });
  });
});
