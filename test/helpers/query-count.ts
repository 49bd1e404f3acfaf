import { jest } from '@jest/globals';
import { DataSource } from 'typeorm';
import type { RunningGateway } from './gateway.js';

/** The usage writer's batch INSERT and its retention DELETE (src/usage/usage.service.ts). */
const USAGE_WRITER_SQL = /^\s*(INSERT INTO|DELETE FROM) "usage_records"/;

/**
 * What `work` resolved with, and the number of SQL statements the gateway's data source ran meanwhile. TypeORM hands
 * every statement to its logger before running it, whatever the log settings, so a spy there sees them all without
 * touching the driver. The usage writer's statements are not counted: it writes queued rows in batches on its own
 * timer, off every request's path, so whether its tick falls inside `work` says nothing about the requests.
 */
export async function countQueries<T>(
  gateway: RunningGateway,
  work: () => Promise<T>,
): Promise<{ result: T; queries: number }> {
  const spy = jest.spyOn(gateway.app.get(DataSource).logger, 'logQuery');
  try {
    const result = await work();
    const queries = spy.mock.calls.filter(([sql]) => !USAGE_WRITER_SQL.test(sql)).length;
    return { result, queries };
  } finally {
    spy.mockRestore();
  }
}
