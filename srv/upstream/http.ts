/**
 * The one place where Survey Bridge sends HTTP requests to Emarsys and Qualtrics. Every attempt gets a
 * timeout and a round-trip record; transient failures are retried with capped exponential backoff.
 */
import cds from '@sap/cds';
import { executeHttpRequest } from '@sap-cloud-sdk/http-client';
import { timeout } from '@sap-cloud-sdk/resilience';
import type { Destination } from '@sap-cloud-sdk/connectivity';
import { bridgeConfig } from '../lib/config';
import { recordRoundTrip } from './round-trips';
import { acquireRateBudget } from './rate-budget';

const LOG = cds.log('upstream');

export type System = 'emarsys' | 'qualtrics';

export interface UpstreamRequest {
  system: System;
  operation: string;
  method: 'GET' | 'POST' | 'PUT';
  /** Path relative to the destination URL, without a leading slash. */
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  /** Number of contacts or invitations the call carries, for the audit trail. */
  itemCount?: number;
  batchId?: string;
  invitationId?: string;
  /** Default true; false turns off retries of transient failures. */
  retry?: boolean;
}

export interface UpstreamResponse<T = any> {
  status: number;
  body: T;
  headers: Record<string, string>;
  roundTripId: string;
  attempts: number;
}

/** Authentication of one system: headers per attempt, and a hook that reacts to a 401. */
export interface Authenticator {
  destination(): Promise<Destination>;
  /** Builds fresh auth headers; called once per attempt, so WSSE nonces are never reused. */
  headers(destination: Destination): Promise<Record<string, string>>;
  /**
   * Reacts to a 401: drops a cached token, or corrects the clock used for WSSE from the server's Date
   * header. Returns true when one more attempt with new credentials makes sense.
   */
  invalidate(destination: Destination, responseHeaders: Record<string, string>): boolean;
}

/** A failed upstream exchange; `retryable` is true when a later run may succeed. */
export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly system: System,
    readonly operation: string,
    readonly status: number | undefined,
    readonly code: string | undefined,
    readonly retryable: boolean,
    readonly body?: any,
    /** The round trip of the last attempt, when one was sent. */
    readonly roundTripId?: string
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

interface Attempt {
  status?: number;
  body?: any;
  headers: Record<string, string>;
  networkError?: Error;
}

/** Reads the vendor error code: Emarsys `replyCode`, Qualtrics `meta.error.errorCode`. */
export function upstreamCode(system: System, body: any): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  if (system === 'emarsys') return body.replyCode === undefined ? undefined : String(body.replyCode);
  return body.meta?.error?.errorCode;
}

function requestId(system: System, body: any, headers: Record<string, string>): string | undefined {
  if (system === 'qualtrics') return body?.meta?.requestId;
  return headers['x-request-id'];
}

/** 429, 5xx, timeouts and network errors are transient; every other status is final. */
export function isTransient(status: number | undefined): boolean {
  return status === undefined || status === 429 || status >= 500;
}

/**
 * Computes the wait before the next attempt. When the server names a time in X-RateLimit-Reset or
 * Retry-After, it waits until then; otherwise it uses exponential backoff with full jitter. Both are
 * capped at maxBackoffMs.
 */
export function retryDelayMs(attempt: number, headers: Record<string, string>, now = Date.now()): number {
  const { baseBackoffMs, maxBackoffMs } = bridgeConfig().upstream;
  const jitter = Math.random() * baseBackoffMs;
  const reset = Number(headers['x-ratelimit-reset']);
  if (Number.isFinite(reset) && reset > 0) return Math.min(maxBackoffMs, Math.max(0, reset * 1000 - now) + jitter);
  const retryAfter = headers['retry-after'];
  if (retryAfter) {
    const seconds = Number(retryAfter);
    const until = Number.isFinite(seconds) ? now + seconds * 1000 : Date.parse(retryAfter);
    if (Number.isFinite(until)) return Math.min(maxBackoffMs, Math.max(0, until - now) + jitter);
  }
  const exponential = Math.min(maxBackoffMs, baseBackoffMs * 2 ** (attempt - 1));
  return Math.random() * exponential;
}

const noticesSeen = new Set<string>();

/** Qualtrics names the brand's own datacenter in meta.notice when a request went to another one. */
function warnNoticeOnce(notice: string): void {
  if (noticesSeen.has(notice)) return;
  noticesSeen.add(notice);
  LOG.warn(`Qualtrics notice: ${notice}. Point the qualtrics destination at the host it names.`);
}

function lowerCaseHeaders(headers: any): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) result[name.toLowerCase()] = String(value);
  return result;
}

async function sendOnce(destination: Destination, request: UpstreamRequest, headers: Record<string, string>): Promise<Attempt> {
  const { timeoutMs } = bridgeConfig().upstream;
  // Only the URL and proxy settings of the destination are used; the authenticator sets every credential.
  const target = { url: destination.url!, proxyConfiguration: destination.proxyConfiguration, authentication: 'NoAuthentication' as const };
  try {
    const response = await executeHttpRequest(
      target,
      {
        method: request.method,
        url: request.path,
        params: request.query,
        data: request.body,
        headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
        middleware: [timeout(timeoutMs)]
      },
      // Emarsys and Qualtrics have no CSRF protection; a token fetch would cost calls and reuse WSSE nonces.
      { fetchCsrfToken: false }
    );
    return { status: response.status, body: response.data, headers: lowerCaseHeaders(response.headers) };
  } catch (error: any) {
    const response = error?.cause?.response ?? error?.response;
    if (response) return { status: response.status, body: response.data, headers: lowerCaseHeaders(response.headers) };
    return { headers: {}, networkError: error instanceof Error ? error : new Error(String(error)) };
  }
}

function describeFailure(request: UpstreamRequest, attempt: Attempt): string {
  if (attempt.networkError) return `${request.system} ${request.operation} failed: ${rootMessage(attempt.networkError)}`;
  const code = upstreamCode(request.system, attempt.body);
  const text = request.system === 'emarsys' ? attempt.body?.replyText : attempt.body?.meta?.error?.errorMessage;
  return `${request.system} ${request.operation} returned HTTP ${attempt.status}${code ? ` code ${code}` : ''}${text ? `: ${String(text).slice(0, 300)}` : ''}`;
}

function rootMessage(error: Error): string {
  let current: any = error;
  while (current?.cause instanceof Error) current = current.cause;
  return current?.message ?? String(error);
}

/**
 * Sends one request with retries of transient failures. Returns the 2xx response, or throws an
 * UpstreamError whose `retryable` flag is set when the last failure was transient.
 */
export async function callUpstream<T = any>(auth: Authenticator, request: UpstreamRequest): Promise<UpstreamResponse<T>> {
  const { maxAttempts } = bridgeConfig().upstream;
  const attemptsAllowed = request.retry === false ? 1 : maxAttempts;
  let tokenRefreshed = false;
  for (let attemptNumber = 1; ; attemptNumber++) {
    const destination = await auth.destination();
    await acquireRateBudget(request.system);
    const started = Date.now();
    const result = await sendOnce(destination, request, await auth.headers(destination));
    const durationMs = Date.now() - started;
    const code = upstreamCode(request.system, result.body);
    const ok = result.status !== undefined && result.status >= 200 && result.status < 300;
    const notice = request.system === 'qualtrics' ? result.body?.meta?.notice : undefined;
    if (notice) warnNoticeOnce(String(notice));
    const roundTripId = await recordRoundTrip({
      direction: 'outbound',
      system: request.system,
      operation: request.operation,
      method: request.method,
      path: request.path,
      httpStatus: result.status,
      upstreamCode: code,
      upstreamRequestId: requestId(request.system, result.body, result.headers),
      attempt: attemptNumber,
      durationMs,
      itemCount: request.itemCount,
      error: ok ? undefined : describeFailure(request, result),
      batch_ID: request.batchId,
      invitation_ID: request.invitationId
    });
    if (ok) return { status: result.status!, body: result.body, headers: result.headers, roundTripId, attempts: attemptNumber };

    const ids = { operation: request.operation, batch: request.batchId, invitation: request.invitationId, attempt: attemptNumber };
    // An expired OAuth token gets one fresh token, a skewed WSSE clock one corrected Created; an API
    // token does not change on retry.
    if (result.status === 401 && !tokenRefreshed && auth.invalidate(destination, result.headers)) {
      tokenRefreshed = true;
      LOG.warn(`${request.system} answered 401; retrying once with new credentials`, ids);
      attemptNumber--;
      continue;
    }
    const transient = isTransient(result.status);
    if (!transient || attemptNumber >= attemptsAllowed) {
      const message = describeFailure(request, result);
      LOG.error(message, ids);
      throw new UpstreamError(message, request.system, request.operation, result.status, code, transient, result.body, roundTripId);
    }
    const delay = retryDelayMs(attemptNumber, result.headers);
    LOG.warn(`${describeFailure(request, result)}; retrying in ${Math.round(delay)} ms`, ids);
    await new Promise(resolve => setTimeout(resolve, delay));
  }
}
