import http from 'node:http';
import https from 'node:https';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** Error code of a TCP connect that did not complete in time; a connection failure like ECONNREFUSED. */
export const CONNECT_TIMEOUT_CODE = 'ECONNECTTIMEOUT';

/**
 * Idle pooled sockets are closed before vLLM's uvicorn does it (its keep-alive timeout is 5 s), so a request rarely
 * lands on a socket the server is closing. The rare race left is retried by VllmService.
 */
const FREE_SOCKET_TIMEOUT_MS = 4_000;

interface AgentOptions {
  connectTimeoutMs: number;
  /** Pooled keep-alive connections (default); false for one-off connections. */
  keepAlive?: boolean;
}

/**
 * A connect timeout distinct from the response timeouts: node:http has none, and a total one would kill long streams.
 * The timer exists only while a new socket is connecting; reused keep-alive sockets never pay for it.
 */
function guardConnect(socket: Duplex | null | undefined, timeoutMs: number): void {
  if (!(socket instanceof Socket)) return;
  // Events are small writes that must leave at once; Nagle would hold them for the previous ACK.
  socket.setNoDelay(true);
  if (!socket.connecting) return;
  const timer = setTimeout(() => {
    const err = Object.assign(new Error(`connect timeout after ${timeoutMs} ms`), { code: CONNECT_TIMEOUT_CODE });
    socket.destroy(err);
  }, timeoutMs);
  const clear = (): void => clearTimeout(timer);
  socket.once('connect', clear);
  socket.once('close', clear);
}

const poolOptions = {
  keepAlive: true,
  maxSockets: Infinity,
  maxFreeSockets: 1024,
  timeout: FREE_SOCKET_TIMEOUT_MS,
  // The most recently used socket is the least likely to have been closed by the server.
  scheduling: 'lifo',
} as const;

/**
 * The agent for one protocol: pooled keep-alive connections (or one-off ones with `keepAlive: false`) whose new
 * sockets get the connect timeout and TCP_NODELAY.
 */
export function createUpstreamAgent(protocol: 'http', opts: AgentOptions): http.Agent;
export function createUpstreamAgent(protocol: 'https', opts: AgentOptions): https.Agent;
export function createUpstreamAgent(protocol: 'http' | 'https', opts: AgentOptions): http.Agent {
  const options = opts.keepAlive === false ? { keepAlive: false } : poolOptions;
  const agent = protocol === 'https' ? new https.Agent(options) : new http.Agent(options);
  const createConnection = agent.createConnection.bind(agent);
  agent.createConnection = (connectOptions, callback) => {
    const socket = createConnection(connectOptions, callback);
    guardConnect(socket, opts.connectTimeoutMs);
    return socket;
  };
  return agent;
}
