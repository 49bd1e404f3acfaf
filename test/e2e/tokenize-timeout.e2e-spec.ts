import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppError } from '../../src/common/errors/app-error.js';
import { VllmService } from '../../src/vllm/vllm.service.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';

/**
 * A vLLM that accepts `/tokenize` and never answers (the simulator's `hang` fault covers generation routes only):
 * token counting gives up after its own short bound and reports a timeout, not a client cancellation.
 */
describe('/tokenize on a wedged upstream (e2e)', () => {
  let wedged: Server;
  let gateway: RunningGateway;

  beforeAll(async () => {
    wedged = createServer((req) => req.resume());
    await new Promise<void>((resolve) => wedged.listen(0, '127.0.0.1', resolve));
    const { port } = wedged.address() as AddressInfo;
    // The generation timeout is far longer than the test: only tokenize's own bound can end the call.
    gateway = await startGateway({ VLLM_BASE_URL: `http://127.0.0.1:${port}`, VLLM_FIRST_BYTE_TIMEOUT_MS: '600000' });
  });

  afterAll(async () => {
    await gateway?.close();
    wedged.closeAllConnections();
    await new Promise((resolve) => wedged.close(resolve));
  });

  it('ends with a 504 gateway_timeout from its own bound', async () => {
    const vllm = gateway.app.get(VllmService);
    const failure = await vllm
      .tokenize({ model: 'sim-model', prompt: 'count me' }, { requestId: 'tokenize-timeout-1' })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(failure).toBeInstanceOf(AppError);
    expect(failure).toMatchObject({ code: 'gateway_timeout' });
    expect((failure as AppError).message).toMatch(/did not answer within 5000 ms/);
  }, 15_000);
});
