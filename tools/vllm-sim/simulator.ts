// A vLLM OpenAI-compatible server stand-in for tests and benchmarks. It follows vLLM's contract (CONTRACT.md):
// same routes, status codes, error shapes, SSE framing and field sets, with simulated latency, queueing and faults.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Engine, sendJson, type PlannedFault, type UsageMode } from './engine.js';
import { embeddingToBase64, embedVector, planOutput } from './generation.js';
import { METRICS_CONTENT_TYPE, SimMetrics } from './metrics.js';
import { DEFAULT_OPTIONS, mergeOptions, OptionsError, parseFailureSpec, type ResolvedOptions } from './options.js';
import { embeddingsBody, errorBody, legacyErrorBody, modelsBody, randomHex } from './responses.js';
import {
  chatPromptTokenCount,
  chatPromptTokens,
  messageRole,
  messageText,
  textPromptTokenCount,
  textPromptTokens,
  tokenForId,
  tokenId,
} from './tokenizer.js';

export interface SimulatorOptions {
  /** 0 = ephemeral (default 8000 for the CLI, 0 for the API) */
  port?: number;
  /** default 127.0.0.1 */
  host?: string;
  /** default ['sim-model']; the first one is echoed as `model` in responses */
  servedModelNames?: string[];
  /** default 4096 */
  maxModelLen?: number;
  /** time to first token, default 0 */
  ttftMs?: number;
  /** inter-token latency, default 0 */
  itlMs?: number;
  /** 0..0.3 fraction applied to ttft/itl, default 0 */
  jitter?: number;
  /** default 'echo' (echoes the last user message text, token by token) */
  outputMode?: 'echo' | 'fixed' | 'random';
  /** for 'fixed' (and the mean for 'random'); default 16 */
  outputTokens?: number;
  /** for 'random' (deterministic); default 1 */
  seed?: number;
  /** max concurrently running requests; the excess waits in a queue like vLLM's scheduler; default 256 */
  maxNumSeqs?: number;
  /** fault injection for every generation request; the X-Sim-Fault header overrides it per request */
  failure?: FailureSpec | null;
  /** default 8 */
  embeddingDim?: number;
  /** like `vllm serve --api-key`: /v1/* then requires `Authorization: Bearer <key>` */
  apiKey?: string;
}

export type FailureSpec =
  | { kind: 'error_before_stream'; status: number; message?: string; type?: string; legacyShape?: boolean }
  | { kind: 'error_mid_stream'; afterTokens: number }
  | { kind: 'drop_connection'; afterTokens: number }
  | { kind: 'hang' };

export interface SimulatorCounters {
  inFlight: number;
  completed: number;
  aborted: number;
  received: number;
}

export interface ReceivedRequest {
  path: string;
  method: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  at: number;
}

export interface Simulator {
  readonly url: string;
  readonly port: number;
  counters(): SimulatorCounters;
  received(): ReceivedRequest[];
  resetStats(): void;
  configure(patch: Partial<SimulatorOptions>): void;
  close(): Promise<void>;
}

export const SIM_VERSION = '0.15.0-sim';

const RECEIVED_LOG_SIZE = 1000;
// Generous, but bounded: a runaway client must not exhaust the test process's memory.
const MAX_BODY_BYTES = 64 * 1024 * 1024;

const ERROR_TYPES: Record<number, string> = {
  400: 'BadRequestError',
  401: 'AuthenticationError',
  403: 'PermissionDeniedError',
  404: 'NotFoundError',
  408: 'RequestTimeoutError',
  409: 'ConflictError',
  413: 'RequestEntityTooLargeError',
  422: 'UnprocessableEntityError',
  429: 'RateLimitError',
  500: 'InternalServerError',
  501: 'NotImplementedError',
  502: 'BadGatewayError',
  503: 'ServiceUnavailableError',
  504: 'GatewayTimeoutError',
};

const DEFAULT_FAULT_MESSAGES: Record<number, string> = {
  500: 'Internal server error',
  503: 'The server is overloaded or not ready yet.',
};

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Python-repr-ish rendering of a rejected input, bounded like vLLM's validation handler does it. */
function summarizeInput(v: unknown): string {
  if (typeof v === 'string') return `'${v.length > 200 ? v.slice(0, 200) + '...[truncated]' : v}'`;
  if (Array.isArray(v)) return `<list of ${v.length} items>`;
  if (isRecord(v)) return `<dict of ${Object.keys(v).length} items>`;
  if (v === null || v === undefined) return 'None';
  return JSON.stringify(v);
}

function sendValidationError(res: ServerResponse, errors: string[], param: string | null = null): void {
  const label = errors.length === 1 ? 'error' : 'errors';
  const message = `${errors.length} validation ${label}:\n` + errors.map((e) => `  ${e}`).join('\n');
  sendJson(res, 400, errorBody(message, 'Bad Request', param, 400));
}

function missingField(res: ServerResponse, field: string, body: Json): void {
  sendValidationError(res, [
    `{'type': 'missing', 'loc': ('body', '${field}'), 'msg': 'Field required', 'input': ${summarizeInput(body)}}`,
  ]);
}

/** A VLLMValidationError raised by a pydantic validator: reported as 'Bad Request' with its parameter. */
function validatorError(res: ServerResponse, message: string, param: string, input: unknown): void {
  sendValidationError(
    res,
    [`{'type': 'value_error', 'loc': ('body',), 'msg': 'Value error, ${message}', 'input': ${summarizeInput(input)}}`],
    param,
  );
}

function badRequest(res: ServerResponse, message: string, param: string | null, value?: number): void {
  // VLLMValidationError.__str__ appends the parameter and value.
  const extras = [param === null ? null : `parameter=${param}`, value === undefined ? null : `value=${value}`].filter(
    (e) => e !== null,
  );
  const full = extras.length > 0 ? `${message} (${extras.join(', ')})` : message;
  sendJson(res, 400, errorBody(full, 'BadRequestError', param, 400));
}

function httpError(res: ServerResponse, status: 404 | 405): void {
  const phrase = status === 404 ? 'Not Found' : 'Method Not Allowed';
  sendJson(res, status, errorBody(phrase, phrase, null, status));
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function streamUsageMode(body: Json): UsageMode {
  const so = body.stream_options;
  if (!isRecord(so)) return 'none';
  // include_usage defaults to true in vLLM's model, unlike OpenAI: `stream_options: {}` turns usage on.
  const include = so.include_usage === undefined || so.include_usage === true;
  if (!include) return 'none';
  return so.continuous_usage_stats === true ? 'continuous' : 'final';
}

interface TokenLimit {
  limit: number;
}

class SimulatorServer implements Simulator {
  private opts: ResolvedOptions;
  private readonly server: Server;
  private readonly metrics = new SimMetrics();
  private readonly engine: Engine;
  private log: ReceivedRequest[] = [];
  private logStart = 0;
  private receivedCount = 0;
  private boundPort = 0;

  constructor(opts: ResolvedOptions) {
    this.opts = opts;
    this.engine = new Engine(() => this.opts, this.metrics);
    this.server = createServer({ noDelay: true, keepAlive: true }, (req, res) => this.onRequest(req, res));
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    const host = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    return `http://${host}:${this.boundPort}`;
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      // A deep backlog: benchmarks open thousands of connections at once.
      this.server.listen(this.opts.port, this.opts.host, 4096, () => {
        this.server.off('error', reject);
        this.boundPort = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  counters(): SimulatorCounters {
    return {
      inFlight: this.engine.inFlight,
      completed: this.engine.completed,
      aborted: this.engine.aborted,
      received: this.receivedCount,
    };
  }

  received(): ReceivedRequest[] {
    return this.log.slice(this.logStart).concat(this.log.slice(0, this.logStart));
  }

  resetStats(): void {
    this.engine.resetCounters();
    this.metrics.reset();
    this.log = [];
    this.logStart = 0;
    this.receivedCount = 0;
  }

  configure(patch: Partial<SimulatorOptions>): void {
    this.opts = mergeOptions(this.opts, patch, true);
    this.engine.drain();
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      // Destroying the sockets fires each response's 'close', which clears that request's timer.
      this.server.closeAllConnections();
    });
  }

  private record(path: string, req: IncomingMessage, body: unknown): void {
    const entry: ReceivedRequest = { path, method: req.method ?? 'GET', headers: req.headers, body, at: Date.now() };
    this.receivedCount++;
    if (this.log.length < RECEIVED_LOG_SIZE) {
      this.log.push(entry);
    } else {
      this.log[this.logStart] = entry;
      this.logStart = (this.logStart + 1) % RECEIVED_LOG_SIZE;
    }
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (req.method === 'GET' || req.method === 'HEAD') {
      this.onGet(path, req, res);
      return;
    }
    if (req.method !== 'POST') {
      httpError(res, 405);
      return;
    }
    let raw = '';
    let size = 0;
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.destroy();
        return;
      }
      raw += chunk;
    });
    req.on('end', () => this.onPost(path, req, res, raw));
    // A client that gives up while uploading; nothing to answer.
    req.on('error', () => undefined);
  }

  private isLogged(path: string): boolean {
    return path.startsWith('/v1/') || path === '/tokenize' || path === '/detokenize';
  }

  private authorized(path: string, req: IncomingMessage): boolean {
    const key = this.opts.apiKey;
    return key === null || !path.startsWith('/v1') || req.headers.authorization === `Bearer ${key}`;
  }

  private onGet(path: string, req: IncomingMessage, res: ServerResponse): void {
    if (this.isLogged(path)) this.record(path, req, null);
    if (!this.authorized(path, req)) {
      sendJson(res, 401, '{"error":"Unauthorized"}');
      return;
    }
    switch (path) {
      case '/health':
      case '/ping':
        res.writeHead(200, { 'content-length': 0 });
        res.end();
        return;
      case '/version':
        sendJson(res, 200, JSON.stringify({ version: SIM_VERSION }));
        return;
      case '/load':
        sendJson(res, 200, JSON.stringify({ server_load: this.engine.inFlight }));
        return;
      case '/v1/models':
        sendJson(res, 200, modelsBody(this.opts.servedModelNames, this.opts.maxModelLen, nowSeconds()));
        return;
      case '/metrics': {
        const body = this.metrics.render({
          modelName: this.modelName(),
          running: this.engine.running,
          waiting: this.engine.waiting,
          kvCacheUsage: this.engine.kvCacheUsage(),
          inFlight: this.engine.inFlight,
          completed: this.engine.completed,
          aborted: this.engine.aborted,
          failed: this.engine.failed,
          received: this.receivedCount,
        });
        res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      case '/sim/stats':
        sendJson(res, 200, JSON.stringify(this.counters()));
        return;
      case '/sim/config':
        sendJson(res, 200, JSON.stringify(this.publicOptions()));
        return;
      default:
        httpError(res, POST_ROUTES.has(path) ? 405 : 404);
    }
  }

  private onPost(path: string, req: IncomingMessage, res: ServerResponse, raw: string): void {
    let body: unknown = undefined;
    let parseError: string | null = null;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch (e) {
        parseError = e instanceof Error ? e.message : String(e);
      }
    }
    if (this.isLogged(path)) this.record(path, req, parseError === null ? (body ?? null) : raw);
    if (!this.authorized(path, req)) {
      sendJson(res, 401, '{"error":"Unauthorized"}');
      return;
    }
    if (path === '/ping') {
      res.writeHead(200, { 'content-length': 0 });
      res.end();
      return;
    }
    if (path === '/sim/config' || path === '/sim/reset') {
      this.onSimControl(path, res, body, parseError);
      return;
    }
    if (!POST_ROUTES.has(path)) {
      httpError(res, GET_ROUTES.has(path) ? 405 : 404);
      return;
    }
    const mediaType = (header(req, 'content-type') ?? '').split(';', 1)[0]?.trim().toLowerCase();
    if (mediaType !== 'application/json') {
      sendValidationError(res, ["Unsupported Media Type: Only 'application/json' is allowed"]);
      return;
    }
    if (parseError !== null) {
      const pos = /position (\d+)/.exec(parseError)?.[1] ?? '0';
      sendValidationError(res, [
        `{'type': 'json_invalid', 'loc': ('body', ${pos}), 'msg': 'JSON decode error', 'input': {}, 'ctx': {'error': 'Expecting value'}}`,
      ]);
      return;
    }
    if (!isRecord(body)) {
      const err =
        body === undefined
          ? `{'type': 'missing', 'loc': ('body',), 'msg': 'Field required', 'input': None}`
          : `{'type': 'model_attributes_type', 'loc': ('body',), 'msg': 'Input should be a valid dictionary or object to extract fields from', 'input': ${summarizeInput(body)}}`;
      sendValidationError(res, [err]);
      return;
    }
    switch (path) {
      case '/v1/chat/completions':
        this.onChat(req, res, body);
        return;
      case '/v1/completions':
        this.onCompletion(req, res, body);
        return;
      case '/v1/embeddings':
        this.onEmbeddings(req, res, body);
        return;
      case '/tokenize':
        this.onTokenize(res, body);
        return;
      case '/detokenize':
        this.onDetokenize(res, body);
        return;
    }
  }

  private onSimControl(path: string, res: ServerResponse, body: unknown, parseError: string | null): void {
    if (path === '/sim/reset') {
      this.resetStats();
      sendJson(res, 200, JSON.stringify(this.counters()));
      return;
    }
    if (parseError !== null) {
      sendJson(res, 400, JSON.stringify({ error: `malformed JSON: ${parseError}` }));
      return;
    }
    try {
      this.opts = mergeOptions(this.opts, body ?? {}, true);
      this.engine.drain();
    } catch (e) {
      if (!(e instanceof OptionsError)) throw e;
      sendJson(res, 400, JSON.stringify({ error: e.message }));
      return;
    }
    sendJson(res, 200, JSON.stringify(this.publicOptions()));
  }

  private publicOptions(): ResolvedOptions {
    return { ...this.opts, port: this.boundPort, apiKey: this.opts.apiKey === null ? null : '***' };
  }

  private modelName(): string {
    return this.opts.servedModelNames[0] ?? 'sim-model';
  }

  /** vLLM's _check_model: absent, null or empty means the first served name. Sends the 404 and returns false. */
  private checkModel(res: ServerResponse, body: Json): boolean {
    const model = body.model;
    if (model === undefined || model === null || model === '') return true;
    if (typeof model !== 'string') {
      sendValidationError(res, [
        `{'type': 'string_type', 'loc': ('body', 'model'), 'msg': 'Input should be a valid string', 'input': ${summarizeInput(model)}}`,
      ]);
      return false;
    }
    if (this.opts.servedModelNames.includes(model)) return true;
    sendJson(res, 404, errorBody(`The model \`${model}\` does not exist.`, 'NotFoundError', 'model', 404));
    return false;
  }

  /** The pydantic-level checks shared by chat and completions; sends the error and returns false on failure. */
  private checkStreamOptions(res: ServerResponse, body: Json): boolean {
    // Python truthiness: `stream_options: {}` with stream false passes vLLM's validator.
    const so = body.stream_options;
    if (isRecord(so) && Object.keys(so).length > 0 && body.stream !== true) {
      validatorError(res, 'Stream options can only be defined when `stream=True`.', 'stream_options', body);
      return false;
    }
    const n = body.n;
    if (n !== undefined && n !== null && n !== 1) {
      badRequest(res, 'The vLLM simulator supports only n=1.', 'n', typeof n === 'number' ? n : undefined);
      return false;
    }
    return true;
  }

  private checkContext(res: ServerResponse, promptTokens: number): boolean {
    const max = this.opts.maxModelLen;
    if (promptTokens < max) return true;
    badRequest(
      res,
      `This model's maximum context length is ${max} tokens. However, your request has ${promptTokens} input tokens. ` +
        'Please reduce the length of the input messages.',
      'input_tokens',
      promptTokens,
    );
    return false;
  }

  /** Validates max_tokens against the remaining context; returns the effective generation limit or null (sent). */
  private tokenLimit(res: ServerResponse, requested: unknown, field: string, promptTokens: number): TokenLimit | null {
    const max = this.opts.maxModelLen;
    const room = max - promptTokens;
    if (requested === undefined || requested === null) return { limit: room };
    if (typeof requested !== 'number' || !Number.isInteger(requested)) {
      sendValidationError(res, [
        `{'type': 'int_type', 'loc': ('body', '${field}'), 'msg': 'Input should be a valid integer', 'input': ${summarizeInput(requested)}}`,
      ]);
      return null;
    }
    if (requested < 1) {
      badRequest(res, `max_tokens must be at least 1, got ${requested}.`, 'max_tokens', requested);
      return null;
    }
    if (requested > room) {
      badRequest(
        res,
        `'max_tokens' or 'max_completion_tokens' is too large: ${requested}. This model's maximum context length is ` +
          `${max} tokens and your request has ${promptTokens} input tokens (${requested} > ${max} - ${promptTokens}).`,
        'max_tokens',
        requested,
      );
      return null;
    }
    return { limit: requested };
  }

  /** The fault for this request: X-Sim-Fault overrides the configured one. Sends a 400 and returns false if bad. */
  private faultFor(req: IncomingMessage, res: ServerResponse): FailureSpec | null | false {
    const h = header(req, 'x-sim-fault');
    if (h === undefined) return this.opts.failure;
    try {
      return parseFailureSpec(h);
    } catch (e) {
      badRequest(res, `Bad X-Sim-Fault header: ${e instanceof Error ? e.message : String(e)}`, null);
      return false;
    }
  }

  /** Handles the faults that act before the engine; returns the fault to plan for the job, or false if answered. */
  private preEngineFault(res: ServerResponse, fault: FailureSpec | null, count: number): PlannedFault | null | false {
    if (fault === null) return null;
    switch (fault.kind) {
      case 'error_before_stream': {
        const type = fault.type ?? ERROR_TYPES[fault.status] ?? 'InternalServerError';
        const message = fault.message ?? DEFAULT_FAULT_MESSAGES[fault.status] ?? `Simulated error ${fault.status}`;
        const body = fault.legacyShape
          ? legacyErrorBody(message, type, null, fault.status)
          : errorBody(message, type, null, fault.status);
        this.engine.failed++;
        sendJson(res, fault.status, body);
        return false;
      }
      case 'hang':
        this.engine.hang(res);
        return false;
      case 'drop_connection':
        if (fault.afterTokens === 0) {
          this.engine.failed++;
          res.destroy();
          return false;
        }
        return { kind: 'drop', at: Math.min(fault.afterTokens, count) };
      case 'error_mid_stream':
        return { kind: 'error', at: Math.min(fault.afterTokens, count) };
    }
  }

  private requestId(req: IncomingMessage, body: Json): string {
    const fromHeader = header(req, 'x-request-id');
    if (fromHeader !== undefined && fromHeader !== '') return fromHeader;
    return typeof body.request_id === 'string' && body.request_id !== '' ? body.request_id : randomHex(16);
  }

  private onChat(req: IncomingMessage, res: ServerResponse, body: Json): void {
    const messages = body.messages;
    if (messages === undefined) return missingField(res, 'messages', body);
    if (!Array.isArray(messages)) {
      return sendValidationError(res, [
        `{'type': 'list_type', 'loc': ('body', 'messages'), 'msg': 'Input should be a valid list', 'input': ${summarizeInput(messages)}}`,
      ]);
    }
    if (!this.checkStreamOptions(res, body) || !this.checkModel(res, body)) return;
    const promptTokens = chatPromptTokenCount({
      messages,
      tools: body.tools,
      addGenerationPrompt: body.add_generation_prompt !== false,
    });
    if (!this.checkContext(res, promptTokens)) return;
    const requested = body.max_completion_tokens ?? body.max_tokens;
    const field =
      body.max_completion_tokens !== undefined && body.max_completion_tokens !== null
        ? 'max_completion_tokens'
        : 'max_tokens';
    const limit = this.tokenLimit(res, requested, field, promptTokens);
    if (limit === null) return;
    let source: unknown = messages[messages.length - 1];
    for (let i = messages.length - 1; i >= 0; i--) {
      if (messageRole(messages[i]) === 'user') {
        source = messages[i];
        break;
      }
    }
    this.generate(req, res, body, 'chat', promptTokens, limit.limit, messageText(source));
  }

  private onCompletion(req: IncomingMessage, res: ServerResponse, body: Json): void {
    let prompt = body.prompt;
    if (Array.isArray(prompt) && prompt.length === 1 && (typeof prompt[0] === 'string' || Array.isArray(prompt[0]))) {
      prompt = prompt[0];
    }
    const emptyPrompt = prompt === undefined || prompt === null || prompt === '';
    if (emptyPrompt) {
      return validatorError(res, 'Either prompt or prompt_embeds must be provided and non-empty.', 'prompt', body);
    }
    let text: string;
    let promptTokens: number;
    if (typeof prompt === 'string') {
      text = prompt;
      promptTokens = textPromptTokenCount(prompt, body.add_special_tokens !== false);
    } else if (Array.isArray(prompt) && prompt.every((t) => typeof t === 'number' && Number.isInteger(t))) {
      text = (prompt as number[]).map((t) => tokenForId(t) ?? '').join('');
      promptTokens = prompt.length;
    } else {
      return badRequest(
        res,
        'The vLLM simulator supports a single prompt (a string or a list of token ids).',
        'prompt',
      );
    }
    if (!this.checkStreamOptions(res, body) || !this.checkModel(res, body)) return;
    if (!this.checkContext(res, promptTokens)) return;
    // Completions default to 16 tokens (an explicit null too), unlike chat.
    const limit = this.tokenLimit(res, body.max_tokens ?? 16, 'max_tokens', promptTokens);
    if (limit === null) return;
    this.generate(req, res, body, 'completion', promptTokens, limit.limit, text);
  }

  private generate(
    req: IncomingMessage,
    res: ServerResponse,
    body: Json,
    kind: 'chat' | 'completion',
    promptTokens: number,
    limit: number,
    sourceText: string,
  ): void {
    const o = this.opts;
    const plan = planOutput({
      mode: o.outputMode,
      sourceText,
      outputTokens: o.outputTokens,
      seed: o.seed,
      requestSeed: typeof body.seed === 'number' ? body.seed : null,
      limit,
    });
    const configured = this.faultFor(req, res);
    if (configured === false) return;
    const fault = this.preEngineFault(res, configured, plan.count);
    if (fault === false) return;
    const stream = body.stream === true;
    const id = (kind === 'chat' ? 'chatcmpl-' : 'cmpl-') + this.requestId(req, body);
    this.engine.submit({
      kind,
      res,
      stream,
      id,
      created: nowSeconds(),
      model: this.modelName(),
      promptTokens,
      tokens: plan.tokens,
      count: plan.count,
      finishReason: plan.finishReason,
      usage: stream ? streamUsageMode(body) : 'none',
      fault,
    });
  }

  private onEmbeddings(req: IncomingMessage, res: ServerResponse, body: Json): void {
    const input = body.input;
    if (input === undefined) return missingField(res, 'input', body);
    let items: (string | number[])[];
    if (typeof input === 'string') items = [input];
    else if (Array.isArray(input) && input.length > 0 && input.every((x) => typeof x === 'number')) {
      items = [input];
    } else if (
      Array.isArray(input) &&
      input.length > 0 &&
      input.every((x) => typeof x === 'string' || (Array.isArray(x) && x.every((t) => typeof t === 'number')))
    ) {
      items = input;
    } else {
      return sendValidationError(res, [
        `{'type': 'union_type', 'loc': ('body', 'input'), 'msg': 'Input should be a string or a non-empty list of strings or token ids', 'input': ${summarizeInput(input)}}`,
      ]);
    }
    if (!this.checkModel(res, body)) return;
    let promptTokens = 0;
    for (const item of items) {
      const n = typeof item === 'string' ? textPromptTokenCount(item) : item.length;
      if (!this.checkContext(res, n)) return;
      promptTokens += n;
    }
    const configured = this.faultFor(req, res);
    if (configured === false) return;
    const fault = this.preEngineFault(res, configured, 0);
    if (fault === false) return;
    const base64 = body.encoding_format === 'base64';
    const { embeddingDim, seed } = this.opts;
    const id = 'embd-' + this.requestId(req, body);
    const created = nowSeconds();
    const model = this.modelName();
    this.engine.submit({
      kind: 'embedding',
      res,
      id,
      created,
      model,
      promptTokens,
      fault,
      render: () => {
        const vectors = items.map((item) => {
          const v = embedVector(typeof item === 'string' ? item : item.join(','), embeddingDim, seed);
          return base64 ? embeddingToBase64(v) : v;
        });
        return embeddingsBody(id, created, model, vectors, promptTokens);
      },
    });
  }

  private onTokenize(res: ServerResponse, body: Json): void {
    let tokens: string[];
    if (body.messages !== undefined) {
      if (!Array.isArray(body.messages)) {
        return sendValidationError(res, [
          `{'type': 'list_type', 'loc': ('body', 'messages'), 'msg': 'Input should be a valid list', 'input': ${summarizeInput(body.messages)}}`,
        ]);
      }
      if (!this.checkModel(res, body)) return;
      tokens = chatPromptTokens({
        messages: body.messages,
        tools: body.tools,
        addGenerationPrompt: body.add_generation_prompt !== false,
      });
    } else {
      if (body.prompt === undefined) return missingField(res, 'prompt', body);
      if (typeof body.prompt !== 'string') {
        return sendValidationError(res, [
          `{'type': 'string_type', 'loc': ('body', 'prompt'), 'msg': 'Input should be a valid string', 'input': ${summarizeInput(body.prompt)}}`,
        ]);
      }
      if (!this.checkModel(res, body)) return;
      tokens = textPromptTokens(body.prompt, body.add_special_tokens !== false);
    }
    const ids = tokens.map(tokenId);
    sendJson(
      res,
      200,
      JSON.stringify({
        count: ids.length,
        max_model_len: this.opts.maxModelLen,
        tokens: ids,
        token_strs: body.return_token_strs === true ? tokens : null,
      }),
    );
  }

  private onDetokenize(res: ServerResponse, body: Json): void {
    const tokens = body.tokens;
    if (tokens === undefined) return missingField(res, 'tokens', body);
    if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'number' && Number.isInteger(t))) {
      return sendValidationError(res, [
        `{'type': 'list_type', 'loc': ('body', 'tokens'), 'msg': 'Input should be a valid list of integers', 'input': ${summarizeInput(tokens)}}`,
      ]);
    }
    if (!this.checkModel(res, body)) return;
    let prompt = '';
    for (const id of tokens as number[]) {
      const t = tokenForId(id);
      if (t === undefined) return badRequest(res, `Token id ${id} is out of vocabulary`, 'tokens');
      prompt += t;
    }
    sendJson(res, 200, JSON.stringify({ prompt }));
  }
}

const GET_ROUTES: ReadonlySet<string> = new Set([
  '/health',
  '/ping',
  '/version',
  '/load',
  '/v1/models',
  '/metrics',
  '/sim/stats',
  '/sim/config',
]);
const POST_ROUTES: ReadonlySet<string> = new Set([
  '/ping',
  '/v1/chat/completions',
  '/v1/completions',
  '/v1/embeddings',
  '/tokenize',
  '/detokenize',
  '/sim/config',
  '/sim/reset',
]);

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const sim = new SimulatorServer(mergeOptions(DEFAULT_OPTIONS, options, false));
  await sim.listen();
  return sim;
}
