/**
 * HTTP load on loopback with autocannon's programmatic API: one POST per request, each with its own
 * body, and every response handed to the caller so it can collect ids from the replies.
 */
import autocannon from 'autocannon';
import { progress } from '../lib/progress';
import { CpuAccount, type CpuShare } from './rss';

export interface LoadOptions {
  label: string;
  url: string;
  path: string;
  authorization: string;
  connections: number;
  /** Run for this many seconds... */
  durationSeconds?: number;
  /** ...or until this many responses arrived. */
  amount?: number;
  /** Builds the JSON body of the request with the given running number (0, 1, 2, ...). */
  body: (index: number) => string;
  onResponse?: (status: number, body: string, index: number) => void;
  /** Prints a progress line about every five seconds (default true). */
  showProgress?: boolean;
  /** Process id of the server under load. The result then reports its CPU time and that of the rest of the machine. */
  servicePid?: number;
}

export interface LoadResult {
  responses: number;
  /** Responses per HTTP status, for example { '202': 35120 }. */
  statusCounts: Record<string, number>;
  /** Connection errors and timeouts, after each of which autocannon opens a new connection. */
  errors: number;
  timeouts: number;
  durationSeconds: number;
  /** 2xx responses per second over the whole run. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  cpu?: CpuShare;
}

/** Runs autocannon with the given options. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  let next = 0;
  let responses = 0;
  const cpuAccount = options.servicePid ? new CpuAccount(options.servicePid) : undefined;
  const instance = autocannon({
    url: options.url,
    connections: options.connections,
    ...(options.amount ? { amount: options.amount } : { duration: options.durationSeconds ?? 30 }),
    timeout: 30,
    requests: [{
      method: 'POST',
      path: options.path,
      headers: { 'content-type': 'application/json', authorization: options.authorization },
      // With one request per connection in flight (pipelining 1), the context belongs to exactly one
      // request until its response arrived, so it carries the request's running number.
      setupRequest: (request, context) => {
        const index = next++;
        context.index = index;
        return { ...request, body: options.body(index) };
      },
      onResponse: (status, body, context) => {
        responses++;
        options.onResponse?.(status, body, context.index);
      }
    }]
  });
  const started = Date.now();
  let lastCount = 0;
  let lastAt = started;
  const ticker = setInterval(() => {
    if (options.showProgress === false) return;
    const now = Date.now();
    const rate = Math.round(((responses - lastCount) * 1000) / (now - lastAt));
    const target = options.amount ? `/${options.amount}` : '';
    progress(`  ${options.label}: ${responses}${target} responses, ${rate} req/s, ${Math.round((now - started) / 1000)} s`);
    lastCount = responses;
    lastAt = now;
  }, 5_000);
  let result: autocannon.Result;
  try {
    result = await instance;
  } finally {
    clearInterval(ticker);
  }
  const cpu = cpuAccount?.read();
  const statusCounts: Record<string, number> = {};
  for (const [status, { count }] of Object.entries(result.statusCodeStats ?? {})) statusCounts[status] = Number(count);
  const ok = Object.entries(statusCounts).filter(([status]) => status.startsWith('2')).reduce((sum, [, count]) => sum + count, 0);
  const durationSeconds = (result.finish.getTime() - result.start.getTime()) / 1000;
  return {
    responses: Object.values(statusCounts).reduce((sum, count) => sum + count, 0),
    statusCounts,
    errors: result.errors,
    timeouts: result.timeouts,
    durationSeconds,
    rps: ok / durationSeconds,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    cpu
  };
}
