import { jest } from '@jest/globals';
import { DataSource } from 'typeorm';
import type { RunningGateway } from './gateway.js';

/**
 * What `work` resolved with, and the number of SQL statements the gateway's data source ran meanwhile. TypeORM hands
 * every statement to its logger before running it, whatever the log settings, so a spy there sees them all without
 * touching the driver.
 */
export async function countQueries<T>(
  gateway: RunningGateway,
  work: () => Promise<T>,
): Promise<{ result: T; queries: number }> {
  const spy = jest.spyOn(gateway.app.get(DataSource).logger, 'logQuery');
  try {
    const result = await work();
    return { result, queries: spy.mock.calls.length };
  } finally {
    spy.mockRestore();
  }
}
