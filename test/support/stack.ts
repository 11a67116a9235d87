/**
 * Test stack: the CAP service in-process on an in-memory database, and both stand-ins on loopback.
 * Call `useStack()` at the top level of a test file; it registers the jest hooks.
 */
import cds from '@sap/cds';
import path from 'node:path';
import { startEmarsysSandbox, type EmarsysSandbox, type EmarsysSandboxOptions } from '../../sandbox/emarsys';
import { startQualtricsSandbox, type QualtricsSandbox, type QualtricsSandboxOptions } from '../../sandbox/qualtrics';
import { mergeDeep } from '../../scripts/lib/service-process';
import { useSandboxDestinations, type EmarsysAuthKind, type QualtricsAuthKind } from '../../sandbox/destinations';

export const USERS = {
  webhook: { username: 'emarsys-webhook', password: 'webhook' },
  workflow: { username: 'qualtrics-workflow', password: 'workflow' },
  viewer: { username: 'viewer', password: 'viewer' },
  admin: { username: 'admin', password: 'admin' }
};

export interface StackOptions {
  /** Settings merged into `cds.surveyBridge`; tests default to small, fast batches. */
  bridge?: Record<string, unknown>;
  emarsys?: EmarsysSandboxOptions;
  qualtrics?: QualtricsSandboxOptions;
  emarsysAuth?: EmarsysAuthKind;
  qualtricsAuth?: QualtricsAuthKind;
}

export interface Stack {
  emarsys: EmarsysSandbox;
  qualtrics: QualtricsSandbox;
  url: string;
  /** POSTs JSON with Basic auth and returns status and body without throwing on 4xx or 5xx. */
  post(pathname: string, body: unknown, user?: { username: string; password: string }, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  get(pathname: string, user?: { username: string; password: string }): Promise<{ status: number; body: any }>;
}

const FAST_BRIDGE = {
  invitations: { batchSize: 50, flushAgeMs: 100, pollMs: 50 },
  scores: { batchSize: 50, flushAgeMs: 100, pollMs: 50 },
  upstream: { timeoutMs: 5_000, maxAttempts: 3, baseBackoffMs: 50, maxBackoffMs: 500 },
  rateBudgets: { emarsys: { perMinute: 0 }, qualtrics: { perMinute: 0 } }
};


export function useStack(options: StackOptions = {}): Stack {
  process.env.CDS_CONFIG = JSON.stringify({
    requires: { db: { kind: 'sqlite', credentials: { url: ':memory:' } } },
    surveyBridge: mergeDeep(FAST_BRIDGE, options.bridge ?? {}),
    log: { levels: { cds: 'warn', rest: 'warn' } }
  });
  const server = cds.test(path.join(__dirname, '..', '..'));
  const stack = {} as Stack;

  const request = async (method: string, pathname: string, body: unknown, user?: { username: string; password: string }, headers: Record<string, string> = {}) => {
    const auth: Record<string, string> = user ? { authorization: `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}` } : {};
    const response = await fetch(`${stack.url}${pathname}`, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...auth, ...headers } as Record<string, string>,
      body: serialize(body)
    });
    const text = await response.text();
    let parsed: any = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Plain-text responses such as "Unauthorized" stay strings.
    }
    return { status: response.status, body: parsed };
  };

  beforeAll(async () => {
    stack.emarsys = await startEmarsysSandbox(options.emarsys);
    stack.qualtrics = await startQualtricsSandbox(options.qualtrics);
    useSandboxDestinations(stack.emarsys, stack.qualtrics, { emarsys: options.emarsysAuth, qualtrics: options.qualtricsAuth });
    stack.url = (server as any).url;
  });

  afterAll(async () => {
    await stack.emarsys?.close();
    await stack.qualtrics?.close();
  });

  stack.post = (pathname, body, user = USERS.webhook, headers) => request('POST', pathname, body, user, headers);
  stack.get = (pathname, user = USERS.admin) => request('GET', pathname, undefined, user);
  return stack;
}

/** Sends strings as they are and serializes everything else as JSON. */
function serialize(body: unknown): string | undefined {
  if (body === undefined) return undefined;
  if (typeof body === 'string') return body;
  return JSON.stringify(body);
}

/** Polls `probe` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(probe: () => Promise<T> | T, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise(resolve => setTimeout(resolve, 50));
  }
}

/** Reads rows in a transaction of their own, as a test would through the database. */
export function rows(query: any): Promise<any[]> {
  return cds.tx(() => query);
}
