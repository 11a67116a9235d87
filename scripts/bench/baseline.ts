/**
 * The baseline: the per-contact pattern of an Integration Suite flow, played by the benchmark itself
 * against the same stand-ins, latency and rate limits as Survey Bridge. Each webhook call is handled
 * synchronously with four steps:
 *
 *   1. POST directories/{dir}/mailinglists/{list}/contacts   create the contact in the mailing list
 *   2. POST distributions (CreateDistribution)               generate links for the whole mailing list
 *   3. GET  distributions/{id}/links, following nextPage     list the links (100 a page) and pick the contact's
 *   4. POST event/{id}/trigger (one contact)                 trigger the Emarsys external event
 *
 * Step 3 reads one page per 100 contacts in the mailing list, so the calls per contact grow with the
 * number of contacts already handled. After a 429 the flow waits and sends the request again, like a
 * flow with a retry policy. It waits until the X-RateLimit-Reset or Retry-After time when the stand-in
 * sends one, else it backs off exponentially (1 s doubling up to 16 s, plus up to 0.5 s jitter).
 */
import { startEmarsysSandbox, type EmarsysSandbox } from '../../sandbox/emarsys';
import { startQualtricsSandbox, type QualtricsSandbox } from '../../sandbox/qualtrics';
import { SANDBOX_CREDENTIALS } from '../../sandbox/destinations';
import { progress } from '../lib/progress';
import { EMARSYS_LIMIT_PER_MINUTE, QUALTRICS_LIMIT_PER_MINUTE, contactEmail } from './campaign';

const EVENT_ID = '4711';
const EMAIL_FIELD = '3';
const LINK_VALIDITY_DAYS = 30;
const FIRST_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 16_000;

export interface BaselineOptions {
  latencyMs: number;
  /** Webhook calls the flow handles at the same time. */
  concurrency: number;
  /** Wall time after which a run stops. Contacts still in flight then do not count. */
  capSeconds: number;
}

export interface BaselineRun {
  contacts: number;
  completed: number;
  failed: number;
  capped: boolean;
  seconds: number;
  /** Every request the stand-ins logged, 429 responses and the OAuth token request included. */
  loggedCalls: number;
  /** Calls of completed contacts, their 429 responses included, plus the token request, per completed contact. */
  callsPerContact: number;
  /** Calls of completed contacts without 429 responses, per completed contact, which is the flow's structural cost. */
  successfulCallsPerContact: number;
  linkPagesPerContact: number;
  rateLimited: number;
  callsByOperation: Record<string, number>;
}

interface Counter {
  calls: number;
  rateLimited: number;
  linkPages: number;
}

class Aborted extends Error {}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Aborted());
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Aborted());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Wait before resending after a 429, in milliseconds. */
function retryDelayMs(headers: Headers, attempt: number): number {
  const jitter = Math.random() * 500;
  const reset = Number(headers.get('x-ratelimit-reset'));
  if (Number.isFinite(reset) && reset > 0) return Math.max(0, reset * 1000 - Date.now()) + jitter;
  const retryAfter = Number(headers.get('retry-after'));
  if (Number.isFinite(retryAfter) && retryAfter > 0) return retryAfter * 1000 + jitter;
  return Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (attempt - 1)) + jitter;
}

class IntegrationFlow {
  private accessToken = '';

  constructor(private readonly emarsys: EmarsysSandbox, private readonly qualtrics: QualtricsSandbox, private readonly signal: AbortSignal) {}

  /** Sends one request and sends it again after each 429. Returns the parsed JSON body of the 2xx response. */
  private async send(url: string, init: RequestInit, counter: Counter): Promise<any> {
    for (let attempt = 1; ; attempt++) {
      // The cap's signal is not passed to fetch: undici would add one abort listener per request to the
      // shared signal. A request in flight at the cap takes one stand-in latency, and its result is dropped.
      if (this.signal.aborted) throw new Aborted();
      const response = await fetch(url, init);
      counter.calls++;
      const text = await response.text();
      if (this.signal.aborted) throw new Aborted();
      if (response.status === 429) {
        counter.rateLimited++;
        await sleep(retryDelayMs(response.headers, attempt), this.signal);
        continue;
      }
      if (!response.ok) throw new Error(`${init.method} ${new URL(url).pathname} returned HTTP ${response.status}: ${text.slice(0, 200)}`);
      return JSON.parse(text);
    }
  }

  private qualtricsRequest(method: string, url: string, body: unknown, counter: Counter): Promise<any> {
    return this.send(url, {
      method,
      headers: { 'content-type': 'application/json', 'x-api-token': SANDBOX_CREDENTIALS.qualtricsApiToken },
      body: body === undefined ? undefined : JSON.stringify(body)
    }, counter);
  }

  /** Fetches the Emarsys OAuth token once, as the flow's OAuth2 client credentials artifact would. */
  async authenticate(counter: Counter): Promise<void> {
    const basic = Buffer.from(`${SANDBOX_CREDENTIALS.emarsysClientId}:${SANDBOX_CREDENTIALS.emarsysClientSecret}`).toString('base64');
    const token = await this.send(this.emarsys.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
      body: 'grant_type=client_credentials'
    }, counter);
    this.accessToken = token.access_token;
  }

  async inviteContact(email: string, counter: Counter): Promise<void> {
    const { qualtrics } = this;
    const listPath = `${qualtrics.apiUrl}directories/${qualtrics.directoryId}/mailinglists/${qualtrics.mailingListId}`;
    await this.qualtricsRequest('POST', `${listPath}/contacts`, { firstName: 'Bench', email, extRef: email, embeddedData: { campaign: 'NPS-SANDBOX' } }, counter);
    const expirationDate = new Date(Date.now() + LINK_VALIDITY_DAYS * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const distribution = await this.qualtricsRequest('POST', `${qualtrics.apiUrl}distributions`, {
      action: 'CreateDistribution', surveyId: qualtrics.surveyId, mailingListId: qualtrics.mailingListId,
      linkType: 'Individual', description: `Integration flow ${email}`, expirationDate
    }, counter);
    let pageUrl: string | null = `${qualtrics.apiUrl}distributions/${distribution.result.id}/links?surveyId=${qualtrics.surveyId}`;
    let link: string | undefined;
    while (pageUrl) {
      const page: any = await this.qualtricsRequest('GET', pageUrl, undefined, counter);
      counter.linkPages++;
      link ??= page.result.elements.find((element: any) => element.externalDataReference === email)?.link;
      pageUrl = page.result.nextPage;
    }
    if (!link) throw new Error(`The links of distribution ${distribution.result.id} contain no link for ${email}`);
    const reply = await this.send(`${this.emarsys.apiV3Url}event/${EVENT_ID}/trigger`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.accessToken}` },
      body: JSON.stringify({ key_id: EMAIL_FIELD, external_id: email, data: { survey_url: link } })
    }, counter);
    if (reply.replyCode !== 0) throw new Error(`Emarsys trigger for ${email} returned replyCode ${reply.replyCode}: ${reply.replyText}`);
  }
}

/** Runs the flow for `contacts` webhook calls against fresh stand-ins, or until the cap. */
export async function runBaseline(contacts: number, options: BaselineOptions): Promise<BaselineRun> {
  const emarsys = await startEmarsysSandbox({ faults: { latencyMs: options.latencyMs }, rateLimitPerMinute: EMARSYS_LIMIT_PER_MINUTE });
  const qualtrics = await startQualtricsSandbox({ faults: { latencyMs: options.latencyMs }, rateLimitPerMinute: QUALTRICS_LIMIT_PER_MINUTE });
  for (let index = 0; index < contacts; index++) emarsys.addContact({ [EMAIL_FIELD]: contactEmail(index) });
  const controller = new AbortController();
  const flow = new IntegrationFlow(emarsys, qualtrics, controller.signal);
  const started = Date.now();
  let capped = false;
  const cap = setTimeout(() => {
    capped = true;
    controller.abort();
  }, options.capSeconds * 1000);
  const done: Counter = { calls: 0, rateLimited: 0, linkPages: 0 };
  let completed = 0;
  let failed = 0;
  let lastCompletedAt = started;
  const ticker = setInterval(() => {
    const seconds = Math.round((Date.now() - started) / 1000);
    progress(`  baseline ${contacts}: ${completed}/${contacts} contacts, ${emarsys.calls.entries.length + qualtrics.calls.entries.length} calls, ` +
      `${emarsys.calls.count(call => call.status === 429) + qualtrics.calls.count(call => call.status === 429)} rejected with 429, ${seconds} s`);
  }, 5_000);
  try {
    const tokenCounter: Counter = { calls: 0, rateLimited: 0, linkPages: 0 };
    await flow.authenticate(tokenCounter);
    let next = 0;
    await Promise.all(Array.from({ length: options.concurrency }, async () => {
      while (!capped && next < contacts) {
        const email = contactEmail(next++);
        const counter: Counter = { calls: 0, rateLimited: 0, linkPages: 0 };
        try {
          await flow.inviteContact(email, counter);
        } catch (error) {
          if (error instanceof Aborted) return;
          failed++;
          console.error(`\nBaseline flow failed for ${email}: ${error instanceof Error ? error.message : String(error)}`);
          continue;
        }
        completed++;
        lastCompletedAt = Date.now();
        done.calls += counter.calls;
        done.rateLimited += counter.rateLimited;
        done.linkPages += counter.linkPages;
      }
    }));
    const callsByOperation: Record<string, number> = {};
    for (const [system, log] of [['emarsys', emarsys.calls], ['qualtrics', qualtrics.calls]] as const) {
      for (const [operation, count] of Object.entries(log.countByOperation())) callsByOperation[`${system} ${operation}`] = count;
    }
    return {
      contacts, completed, failed, capped,
      seconds: ((capped ? Date.now() : lastCompletedAt) - started) / 1000,
      loggedCalls: emarsys.calls.entries.length + qualtrics.calls.entries.length,
      callsPerContact: (done.calls + tokenCounter.calls) / completed,
      successfulCallsPerContact: (done.calls - done.rateLimited) / completed,
      linkPagesPerContact: done.linkPages / completed,
      rateLimited: emarsys.calls.count(call => call.status === 429) + qualtrics.calls.count(call => call.status === 429),
      callsByOperation
    };
  } finally {
    clearTimeout(cap);
    clearInterval(ticker);
    await emarsys.close();
    await qualtrics.close();
  }
}

/**
 * Linear model of the baseline's successful calls per contact, a + b·N, fitted by least squares to
 * the measured runs (N = contacts completed), and the completion time it implies for larger N.
 */
export interface BaselineModel {
  intercept: number;
  slope: number;
  callsPerContact(contacts: number): number;
  /**
   * Estimates the completion in seconds as the largest of three bounds. The Qualtrics rate-limit bound
   * counts all calls but the trigger, the Emarsys bound one trigger per contact, and the latency bound
   * the calls in sequence per contact with `concurrency` contacts at a time. A rate-limit bound counts
   * only when the calls exceed one minute's limit, because the first minute's window takes them at once.
   */
  completionSeconds(contacts: number): number;
}

export function fitBaseline(runs: BaselineRun[], options: BaselineOptions): BaselineModel {
  const points = runs.filter(run => run.completed > 0).map(run => ({ x: run.completed, y: run.successfulCallsPerContact }));
  if (points.length < 2) throw new Error('The baseline needs at least two measured sizes to fit its growth');
  const meanX = points.reduce((sum, point) => sum + point.x, 0) / points.length;
  const meanY = points.reduce((sum, point) => sum + point.y, 0) / points.length;
  const covariance = points.reduce((sum, point) => sum + (point.x - meanX) * (point.y - meanY), 0);
  const variance = points.reduce((sum, point) => sum + (point.x - meanX) ** 2, 0);
  const slope = covariance / variance;
  const intercept = meanY - slope * meanX;
  const callsPerContact = (contacts: number) => intercept + slope * contacts;
  return {
    intercept, slope, callsPerContact,
    completionSeconds: contacts => {
      const perContact = callsPerContact(contacts);
      const rateBound = (calls: number, limitPerMinute: number) => (calls > limitPerMinute ? (calls / limitPerMinute) * 60 : 0);
      const qualtricsBound = rateBound(contacts * (perContact - 1), QUALTRICS_LIMIT_PER_MINUTE);
      const emarsysBound = rateBound(contacts, EMARSYS_LIMIT_PER_MINUTE);
      const latencyBound = (contacts * perContact * options.latencyMs) / options.concurrency / 1000;
      return Math.max(qualtricsBound, emarsysBound, latencyBound);
    }
  };
}
