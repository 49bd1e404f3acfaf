// Loaded into the soak's gateway process with `node --import` (never by the gateway itself): once a second it appends
// the process's event-loop delay (node's own histogram, sampled by libuv's timer, so nothing runs per request), RSS
// and heap use as one JSON line to $SOAK_PROBE_FILE. On SIGUSR2 (sent by the soak before and after the traffic, with
// node's --expose-gc) it runs a full GC first and marks the line `afterGc`: what is still reachable then is what a
// leak would grow. Plain JavaScript because it runs beside dist/, without tsx.

import { appendFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const file = process.env.SOAK_PROBE_FILE;
if (file !== undefined && file !== '') {
  const resolutionMs = 10;
  const delay = monitorEventLoopDelay({ resolution: resolutionMs });
  delay.enable();
  // The histogram holds the time between the probe timer's ticks: what is beyond the timer's own 10 ms is the delay.
  const ms = (ns) => Math.max(0, Math.round((ns / 1e6 - resolutionMs) * 100) / 100);
  const write = (extra) => {
    const memory = process.memoryUsage();
    const sample = {
      at: Date.now(),
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      loopP50Ms: ms(delay.percentile(50)),
      loopP99Ms: ms(delay.percentile(99)),
      loopMaxMs: ms(delay.max),
      ...extra,
    };
    // One small synchronous append a second: simpler than a stream, and too rare to matter.
    appendFileSync(file, `${JSON.stringify(sample)}\n`);
  };
  setInterval(() => {
    write({});
    delay.reset();
  }, 1000).unref();
  // Handled even without --expose-gc: SIGUSR2's default action would end the gateway.
  process.on('SIGUSR2', () => {
    if (typeof globalThis.gc !== 'function') return;
    globalThis.gc();
    write({ afterGc: true });
  });
}
