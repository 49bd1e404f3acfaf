// A one-line progress bar on stderr, redrawn four times a second on a terminal; elsewhere (CI, a pipe) one line per
// phase. It reads live counters and never touches the request path.

import type { Progress } from './load.js';

const WIDTH = 24;

export interface ScenarioProgress extends Progress {
  phase: string;
  roundsDone: number;
  totalRounds: number;
  /** The current round: when it started, and how long or how many requests it is planned to take. */
  round: { startedAt: number; sentBefore: number; durationMs: number | undefined; requests: number | undefined };
}

/** 0..1 of the scenario's measured rounds, the current one counted by time or by requests sent. */
export function progressFraction(p: ScenarioProgress, now: number): number {
  if (p.totalRounds === 0) return 0;
  const { startedAt, sentBefore, durationMs, requests } = p.round;
  const inRound =
    startedAt === 0
      ? 0
      : durationMs !== undefined
        ? (now - startedAt) / durationMs
        : requests !== undefined
          ? (p.sent - sentBefore) / requests
          : 0;
  return Math.min(1, (p.roundsDone + Math.min(1, Math.max(0, inRound))) / p.totalRounds);
}

export function newProgress(): ScenarioProgress {
  return {
    sent: 0,
    completed: 0,
    failed: 0,
    inFlight: 0,
    phase: '',
    roundsDone: 0,
    totalRounds: 0,
    round: { startedAt: 0, sentBefore: 0, durationMs: undefined, requests: undefined },
  };
}

export class ProgressBar {
  private timer: NodeJS.Timeout | undefined;
  private lastPhase = '';
  private started = 0;
  private name = '';
  private progress: ScenarioProgress = newProgress();
  private readonly tty: boolean;

  constructor(
    private readonly enabled: boolean,
    private readonly out: NodeJS.WriteStream = process.stderr,
    /** The tool's name on the lines written when stderr is not a terminal. */
    private readonly tag = 'bench',
  ) {
    this.tty = out.isTTY;
  }

  start(name: string, progress: ScenarioProgress): void {
    if (!this.enabled) return;
    this.stop();
    this.name = name;
    this.progress = progress;
    this.started = performance.now();
    this.lastPhase = '';
    this.timer = setInterval(() => this.draw(), this.tty ? 250 : 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.tty) this.out.write('\r\x1b[2K');
  }

  /** A message between redraws, on its own line. */
  log(line: string): void {
    if (this.tty && this.timer !== undefined) this.out.write('\r\x1b[2K');
    this.out.write(`${line}\n`);
    if (this.timer !== undefined) this.draw();
  }

  private draw(): void {
    const p = this.progress;
    const now = performance.now();
    const elapsed = ((now - this.started) / 1000).toFixed(0);
    const fraction = progressFraction(p, now);
    if (!this.tty) {
      if (p.phase !== this.lastPhase) {
        this.lastPhase = p.phase;
        this.out.write(`[${this.tag}] ${this.name}: ${p.phase} (${Math.round(fraction * 100)}%, ${elapsed} s)\n`);
      }
      return;
    }
    const filled = Math.round(fraction * WIDTH);
    const bar = '█'.repeat(filled) + '░'.repeat(WIDTH - filled);
    const line =
      `${this.name} ${bar} ${String(Math.round(fraction * 100)).padStart(3)}%  ${p.phase}  ` +
      `ok ${p.completed}  failed ${p.failed}  in flight ${p.inFlight}  ${elapsed} s`;
    this.out.write(`\r\x1b[2K${line.slice(0, (this.out.columns || 120) - 1)}`);
  }
}
