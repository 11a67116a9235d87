/**
 * Starts Survey Bridge as a child process on a SQLite file, the way the demo, the chaos run and the
 * benchmark need it: a real process that can be killed and started again on the same database.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'node_modules', '.bin');

export interface ServiceOptions {
  /** SQLite file, relative to the project root. */
  database: string;
  port: number;
  /** Value of the `destinations` variable (JSON text). */
  destinations: string;
  /** Settings merged into `cds.surveyBridge`. */
  bridge?: Record<string, unknown>;
  /** Further cds settings, merged at the top level of CDS_CONFIG. */
  cds?: Record<string, unknown>;
  /** File that receives the service's output. */
  logFile: string;
  /** Extra Node.js options, such as --cpu-prof. */
  nodeOptions?: string;
  /**
   * Runs the deployable build in gen/srv (JavaScript, compiled model) instead of the TypeScript
   * sources. `npm run build` must have run before.
   */
  built?: boolean;
}

/** Folder of the deployable build that `npm run build` writes. */
export const BUILT_SERVICE = path.join(ROOT, 'gen', 'srv');

export interface ServiceProcess {
  child: ChildProcess;
  url: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Merges plain objects recursively; values of `extra` win. */
export function mergeDeep(base: Record<string, any>, extra: Record<string, any>): Record<string, any> {
  const result: Record<string, any> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const isObject = value && typeof value === 'object' && !Array.isArray(value);
    result[key] = isObject ? mergeDeep(base[key] ?? {}, value) : value;
  }
  return result;
}

/** Finds a free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function run(command: string, args: string[], logFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const log = fs.openSync(logFile, 'a');
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', log, log], env: { ...process.env, NODE_OPTIONS: '--disable-warning=ExperimentalWarning' } });
    child.on('exit', code => (code === 0 ? resolve() : reject(new Error(`${path.basename(command)} ${args.join(' ')} exited with ${code}; see ${logFile}`))));
    child.on('error', reject);
  });
}

/** Creates a fresh SQLite file with the schema and the seeded sandbox campaign. */
export async function deployDatabase(database: string, logFile: string): Promise<void> {
  const file = path.join(ROOT, database);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
  await run(path.join(BIN, 'cds'), ['deploy', '--to', `sqlite:${database}`], logFile);
}

/** Starts the service and resolves once its /health endpoint responds. */
export async function startService(options: ServiceOptions): Promise<ServiceProcess> {
  const log = fs.openSync(path.join(ROOT, options.logFile), 'a');
  const config = mergeDeep({
    requires: { db: { kind: 'sqlite', credentials: { url: path.resolve(ROOT, options.database) }, client: { timeout: 10_000 } } },
    surveyBridge: options.bridge ?? {}
  }, options.cds ?? {});
  // The server runs in this very child (no wrapper process), so a SIGKILL stops it at once.
  const serve = path.join(ROOT, 'node_modules', '@sap', 'cds', 'bin', 'serve.js');
  if (options.built && !fs.existsSync(path.join(BUILT_SERVICE, 'package.json'))) {
    throw new Error('gen/srv is missing; run `npm run build` first');
  }
  const { CDS_TYPESCRIPT: _inherited, ...parentEnv } = process.env;
  const child = spawn(process.execPath, [...(options.built ? [] : ['--import', 'tsx']), serve, '--port', String(options.port)], {
    cwd: options.built ? BUILT_SERVICE : ROOT,
    stdio: ['ignore', log, log],
    env: {
      ...parentEnv,
      ...(options.built ? {} : { CDS_TYPESCRIPT: 'true' }),
      BIND_HOST: '127.0.0.1',
      CDS_CONFIG: JSON.stringify(config),
      destinations: options.destinations,
      NODE_OPTIONS: ['--disable-warning=ExperimentalWarning', options.nodeOptions ?? ''].join(' ').trim()
    }
  });
  const url = `http://127.0.0.1:${options.port}`;
  let exited = false;
  child.on('exit', () => (exited = true));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`Survey Bridge exited during start; see ${options.logFile}`);
    try {
      const response = await fetch(`${url}/health`);
      if (response.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`Survey Bridge did not start within 60 s; see ${options.logFile}`);
    await new Promise(resolve => setTimeout(resolve, 200));
  }
  return {
    child,
    url,
    stop: (signal: NodeJS.Signals = 'SIGTERM') =>
      new Promise<void>(resolve => {
        if (exited) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      })
  };
}
