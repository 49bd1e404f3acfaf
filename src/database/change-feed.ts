import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import pg from 'pg';
import { AppConfig } from '../config/app-config.js';

/**
 * What other processes may have changed under this one's caches. Each name is a table whose writes a trigger
 * announces (migrations/1796118500000-ChangeNotifications.ts) on the PostgreSQL channel `llm_gateway_<name>`.
 */
export const CHANGE_CHANNELS = ['api_keys', 'llm_configs'] as const;
export type ChangeChannel = (typeof CHANGE_CHANNELS)[number];

/**
 * `row`: the row with this id was inserted, updated or deleted, by this process or another (after its commit).
 * `resync`: the feed was (re)connected, so notifications may have been missed: treat everything as changed.
 */
export type Change = { readonly kind: 'row'; readonly id: string } | { readonly kind: 'resync' };
export type ChangeHandler = (change: Change) => void | Promise<void>;

const PG_CHANNEL_PREFIX = 'llm_gateway_';
/** Reconnect attempts start quickly (a restart takes a second or two) and back off to this. */
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 2_000;
/** TCP keep-alive on the idle listening socket: a peer that vanished without closing it is noticed eventually. */
const KEEP_ALIVE_DELAY_MS = 10_000;

/**
 * The cross-process signals of DESIGN.md's scale-out: one dedicated connection per process, outside the pool (a
 * LISTEN lives as long as its session, and must not hold a pool slot or be handed to a query), that LISTENs on every
 * channel. A lost connection (a database restart, a network cut) is re-opened with back-off, and every subscriber then
 * gets a `resync`, since whatever was written meanwhile was announced to nobody. Features subscribe here and never
 * see `pg`.
 */
@Injectable()
export class ChangeFeed implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ChangeFeed.name);
  private readonly handlers = new Map<ChangeChannel, Set<ChangeHandler>>();
  private client: pg.Client | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectDelayMs = RECONNECT_MIN_MS;
  private connecting: Promise<void> | undefined;
  private stopped = false;
  /** Whether the loss of the connection has been logged, so an outage is one warning and one recovery line. */
  private lostLogged = false;

  constructor(private readonly config: AppConfig) {}

  /** Calls `handler` for each change on `channel`, and with `resync` after each (re)connection; returns the undo. */
  subscribe(channel: ChangeChannel, handler: ChangeHandler): () => void {
    let set = this.handlers.get(channel);
    if (set === undefined) this.handlers.set(channel, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  /** Whether the listening connection is up (changes made elsewhere reach this process at once). */
  get listening(): boolean {
    return this.client !== undefined;
  }

  /** Waits for the first connection so a process serves only once it hears changes; a failure only schedules retries. */
  async onModuleInit(): Promise<void> {
    await this.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    await this.connecting;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private connect(): Promise<void> {
    this.connecting ??= this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async open(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.config.databaseUrl,
      connectionTimeoutMillis: this.config.database.connectTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEP_ALIVE_DELAY_MS,
      application_name: 'llm-gateway-listener',
    });
    // Until it is ours, an error only fails the connect below; afterwards, it means the connection is lost.
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(CHANGE_CHANNELS.map((channel) => `LISTEN ${PG_CHANNEL_PREFIX}${channel}`).join('; '));
    } catch (err) {
      client.removeAllListeners();
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      if (!this.lostLogged) {
        this.lostLogged = true;
        this.logger.warn({ err }, 'cannot listen for changes from other processes; retrying');
      }
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    client.on('notification', (message) => this.dispatch(message.channel, message.payload ?? ''));
    this.client = client;
    this.reconnectDelayMs = RECONNECT_MIN_MS;
    if (this.lostLogged) {
      this.lostLogged = false;
      this.logger.log('listening for changes from other processes again; reloading cached keys and configs');
    }
    // Also after the first connect: a subscriber may have loaded before the LISTEN began.
    for (const channel of CHANGE_CHANNELS) this.emit(channel, { kind: 'resync' });
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.removeAllListeners('notification');
    if (this.stopped) return;
    if (!this.lostLogged) {
      this.lostLogged = true;
      this.logger.warn('lost the connection that listens for changes from other processes; reconnecting');
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer !== undefined) return;
    const delay = this.reconnectDelayMs;
    this.reconnectDelayMs = Math.min(delay * 2, RECONNECT_MAX_MS);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect();
    }, delay);
    this.reconnectTimer.unref();
  }

  private dispatch(pgChannel: string, payload: string): void {
    const channel = CHANGE_CHANNELS.find((name) => `${PG_CHANNEL_PREFIX}${name}` === pgChannel);
    if (channel !== undefined) this.emit(channel, { kind: 'row', id: payload });
  }

  private emit(channel: ChangeChannel, change: Change): void {
    for (const handler of this.handlers.get(channel) ?? []) {
      // A failing handler (its reload hit a database that just went away again) must not stop the others.
      Promise.resolve()
        .then(() => handler(change))
        .catch((err: unknown) => this.logger.warn({ err, channel }, 'a change handler failed'));
    }
  }
}
