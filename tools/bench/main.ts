// `npm run bench -- [flags]`: load tests an OpenAI-compatible chat endpoint with vLLM's `vllm bench serve` metrics and,
// with --compare, measures what the gateway adds over the simulator it fronts. See BENCHMARKS.md and --help.

import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { exitOnInterrupt, runCommand } from '../common/cli-main.js';
import { renderChart } from './chart.js';
import { CliError, type CliOptions, parseCli, USAGE } from './cli.js';
import { errorMessage, requestJson } from './client.js';
import { newProgress, ProgressBar } from './progress.js';
import { type RunInfo, summaryTable, toJson, toMarkdown } from './report.js';
import { firstModel, type Processes, runScenario, type ScenarioResult, type Side } from './run.js';
import type { Scenario } from './scenarios.js';
import { BENCH_API_KEY, ROOT, spawnSystem, type SystemUnderTest } from './spawn.js';

/** About 60 words: a short chat turn, the same for every request and both sides. */
const PROMPT =
  'You are helping a support engineer. Summarise in two sentences why a reverse proxy in front of an inference ' +
  'server should stream bytes through as they arrive instead of buffering whole responses, and name one metric ' +
  'that shows the difference to a user waiting for the first words of an answer on a slow mobile connection.';
/** Turns per conversation in the conversation-turn scenario, so its history (read and sent upstream) stays short. */
const TURNS_PER_CONVERSATION = 5;

interface Endpoints {
  gateway: URL;
  gatewayHeaders: Record<string, string>;
  /** The simulator: the direct side of --compare, and where scenario latencies are set. */
  sim: URL | undefined;
  processes: Processes;
  setup: string[];
}

function chatBody(model: string, scenario: Scenario, extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      model,
      messages: [{ role: 'user', content: PROMPT }],
      max_completion_tokens: scenario.sim.outputTokens,
      ...(scenario.stream ? { stream: true, stream_options: { include_usage: true } } : {}),
      ...extra,
    }),
  );
}

async function configureSim(sim: URL | undefined, scenario: Scenario, log: (line: string) => void): Promise<void> {
  if (sim === undefined) return;
  const res = await requestJson(sim, 'POST', '/sim/config', { ...scenario.sim, outputMode: 'fixed' }).catch(
    (err: unknown) => ({ status: 0, text: err instanceof Error ? err.message : String(err) }),
  );
  if (res.status !== 200) {
    log(`[bench] could not set the simulator for ${scenario.name} (${res.status}: ${errorMessage(res.text)})`);
  }
}

/** Sides of a relay scenario: the simulator directly, then the gateway (or just the target). */
function relaySides(opts: CliOptions, ep: Endpoints, scenario: Scenario, model: string): Side[] {
  const body = chatBody(model, scenario);
  const gateway: Side = {
    label: opts.spawn || opts.compare ? 'gateway' : 'target',
    target: { url: ep.gateway, headers: ep.gatewayHeaders },
    viaGateway: ep.processes.gatewayPid !== undefined,
    body: () => body,
  };
  if (!opts.compare || ep.sim === undefined) return [gateway];
  return [{ label: 'simulator', target: { url: ep.sim, headers: {} }, viaGateway: false, body: () => body }, gateway];
}

/**
 * Sides of the conversation scenario, both through the gateway: a stateless turn, and a turn with `conversation_id`.
 * Conversations are created before each round (not timed) and turns go round-robin over them, so each one gets about
 * TURNS_PER_CONVERSATION turns. Returns a reason instead when the gateway has no conversations yet.
 */
async function conversationSides(ep: Endpoints, scenario: Scenario, model: string): Promise<Side[] | string> {
  const create = async (): Promise<string> => {
    const res = await requestJson(ep.gateway, 'POST', '/v1/conversations', {}, ep.gatewayHeaders);
    const id = (res.body as { id?: unknown } | undefined)?.id;
    if (res.status === 404) throw new Error('POST /v1/conversations is not implemented by this gateway (404)');
    if (res.status < 200 || res.status > 299 || typeof id !== 'string') {
      throw new Error(`POST /v1/conversations gave ${res.status}: ${errorMessage(res.text)}`);
    }
    return id;
  };
  let ids: string[];
  try {
    ids = [await create()];
    const probe = await requestJson(
      ep.gateway,
      'POST',
      '/v1/chat/completions',
      { model, messages: [{ role: 'user', content: 'hello' }], max_completion_tokens: 4, conversation_id: ids[0] },
      ep.gatewayHeaders,
    );
    if (probe.status !== 200) {
      return `a chat turn with conversation_id gave ${probe.status}: ${errorMessage(probe.text)}`;
    }
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  const stateless = chatBody(model, scenario);
  let bodies: Buffer[] = [];
  const target = { url: ep.gateway, headers: ep.gatewayHeaders };
  const viaGateway = ep.processes.gatewayPid !== undefined;
  return [
    { label: 'stateless', target, viaGateway, body: () => stateless },
    {
      label: 'conversation',
      target,
      viaGateway,
      prepare: async (planned) => {
        const wanted = Math.max(1, Math.ceil(planned / TURNS_PER_CONVERSATION));
        ids = [];
        for (let i = 0; i < wanted; i++) ids.push(await create());
        bodies = ids.map((id) => chatBody(model, scenario, { conversation_id: id }));
      },
      body: (i) => bodies[i % bodies.length] ?? stateless,
      verify: async () => {
        // A gateway that accepts conversation_id but ignores it would make this comparison meaningless.
        const id = ids[0] ?? '';
        const res = await requestJson(
          ep.gateway,
          'GET',
          `/v1/conversations/${id}/messages`,
          undefined,
          ep.gatewayHeaders,
        );
        const stored = (res.body as { data?: unknown[] } | undefined)?.data?.length ?? 0;
        return res.status === 200 && stored > 0
          ? undefined
          : `turns with conversation_id were not stored (GET /v1/conversations/{id}/messages: ${res.status}, ${stored} messages)`;
      },
    },
  ];
}

function endpoints(opts: CliOptions, sut: SystemUnderTest | undefined): Endpoints {
  if (sut !== undefined) {
    return {
      gateway: sut.gatewayUrl,
      gatewayHeaders: { authorization: `Bearer ${BENCH_API_KEY}` },
      sim: sut.simUrl,
      processes: { gatewayPid: sut.gatewayPid, simPid: sut.simPid, pgPid: sut.pgPid, simUrl: sut.simUrl },
      setup: [
        'System under test started by the bench (`--spawn`), each in its own process: the vLLM simulator ' +
          '(`tools/vllm-sim`, output mode fixed, max-num-seqs 100000), ' +
          `${sut.pgSettings}, and the gateway \`node dist/src/main.js\` (NODE_ENV=production, LOG_LEVEL=info, ` +
          'request logging to stdout and LOG_DIR in a temporary folder, ENABLE_AUTH=true with a static key, ' +
          'MIGRATIONS_RUN=true).',
        `Gateway logs and process output: ${sut.logDir}`,
        'Client: this process, node:http with a keep-alive Agent (maxSockets = the concurrency, or --max-concurrency, ' +
          'unbounded for a rate without it), incremental SSE parsing.',
      ],
    };
  }
  const target = opts.target ?? new URL('http://127.0.0.1:8080');
  return {
    gateway: target,
    gatewayHeaders: opts.apiKey === undefined ? {} : { authorization: `Bearer ${opts.apiKey}` },
    sim: opts.direct,
    processes: { gatewayPid: opts.gatewayPid, simPid: undefined, pgPid: undefined, simUrl: opts.direct },
    setup: [
      `Target: ${target.origin}${opts.direct === undefined ? '' : `; simulator (direct): ${opts.direct.origin}`}` +
        (opts.direct === undefined ? ' (simulator settings were not applied: no --direct)' : ''),
      'Client: this process, node:http with a keep-alive Agent (maxSockets = the concurrency, or --max-concurrency, ' +
        'unbounded for a rate without it), incremental SSE parsing.',
    ],
  };
}

async function bench(opts: CliOptions): Promise<number> {
  const bar = new ProgressBar(opts.progress);
  const log = (line: string): void => bar.log(line);
  const startedAt = new Date();
  const loadAvgAtStart = loadavg();
  let sut: SystemUnderTest | undefined;
  const interruption = exitOnInterrupt('bench', bar, () => sut?.stop());

  const outDir = resolve(ROOT, opts.outDir);
  await mkdir(outDir, { recursive: true });
  const stamp = startedAt
    .toISOString()
    .replace(/[:]/g, '-')
    .replace(/\.\d+Z$/, 'Z');
  const base = join(outDir, stamp);

  try {
    if (opts.spawn) {
      sut = await spawnSystem({
        build: opts.build,
        cpuProfDir: opts.cpuProf ? outDir : undefined,
        pgNoFsync: opts.pgNoFsync,
        log,
      });
    }
    const ep = endpoints(opts, sut);
    const model = opts.model ?? (await firstModel(ep.gateway, ep.gatewayHeaders));
    const results: ScenarioResult[] = [];
    for (const scenario of opts.scenarios) {
      await configureSim(ep.sim, scenario, log);
      const sides =
        scenario.kind === 'conversation'
          ? await conversationSides(ep, scenario, model)
          : relaySides(opts, ep, scenario, model);
      if (typeof sides === 'string') {
        log(`[bench] ${scenario.name}: not available (${sides})`);
        results.push({ scenario, notAvailable: sides, invalid: [], sides: [], comparison: undefined, checks: [] });
        continue;
      }
      const progress = newProgress();
      bar.start(scenario.name, progress);
      const result = await runScenario({
        scenario,
        sides,
        slo: opts.slo,
        seed: opts.seed,
        timeoutMs: opts.timeoutMs,
        processes: ep.processes,
        progress,
      });
      bar.stop();
      results.push(result);
      const checks = result.checks.map(
        (c) => `${c.target}: ${c.figure} (${c.met === undefined ? 'n/a' : c.met ? 'met' : 'NOT met'})`,
      );
      log(`[bench] ${scenario.name} done${checks.length > 0 ? ` — ${checks.join('; ')}` : ''}`);
    }

    const info: RunInfo = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? 'unknown',
        memoryGb: totalmem() / 1024 ** 3,
        node: process.version,
        loadAvgAtStart,
      },
      setup: ep.setup,
      slo: opts.slo,
    };
    const markdown = toMarkdown(info, results);
    await writeFile(`${base}.json`, toJson(info, results));
    await writeFile(`${base}.md`, markdown);
    await writeFile(`${base}.svg`, renderChart(`llm-gateway bench ${info.startedAt}`, results));
    process.stdout.write(`${markdown}\n`);
    const summary = summaryTable(results);
    process.stderr.write(`${summary === '' ? '' : `\n${summary}\n`}\nResults: ${base}.{json,md,svg}\n`);
    const missed = results.some((r) => r.checks.some((c) => c.met === false));
    return missed ? 1 : 0;
  } finally {
    bar.stop();
    if (sut !== undefined && !interruption.interrupted) await sut.stop();
  }
}

runCommand({ name: 'bench', usage: USAGE, parse: parseCli, UsageError: CliError, run: bench });
