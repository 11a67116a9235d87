/**
 * The reference point for intake throughput: a minimal CAP project, generated into .run/bench-plain.
 * Its REST action does one INSERT per request, each in its own transaction, on a SQLite file. It runs
 * on the same @sap/cds, @cap-js/sqlite and Node.js as Survey Bridge, because Node.js resolves them
 * from the project's node_modules two folders up, and it uses mocked Basic authentication like the
 * webhook.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, freePort } from '../lib/service-process';
import { runLoad, type LoadResult } from './load';

const PROJECT = path.join(ROOT, '.run', 'bench-plain');
const SERVE = path.join(ROOT, 'node_modules', '@sap', 'cds', 'bin', 'serve.js');
/** `cds deploy` comes with @sap/cds-dk. */
const CDS_DK = path.join(ROOT, 'node_modules', '@sap', 'cds-dk', 'bin', 'cds.js');
const AUTHORIZATION = `Basic ${Buffer.from('bench:bench').toString('base64')}`;

const PACKAGE_JSON = {
  name: 'bench-plain-insert',
  private: true,
  dependencies: { '@sap/cds': '*', '@cap-js/sqlite': '*' },
  cds: {
    requires: {
      db: { kind: 'sqlite', credentials: { url: 'plain.sqlite' }, client: { timeout: 10_000 } },
      auth: { kind: 'mocked', users: { bench: { password: 'bench' }, '*': false } }
    },
    // Survey Bridge logs no line per REST request either.
    log: { levels: { rest: 'warn' } }
  }
};

const MODEL = `namespace bench;

entity Requests {
  key ID         : UUID;
  email          : String(255);
  receivedAt     : Timestamp;
}

@protocol: 'rest'
@path: '/plain'
@requires: 'authenticated-user'
service PlainService {
  type Receipt { ID : UUID; }
  action insertOne(email : String) returns Receipt;
}
`;

const HANDLER = `const cds = require('@sap/cds')

module.exports = class PlainService extends cds.ApplicationService {
  init() {
    this.on('insertOne', async req => {
      const ID = cds.utils.uuid()
      await INSERT.into('bench.Requests').entries({ ID, email: req.data.email, receivedAt: new Date().toISOString() })
      return { ID }
    })
    return super.init()
  }
}
`;

function writeProject(): void {
  fs.rmSync(PROJECT, { recursive: true, force: true });
  fs.mkdirSync(path.join(PROJECT, 'srv'), { recursive: true });
  fs.writeFileSync(path.join(PROJECT, 'package.json'), JSON.stringify(PACKAGE_JSON, null, 2));
  fs.writeFileSync(path.join(PROJECT, 'srv', 'plain-service.cds'), MODEL);
  fs.writeFileSync(path.join(PROJECT, 'srv', 'plain-service.js'), HANDLER);
}

const NODE_ENV = { ...process.env, NODE_OPTIONS: '--disable-warning=ExperimentalWarning' };

function deploy(logFile: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CDS_DK, 'deploy', '--to', 'sqlite:plain.sqlite'],
      { cwd: PROJECT, stdio: ['ignore', logFile, logFile], env: NODE_ENV });
    child.on('exit', code => (code === 0 ? resolve() : reject(new Error(`cds deploy of the plain-insert project exited with ${code}; see ${PROJECT}/service.log`))));
    child.on('error', reject);
  });
}

export interface PlainInsertResult {
  load: LoadResult;
  rows: number;
}

/** `nodeOptions` are the service's Node.js options, so both servers run with the same heap limit. */
export async function runPlainInsert(options: { connections: number; durationSeconds: number; warmupSeconds: number; nodeOptions?: string }): Promise<PlainInsertResult> {
  writeProject();
  const log = fs.openSync(path.join(PROJECT, 'service.log'), 'a');
  await deploy(log);
  const port = await freePort();
  const child = spawn(process.execPath, [SERVE, '--port', String(port)],
    { cwd: PROJECT, stdio: ['ignore', log, log], env: { ...NODE_ENV, NODE_OPTIONS: `${NODE_ENV.NODE_OPTIONS} ${options.nodeOptions ?? ''}`.trim() } });
  let exited = false;
  child.on('exit', () => (exited = true));
  const url = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (exited) throw new Error(`The plain-insert service exited during start; see ${PROJECT}/service.log`);
      try {
        const response = await fetch(`${url}/plain/insertOne`, {
          method: 'POST', headers: { 'content-type': 'application/json', authorization: AUTHORIZATION }, body: '{"email":"probe@example.org"}'
        });
        if (response.ok) break;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) throw new Error(`The plain-insert service did not start within 60 s; see ${PROJECT}/service.log`);
      await new Promise(resolve => setTimeout(resolve, 200));
    }
    let rows = 0;
    let load: LoadResult | undefined;
    for (const [name, seconds] of [['warm-up', options.warmupSeconds], ['plain insert', options.durationSeconds]] as const) {
      if (!seconds) continue;
      load = await runLoad({
        label: name, url, path: '/plain/insertOne', authorization: AUTHORIZATION,
        connections: options.connections, durationSeconds: seconds, servicePid: child.pid,
        body: index => JSON.stringify({ email: `plain-${name === 'warm-up' ? 'w' : 'm'}${index}@example.org` }),
        onResponse: status => {
          if (status === 200) rows++;
        }
      });
    }
    return { load: load!, rows };
  } finally {
    if (!exited) {
      await new Promise<void>(resolve => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    }
  }
}
