import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** Requests that sent `Expect: 100-continue` and have not been told to go on yet (entries go with their request). */
const awaiting = new WeakSet<IncomingMessage>();

/**
 * Leaves `Expect: 100-continue` to us instead of node, which answers it before any listener runs: the request goes
 * through the same 'request' listeners (the shutdown gate first), and whoever checks its access first (the chat fast
 * lane, or the access gate in front of Express' body parser) sends `100 Continue` once the request is admitted, so a
 * client without a valid key is refused before it uploads its body.
 */
export function deferContinue(server: Server): void {
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    awaiting.add(req);
    server.emit('request', req, res);
  });
}

/** Whether the client holds its body back until it is told to send it. */
export function awaitsContinue(req: IncomingMessage): boolean {
  return awaiting.has(req);
}

/** Tells a client that holds its body back to send it; once, whoever calls it first. */
export function sendContinue(req: IncomingMessage, res: ServerResponse): void {
  if (awaiting.delete(req)) res.writeContinue();
}
