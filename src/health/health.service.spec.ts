import { describe, expect, it, jest } from '@jest/globals';
import { readFileSync } from 'node:fs';
import type { DataSource } from 'typeorm';
import type { VllmService } from '../vllm/vllm.service.js';
import type { UpstreamHealth } from '../vllm/vllm.types.js';
import { DATABASE_PROBE_TIMEOUT_MS, HealthService } from './health.service.js';

const up = (url: string): UpstreamHealth => ({ url, status: 'up', latency_ms: 1 });
const down = (url: string): UpstreamHealth => ({ url, status: 'down', latency_ms: 1, error: 'ECONNREFUSED' });

function service(query: () => Promise<unknown>, upstreams: UpstreamHealth[]): HealthService {
  // query() is generic in its row type, which jest.Mocked cannot express; these fakes ignore rows anyway.
  const dataSource: Pick<DataSource, 'query'> = { query: <T>() => query() as Promise<T> };
  const vllm: jest.Mocked<Pick<VllmService, 'health'>> = { health: jest.fn(() => Promise.resolve(upstreams)) };
  return new HealthService(dataSource as unknown as DataSource, vllm as unknown as VllmService);
}

const refused = (): Promise<never> =>
  Promise.reject(Object.assign(new Error('connect refused'), { code: 'ECONNREFUSED' }));

describe('HealthService', () => {
  it('reports the package version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(service(() => Promise.resolve([]), []).info()).toMatchObject({ name: 'llm-gateway', version: pkg.version });
  });

  it('is ok when the database and every upstream are up', async () => {
    const report = await service(() => Promise.resolve([{ '?column?': 1 }]), [up('http://a'), up('http://b')]).check();
    expect(report.status).toBe('ok');
    expect(report.checks.database).toEqual({ status: 'up', latency_ms: expect.any(Number) });
  });

  it('is degraded when some but not all upstreams are down', async () => {
    const report = await service(() => Promise.resolve([]), [up('http://a'), down('http://b')]).check();
    expect(report.status).toBe('degraded');
  });

  it('is an error when every upstream is down', async () => {
    const report = await service(() => Promise.resolve([]), [down('http://a'), down('http://b')]).check();
    expect(report.status).toBe('error');
  });

  it('is an error when the database is down, reporting the driver code only', async () => {
    const report = await service(refused, [up('http://a')]).check();
    expect(report.status).toBe('error');
    expect(report.checks.database).toEqual({ status: 'down', latency_ms: expect.any(Number), error: 'ECONNREFUSED' });
  });

  it('gives up on a database query that never answers', async () => {
    jest.useFakeTimers();
    try {
      const pending = service(() => new Promise(() => undefined), [up('http://a')]).check();
      await jest.advanceTimersByTimeAsync(DATABASE_PROBE_TIMEOUT_MS);
      const report = await pending;
      expect(report.checks.database).toMatchObject({
        status: 'down',
        error: `timeout after ${DATABASE_PROBE_TIMEOUT_MS} ms`,
      });
    } finally {
      jest.useRealTimers();
    }
  });
});
