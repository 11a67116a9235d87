/**
 * Building blocks shared by the local Emarsys and Qualtrics stand-ins: loopback listening,
 * JSON bodies, a per-minute request window, injected faults and a call log.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Fault knobs; rates are probabilities between 0 and 1, times are milliseconds. */
export interface Faults {
  latencyMs: number;
  error5xxRate: number;
  rate429: number;
  stallRate: number;
  stallMs: number;
}

export const NO_FAULTS: Faults = { latencyMs: 0, error5xxRate: 0, rate429: 0, stallRate: 0, stallMs: 30_000 };

/** The outcome a request should get before the vendor logic runs. */
export type FaultDecision = 'none' | 'error5xx' | 'error429';

/** One request the stand-in handled. */
export interface CallRecord {
  at: number;
  method: string;
  /** Path without query string, so no token or secret lands in the log. */
  path: string;
  /** Short operation name such as `trigger` or `createDistribution`. */
  operation: string;
  status: number;
  /** Vendor error code: Emarsys replyCode or Qualtrics errorCode. */
  code?: string | number;
  items?: number;
  ms: number;
}

export class CallLog {
  readonly entries: CallRecord[] = [];

  add(record: CallRecord): void {
    this.entries.push(record);
  }

  count(filter: (record: CallRecord) => boolean = () => true): number {
    let total = 0;
    for (const record of this.entries) if (filter(record)) total++;
    return total;
  }

  /** Counts calls per operation, for summaries and benchmarks. */
  countByOperation(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const record of this.entries) counts[record.operation] = (counts[record.operation] ?? 0) + 1;
    return counts;
  }

  clear(): void {
    this.entries.length = 0;
  }
}

export interface WindowDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Unix time in seconds when the current window ends. */
  resetEpochSeconds: number;
}

/** Fixed one-minute request window per key (API user, brand). */
export class MinuteWindow {
  private windows = new Map<string, { start: number; used: number }>();

  constructor(public limit: number, private now: () => number = Date.now) {}

  take(key: string): WindowDecision {
    const now = this.now();
    let window = this.windows.get(key);
    if (!window || now - window.start >= 60_000) {
      window = { start: now, used: 0 };
      this.windows.set(key, window);
    }
    const resetEpochSeconds = Math.ceil((window.start + 60_000) / 1000);
    if (window.used >= this.limit) return { allowed: false, limit: this.limit, remaining: 0, resetEpochSeconds };
    window.used++;
    return { allowed: true, limit: this.limit, remaining: this.limit - window.used, resetEpochSeconds };
  }

  reset(): void {
    this.windows.clear();
  }
}

export class BodyTooLargeError extends Error {}

/** Reads the whole request body, rejecting bodies larger than `maxBytes`. */
export function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        reject(new BodyTooLargeError(`body larger than ${maxBytes} bytes`));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms));

/**
 * Applies latency and stalls, then draws whether this request gets an injected 5xx or 429.
 * The caller builds the vendor's error envelope for the returned decision.
 */
export async function applyFaults(faults: Faults): Promise<FaultDecision> {
  if (faults.latencyMs > 0) await sleep(faults.latencyMs);
  if (faults.stallRate > 0 && Math.random() < faults.stallRate) await sleep(faults.stallMs);
  if (faults.error5xxRate > 0 && Math.random() < faults.error5xxRate) return 'error5xx';
  if (faults.rate429 > 0 && Math.random() < faults.rate429) return 'error429';
  return 'none';
}

/** Starts `server` on loopback; port 0 picks a free port. */
export async function listen(server: http.Server, port = 0, host = '127.0.0.1'): Promise<{ url: string; port: number }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return { url: `http://${host}:${address.port}`, port: address.port };
}

/** Closes `server`, ending idle keep-alive connections so tests do not hang. */
export function close(server: http.Server): Promise<void> {
  return new Promise(resolve => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}
