// `npm run soak -- [flags]`: mixed traffic through a spawned gateway for a while, then how much it served and how its
// memory and event loop behaved over time. See --help and BENCHMARKS.md ("Soak").

import { Agent } from 'node:http';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { errorMessage, requestJson } from '../bench/client.js';
import { newProgress, ProgressBar } from '../bench/progress.js';
import { firstModel } from '../bench/run.js';
import { BENCH_API_KEY, ROOT, spawnSystem, type SystemUnderTest } from '../bench/spawn.js';
import { exitOnInterrupt, runCommand } from '../common/cli-main.js';
import { CliError, parseCli, type SoakOptions, USAGE } from './cli.js';
import { buildRows, parseProbe, renderChart, type SoakRun, toMarkdown } from './report.js';
import { newCounters, runTraffic } from './traffic.js';

/** Idle time before the traffic, so the report has the gateway's resting RSS. */
const IDLE_BEFORE_MS = 3_000;
/** After the last request: time for the gateway to finish its aborted relays and reply commits before it is read. */
const SETTLE_MS = 2_000;
const SIM_TTFT_MS = 20;
/** A full GC of a heap of this size takes well under a second. */
const GC_WAIT_MS = 1_500;

async function soak(opts: SoakOptions): Promise<number> {
  const bar = new ProgressBar(opts.progress, process.stderr, 'soak');
  const log = (line: string): void => bar.log(`[soak] ${line}`);
  const startedAt = new Date();
  const outDir = join(
    resolve(ROOT, opts.outDir),
    startedAt
      .toISOString()
      .replace(/:/g, '-')
      .replace(/\.\d+Z$/, 'Z'),
  );
  await mkdir(outDir, { recursive: true });
  const probeFile = join(outDir, 'probe.jsonl');

  let sut: SystemUnderTest | undefined;
  const interruption = exitOnInterrupt('soak', bar, () => sut?.stop());

  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency * 2 });
  try {
    sut = await spawnSystem({
      build: opts.build,
      cpuProfDir: undefined,
      pgNoFsync: false,
      log,
      gatewayNodeArgs: ['--expose-gc', '--import', pathToFileURL(join(ROOT, 'tools', 'soak', 'loop-probe.mjs')).href],
      gatewayEnv: { SOAK_PROBE_FILE: probeFile },
    });
    const sim = await requestJson(sut.simUrl, 'POST', '/sim/config', {
      ttftMs: SIM_TTFT_MS,
      itlMs: opts.simItlMs,
      outputTokens: opts.outputTokens,
      outputMode: 'fixed',
    });
    if (sim.status !== 200) throw new Error(`could not configure the simulator: ${errorMessage(sim.text)}`);
    const headers = { authorization: `Bearer ${BENCH_API_KEY}` };
    const model = await firstModel(sut.gatewayUrl, headers);
    await sleep(IDLE_BEFORE_MS);
    await collectGarbage(sut.gatewayPid);

    const counters = newCounters();
    const progress = newProgress();
    const started = performance.now();
    const startedAtEpochMs = Date.now();
    const durationMs = opts.durationS * 1000;
    progress.totalRounds = 1;
    progress.round = { startedAt: started, sentBefore: 0, durationMs, requests: undefined };
    const { rowEveryS } = opts;
    const rows = Math.max(1, Math.ceil(opts.durationS / rowEveryS));
    let shownRow = 1;
    progress.phase = `interval 1/${rows}`;
    bar.start('traffic', progress);
    const mirror = setInterval(() => {
      Object.assign(progress, {
        sent: counters.sent,
        completed: counters.completed,
        failed: counters.failed,
        inFlight: counters.inFlight,
      });
      const row = Math.min(rows, 1 + Math.floor((performance.now() - started) / 1000 / rowEveryS));
      // Changed once per interval: off a terminal the bar writes a line per change, with the counts so far.
      if (row !== shownRow) {
        shownRow = row;
        progress.phase = `interval ${row}/${rows}, ${counters.completed} served, ${counters.failed} errors so far`;
      }
    }, 250);
    mirror.unref();
    log(
      `${opts.concurrency} clients for ${opts.durationS} s against ${sut.gatewayUrl.origin} (model ${model}); ` +
        `report in ${outDir}`,
    );
    await runTraffic(
      {
        gateway: sut.gatewayUrl,
        agent,
        headers,
        model,
        outputTokens: opts.outputTokens,
        concurrency: opts.concurrency,
        deadline: started + durationMs,
        startedAt: started,
        seed: opts.seed,
      },
      counters,
    );
    clearInterval(mirror);
    bar.stop();
    await sleep(SETTLE_MS);
    await collectGarbage(sut.gatewayPid);

    const simStats = await requestJson(sut.simUrl, 'GET', '/sim/stats').catch(() => undefined);
    const inFlight = (simStats?.body as { inFlight?: unknown } | undefined)?.inFlight;
    const metrics = await requestJson(sut.gatewayUrl, 'GET', '/metrics').catch(() => undefined);
    const streams = metrics === undefined ? undefined : gaugeSum(metrics.text, 'gateway_streams_in_flight');
    await sut.stop();
    sut = undefined;

    const run: SoakRun = {
      startedAtEpochMs,
      durationS: opts.durationS,
      rowEveryS: opts.rowEveryS,
      concurrency: opts.concurrency,
      outputTokens: opts.outputTokens,
      simItlMs: opts.simItlMs,
      seed: opts.seed,
      machine: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`,
      samples: parseProbe(await readFile(probeFile, 'utf8').catch(() => '')),
      counters,
      upstreamInFlightAfter: typeof inFlight === 'number' ? inFlight : undefined,
      gatewayStreamsAfter: streams,
    };
    const markdown = toMarkdown(run, buildRows(run));
    await writeFile(join(outDir, 'soak.md'), markdown);
    await writeFile(join(outDir, 'soak.svg'), renderChart(run));
    process.stdout.write(`${markdown}\n`);
    process.stderr.write(`[soak] report: ${join(outDir, 'soak.md')}, chart: ${join(outDir, 'soak.svg')}\n`);
    return counters.completed > 0 ? 0 : 1;
  } finally {
    bar.stop();
    agent.destroy();
    if (sut !== undefined && !interruption.interrupted) await sut.stop();
  }
}

/** Asks the gateway's probe for a full GC and a sample after it, and gives it a moment to write that sample. */
async function collectGarbage(pid: number): Promise<void> {
  process.kill(pid, 'SIGUSR2');
  await sleep(GC_WAIT_MS);
}

/** The sum of a gauge's series in Prometheus' text format; undefined when it is absent. */
function gaugeSum(text: string, name: string): number | undefined {
  let total: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) total = (total ?? 0) + value;
  }
  return total;
}

runCommand({ name: 'soak', usage: USAGE, parse: parseCli, UsageError: CliError, run: soak });
