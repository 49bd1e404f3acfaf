import { type Agent, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** Error code of a GET that had no complete answer in time; the connect timeout has its own code. */
export const GET_TIMEOUT_CODE = 'ETIMEDOUT';

export interface GetOptions {
  headers?: Record<string, string>;
  agent: Agent;
  /** Bounds the whole exchange, connect to last byte: these answers are small, so a slow one is a sick upstream. */
  timeoutMs: number;
}

export interface GetAnswer {
  status: number;
  body: Buffer;
}

/**
 * One GET to vLLM on node:http (health probes, model lists), resolved with the whole body. The relay's POSTs have
 * their own helper (`post`); both use the same agents, so the gateway has one HTTP client for vLLM.
 */
export function getBody(url: string, options: GetOptions): Promise<GetAnswer> {
  return new Promise((resolve, reject) => {
    const request = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, {
      method: 'GET',
      headers: options.headers,
      agent: options.agent,
    });
    const timer = setTimeout(() => {
      const err = Object.assign(new Error(`vLLM did not answer within ${options.timeoutMs} ms`), {
        code: GET_TIMEOUT_CODE,
      });
      // Rejects first: whatever error the destroyed socket reports afterwards must not replace the timeout.
      fail(err);
      request.destroy(err);
    }, options.timeoutMs);
    function fail(err: Error): void {
      clearTimeout(timer);
      reject(err);
    }
    request.on('error', fail);
    request.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', fail);
      res.on('close', () => {
        if (!res.complete) fail(new Error('vLLM closed the connection before the answer was complete'));
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) });
      });
    });
    request.end();
  });
}
