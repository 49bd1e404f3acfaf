import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { packageVersion } from '../common/package-version.js';
import { VllmService } from '../vllm/vllm.service.js';
import type { DatabaseCheckDto, HealthReportDto, HealthStatus, RootInfoDto } from './health.dto.js';

/** A stopped or wedged database must not hold a health probe (and the load balancer polling it) for long. */
export const DATABASE_PROBE_TIMEOUT_MS = 1_500;
/** How long one health report is served again before the next probe. */
export const HEALTH_CACHE_MS = 2_000;

@Injectable()
export class HealthService {
  private readonly version = packageVersion();
  private cached: { at: number; report: Promise<HealthReportDto> } | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly vllm: VllmService,
  ) {}

  info(): RootInfoDto {
    return {
      name: 'llm-gateway',
      version: this.version,
      links: {
        docs: '/docs',
        health: '/health',
        models: '/v1/models',
        chat_completions: '/v1/chat/completions',
        conversations: '/v1/conversations',
        llm_configs: '/v1/llm-configs',
      },
    };
  }

  /**
   * The last report, reused for `HEALTH_CACHE_MS`: a load balancer polling every few hundred milliseconds, or anyone
   * hammering this public route, costs at most one database query and one probe per upstream per period. Concurrent
   * callers share the probe in flight.
   */
  check(): Promise<HealthReportDto> {
    const now = performance.now();
    if (this.cached === undefined || now - this.cached.at >= HEALTH_CACHE_MS) {
      this.cached = { at: now, report: this.probe() };
    }
    return this.cached.report;
  }

  /** Probes the database and every upstream's /health in parallel; never runs a completion. Never rejects. */
  private async probe(): Promise<HealthReportDto> {
    const [database, upstreams] = await Promise.all([this.probeDatabase(), this.vllm.health()]);
    const upstreamsDown = upstreams.filter((u) => u.status === 'down').length;
    let status: HealthStatus = 'ok';
    if (database.status === 'down' || upstreamsDown === upstreams.length) status = 'error';
    else if (upstreamsDown > 0) status = 'degraded';
    return { status, checks: { database, upstreams } };
  }

  private async probeDatabase(): Promise<DatabaseCheckDto> {
    const started = performance.now();
    const elapsed = (): number => Math.round(performance.now() - started);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`timeout after ${DATABASE_PROBE_TIMEOUT_MS} ms`)),
        DATABASE_PROBE_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([this.dataSource.query('SELECT 1'), timeout]);
      return { status: 'up', latency_ms: elapsed() };
    } catch (err) {
      return { status: 'down', latency_ms: elapsed(), error: describeError(err) };
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * The endpoint is public, so report the driver's error code (ECONNREFUSED, 57P03, ...) rather than a message that
 * may name hosts or databases; the message only when there is no code.
 */
function describeError(err: unknown): string {
  const source = err instanceof Error && 'driverError' in err ? err.driverError : err;
  if (typeof source === 'object' && source !== null && 'code' in source && typeof source.code === 'string') {
    return source.code;
  }
  return err instanceof Error ? err.message : String(err);
}
