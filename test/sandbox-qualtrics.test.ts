/**
 * Tests of the local Qualtrics stand-in over real HTTP on loopback: each test starts its own server
 * on a free port, and workflow tests add a small HTTP server as the Web Service target.
 */
import http from 'node:http';
import { close, listen, sleep } from '../sandbox/kit';
import {
  startQualtricsSandbox,
  type QualtricsSandbox,
  type QualtricsSandboxOptions,
  type WorkflowTask,
} from '../sandbox/qualtrics';

const API_TOKEN = 'sandbox-api-token';
const NOTICE = 'Request proxied. For faster response times, use this host instead: fra1.qualtrics.com';
const TRANSACTION_DATE = '2025-01-15 10:00:00';
const IN_ONE_WEEK = () => new Date(Date.now() + 7 * 86_400_000).toISOString();

type Json = any;

let sandbox: QualtricsSandbox | undefined;
const targets: WorkflowTarget[] = [];

afterEach(async () => {
  await sandbox?.close();
  sandbox = undefined;
  for (const target of targets.splice(0)) await target.close();
});

async function start(options: QualtricsSandboxOptions = {}): Promise<QualtricsSandbox> {
  sandbox = await startQualtricsSandbox(options);
  return sandbox;
}

function current(): QualtricsSandbox {
  if (!sandbox) throw new Error('Sandbox not started: call start() first');
  return sandbox;
}

// --- HTTP helpers ---

interface Answer {
  status: number;
  body: Json;
  headers: Headers;
}

/** Calls `path` under /API/v3/ (or a full URL) with the sandbox API token unless `headers` replace it. */
async function api(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = { 'x-api-token': API_TOKEN },
): Promise<Answer> {
  const url = path.startsWith('http') ? path : `${current().apiUrl}${path}`;
  const jsonHeaders: Record<string, string> = {};
  if (body !== undefined) jsonHeaders['content-type'] = 'application/json';
  const response = await fetch(url, {
    method,
    headers: { ...jsonHeaders, ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

function contactsPath(): string {
  return `directories/${current().directoryId}/mailinglists/${current().mailingListId}/contacts`;
}

async function createContact(extRef: string, fields: Record<string, unknown> = {}) {
  const answer = await api('POST', contactsPath(), { extRef, email: `${extRef}@example.com`, ...fields });
  expect(answer.status).toBe(200);
  return answer.body.result as { id: string; contactLookupId: string };
}

async function createContacts(count: number, prefix = 'EMARSYS-'): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 1; i <= count; i++) ids.push((await createContact(`${prefix}${i}`)).id);
  return ids;
}

/** Creates a transaction per contact, a batch of them and its distribution; returns the distribution id. */
async function createBatchDistribution(
  contactIds: string[],
  extra: Record<string, unknown> = {},
  transactionData: Record<string, string> = {},
): Promise<string> {
  const { directoryId, mailingListId, surveyId } = current();
  const transactions: Record<string, unknown> = {};
  contactIds.forEach((contactId, i) => {
    const data = transactionData;
    transactions[`t${i}`] = { contactId, mailingListId, transactionDate: TRANSACTION_DATE, data };
  });
  const created = await api('POST', `directories/${directoryId}/transactions`, transactions);
  expect(created.status).toBe(200);
  const createdTransactions: Record<string, { id: string }> = created.body.result.createdTransactions;
  const transactionIds = Object.values(createdTransactions).map(transaction => transaction.id);
  const batch = await api('POST', `directories/${directoryId}/transactionbatches`, {
    transactionIds,
    creationDate: new Date().toISOString(),
  });
  expect(batch.status).toBe(200);
  const distribution = await api('POST', 'distributions', {
    action: 'CreateTransactionBatchDistribution',
    transactionBatchId: batch.body.result.id,
    mailingListId,
    surveyId,
    linkType: 'Individual',
    description: 'NPS batch',
    expirationDate: IN_ONE_WEEK(),
    ...extra,
  });
  expect(distribution.status).toBe(200);
  return distribution.body.result.id;
}

/** Follows nextPage from the first links page to the last; returns every page and its nextPage. */
async function listAllLinks(
  distributionId: string,
): Promise<{ pages: Json[][]; nextPages: (string | null)[] }> {
  const pages: Json[][] = [];
  const nextPages: (string | null)[] = [];
  const { apiUrl, surveyId } = current();
  let url: string | null = `${apiUrl}distributions/${distributionId}/links?surveyId=${surveyId}`;
  while (url) {
    const answer = await api('GET', url);
    expect(answer.status).toBe(200);
    pages.push(answer.body.result.elements);
    nextPages.push(answer.body.result.nextPage);
    url = answer.body.result.nextPage;
  }
  return { pages, nextPages };
}

/** Creates one contact and a batch distribution for it; returns its personal link. */
async function firstLinkUrl(
  extRef = 'EMARSYS-1',
  embeddedData: Record<string, string> = {},
): Promise<string> {
  const contact = await createContact(extRef, { embeddedData });
  const distributionId = await createBatchDistribution([contact.id]);
  const { pages } = await listAllLinks(distributionId);
  return pages[0][0].link;
}

// --- workflow target ---

interface WorkflowTarget {
  url: string;
  bodies: unknown[];
  headers: http.IncomingHttpHeaders[];
  close(): Promise<void>;
}

/** Starts a loopback endpoint that responds to the n-th request with statuses[n] after delaysMs[n]. */
async function startWorkflowTarget(statuses: number[], delaysMs: number[] = []): Promise<WorkflowTarget> {
  const bodies: unknown[] = [];
  const headers: http.IncomingHttpHeaders[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const index = bodies.length;
    bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    headers.push(req.headers);
    if (delaysMs[index]) await sleep(delaysMs[index]);
    res.writeHead(statuses[Math.min(index, statuses.length - 1)]);
    res.end();
  });
  const { url } = await listen(server);
  const target = { url: `${url}/nps`, bodies, headers, close: () => close(server) };
  targets.push(target);
  return target;
}

// --- tests ---

describe('OAuth and authentication', () => {
  test('token grants bearer access', async () => {
    await start();
    const basic = Buffer.from('sandbox-client:sandbox-client-secret').toString('base64');
    const tokenResponse = await fetch(current().tokenUrl, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=manage:distributions%20read:survey_responses',
    });
    const token = await tokenResponse.json();
    expect(tokenResponse.status).toBe(200);
    expect(token.token_type).toBe('Bearer');
    expect(token.expires_in).toBe(3600);
    expect(token.scope).toBe('manage:distributions read:survey_responses');

    const whoami = await api('GET', 'whoami', undefined, { authorization: `Bearer ${token.access_token}` });
    expect(whoami.status).toBe(200);
    expect(whoami.body.result.datacenter).toBe('fra1');
    expect(whoami.body.meta.httpStatus).toBe('200 - OK');
    expect(whoami.body.meta.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('token rejects wrong client', async () => {
    await start();
    const basic = Buffer.from('sandbox-client:wrong').toString('base64');
    const response = await fetch(current().tokenUrl, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    expect(response.status).toBe(401);
    expect((await response.json()).error).toBe('invalid_client');
  });

  test('missing token returns 400', async () => {
    await start();
    const answer = await api('GET', 'whoami', undefined, {});
    expect(answer.status).toBe(400);
    expect(answer.body.meta.httpStatus).toBe('400 - Bad Request');
    expect(answer.body.meta.error.errorCode).toBe('ATP_2');
    expect(answer.body.meta.error.errorMessage).toMatch(/authorization/i);
  });

  test('wrong API token returns 401', async () => {
    await start();
    const answer = await api('GET', 'whoami', undefined, { 'x-api-token': 'not-the-token' });
    expect(answer.status).toBe(401);
    expect(answer.body.meta.httpStatus).toBe('401 - Unauthorized');
    expect(answer.body.meta.error.errorMessage).toBe('Unrecognized X-API-TOKEN.');
  });

  test('unknown bearer returns 401', async () => {
    await start();
    const answer = await api('GET', 'whoami', undefined, { authorization: 'Bearer made-up' });
    expect(answer.status).toBe(401);
    expect(answer.body.meta.error.errorCode).toBeDefined();
  });
});

describe('contacts', () => {
  test('create returns CID and CGC ids', async () => {
    await start();
    const result = await createContact('EMARSYS-100001', { firstName: 'Erika', language: 'DE' });
    expect(result.id).toMatch(/^CID_[A-Za-z0-9]{15}$/);
    expect(result.contactLookupId).toMatch(/^CGC_[A-Za-z0-9]{15}$/);
    const stored = current().contacts.get(result.id);
    expect(stored?.extRef).toBe('EMARSYS-100001');
    expect(stored?.mailingListId).toBe(current().mailingListId);
  });

  test('create deduplicates on extRef', async () => {
    await start();
    const first = await createContact('EMARSYS-7', { embeddedData: { campaignId: 'c1' } });
    const update = { firstName: 'Max', embeddedData: { invitationId: 'inv-1' } };
    const second = await createContact('EMARSYS-7', update);
    expect(second).toEqual(first);
    expect(current().contacts.size).toBe(1);
    const stored = current().contacts.get(first.id)!;
    expect(stored.embeddedData).toEqual({ campaignId: 'c1', invitationId: 'inv-1' });
    expect(stored.firstName).toBe('Max');
  });

  test('create without dedup makes duplicates', async () => {
    await start({ deduplicationCriteria: { externalDataReference: false } });
    const first = await createContact('EMARSYS-7');
    const second = await createContact('EMARSYS-7');
    expect(second.id).not.toBe(first.id);
    expect(current().contacts.size).toBe(2);
  });

  test('create rejects non-string embedded data', async () => {
    await start();
    const answer = await api('POST', contactsPath(), { extRef: 'EMARSYS-1', embeddedData: { score: 5 } });
    expect(answer.status).toBe(400);
    expect(answer.body.meta.httpStatus).toBe('400 - Bad Request');
    expect(answer.body.meta.error.errorMessage).toMatch(/embeddedData\.score/);
  });

  test('create rejects overlong embedded value', async () => {
    await start();
    const embeddedData = { a: 'x'.repeat(1025) };
    const answer = await api('POST', contactsPath(), { extRef: 'EMARSYS-1', embeddedData });
    expect(answer.status).toBe(400);
    expect(answer.body.meta.error.errorMessage).toMatch(/1024/);
  });

  test('create rejects unknown mailing list', async () => {
    await start();
    const path = `directories/${current().directoryId}/mailinglists/CG_UNKNOWN00000001/contacts`;
    const answer = await api('POST', path, { extRef: 'EMARSYS-1' });
    expect(answer.status).toBe(404);
    expect(answer.body.meta.httpStatus).toBe('404 - Not Found');
    expect(answer.body.meta.error.errorMessage).toMatch(/CG_UNKNOWN00000001/);
  });

  test('search finds contact by extRef', async () => {
    await start();
    const created = await createContact('EMARSYS-42');
    await createContact('EMARSYS-43');
    const path = `directories/${current().directoryId}/contacts/search`;
    const filter = { filterType: 'extRef', comparison: 'eq', value: 'EMARSYS-42' };
    const answer = await api('POST', path, { filter });
    expect(answer.status).toBe(200);
    expect(answer.body.result.elements).toHaveLength(1);
    expect(answer.body.result.elements[0].id).toBe(created.id);
    expect(answer.body.result.elements[0].externalDataReference).toBe('EMARSYS-42');
    expect(answer.body.result.nextPage).toBeNull();
  });

  test('search matches email ignoring case', async () => {
    await start();
    const created = await createContact('EMARSYS-42', { email: 'Erika.Muster@example.com' });
    const path = `directories/${current().directoryId}/contacts/search`;
    const filter = { filterType: 'email', comparison: 'eq', value: 'erika.muster@EXAMPLE.com' };
    const answer = await api('POST', path, { filter });
    expect(answer.body.result.elements.map((e: { id: string }) => e.id)).toEqual([created.id]);
  });

  test('unknown directory returns 404', async () => {
    await start();
    const answer = await api('GET', 'directories/POOL_UNKNOWN000001');
    expect(answer.status).toBe(404);
  });

  test('directory list shows dedup criteria', async () => {
    await start();
    const answer = await api('GET', 'directories');
    const directory = answer.body.result.elements[0];
    expect(directory.directoryId).toBe('POOL_SANDBOX00001');
    expect(directory.deduplicationCriteria).toEqual({
      email: false,
      firstName: false,
      lastName: false,
      externalDataReference: true,
      phone: false,
    });
  });
});

describe('transactions and distributions', () => {
  test('batch links page over 250 contacts', async () => {
    await start();
    const contactIds = await createContacts(250);
    const distributionId = await createBatchDistribution(contactIds);
    expect(distributionId).toMatch(/^EMD_[A-Za-z0-9]{15}$/);

    const { pages, nextPages } = await listAllLinks(distributionId);
    expect(pages.map(page => page.length)).toEqual([100, 100, 50]);
    expect(nextPages[0]).toMatch(new RegExp(`^${current().apiUrl}distributions/${distributionId}/links\\?`));
    expect(nextPages[0]).toContain('skipToken=');
    expect(nextPages[2]).toBeNull();
    const links = pages.flat();
    expect(new Set(links.map(link => link.link)).size).toBe(250);
    expect(new Set(links.map(link => link.externalDataReference)).size).toBe(250);
    expect(links.every(link => link.transactionId !== null)).toBe(true);
    expect(links.every(link => link.status === 'Email not sent')).toBe(true);
    expect(links[0].contactId).toMatch(/^CGC_/);
  });

  test('links cover only batch contacts', async () => {
    await start();
    const contactIds = await createContacts(5);
    const distributionId = await createBatchDistribution([contactIds[1], contactIds[3]]);
    const { pages } = await listAllLinks(distributionId);
    const extRefs = pages.flat().map(link => link.externalDataReference);
    expect(extRefs).toEqual(['EMARSYS-2', 'EMARSYS-4']);
  });

  test('links flag unsubscribed and over-frequency contacts', async () => {
    await start();
    const contactIds = await createContacts(3);
    current().markUnsubscribed('EMARSYS-1');
    current().markExceededFrequency('EMARSYS-2');
    const { pages } = await listAllLinks(await createBatchDistribution(contactIds));
    const [unsubscribed, overFrequency, normal] = pages[0];
    expect(unsubscribed.unsubscribed).toBe(true);
    expect(unsubscribed.exceededContactFrequency).toBe(false);
    expect(overFrequency.exceededContactFrequency).toBe(true);
    expect(normal.unsubscribed).toBe(false);
    expect(normal.exceededContactFrequency).toBe(false);
    expect(unsubscribed.link).toMatch(/Q_DL=/);
  });

  test('blocked links are null when configured', async () => {
    await start({ blockedContactLinks: 'null' });
    current().seedContact({ extRef: 'EMARSYS-9', unsubscribed: true });
    const contactIds = [...current().contacts.keys(), ...(await createContacts(1))];
    const { pages } = await listAllLinks(await createBatchDistribution(contactIds));
    expect(pages[0][0].link).toBeNull();
    expect(pages[0][1].link).toMatch(/Q_DL=/);
  });

  test('links show CID when configured', async () => {
    await start({ linkContactIdKind: 'CID' });
    const [contactId] = await createContacts(1);
    const { pages } = await listAllLinks(await createBatchDistribution([contactId]));
    expect(pages[0][0].contactId).toBe(contactId);
  });

  test('links reject wrong surveyId', async () => {
    await start();
    const distributionId = await createBatchDistribution(await createContacts(1));
    const other = current().addSurvey();
    const answer = await api('GET', `distributions/${distributionId}/links?surveyId=${other}`);
    expect(answer.status).toBe(400);
    expect(answer.body.meta.error.errorMessage).toMatch(other);
  });

  test('inactive survey returns 400', async () => {
    await start();
    const surveyId = current().addSurvey({ active: false });
    const answer = await api('POST', 'distributions', {
      action: 'CreateDistribution',
      surveyId,
      mailingListId: current().mailingListId,
      linkType: 'Individual',
      description: 'inactive',
      expirationDate: IN_ONE_WEEK(),
    });
    expect(answer.status).toBe(400);
    expect(answer.body.meta.error.errorMessage).toMatch(/not active/);
  });

  test('past expirationDate returns 400', async () => {
    await start();
    const contactIds = await createContacts(1);
    const { directoryId, mailingListId } = current();
    const transaction = { contactId: contactIds[0], mailingListId, transactionDate: TRANSACTION_DATE };
    const transactions = { t1: transaction };
    const created = await api('POST', `directories/${directoryId}/transactions`, transactions);
    const transactionIds = [created.body.result.createdTransactions.t1.id];
    const batch = await api('POST', `directories/${directoryId}/transactionbatches`, { transactionIds });
    const answer = await api('POST', 'distributions', {
      action: 'CreateTransactionBatchDistribution',
      transactionBatchId: batch.body.result.id,
      mailingListId,
      surveyId: current().surveyId,
      linkType: 'Individual',
      expirationDate: '2020-01-01T00:00:00Z',
    });
    expect(answer.status).toBe(400);
    expect(answer.body.meta.error.errorMessage).toMatch(/future/);
  });

  test('invalid linkType returns 400', async () => {
    await start();
    const answer = await api('POST', 'distributions', {
      action: 'CreateDistribution',
      surveyId: current().surveyId,
      mailingListId: current().mailingListId,
      linkType: 'Personal',
      expirationDate: IN_ONE_WEEK(),
    });
    expect(answer.status).toBe(400);
    expect(answer.body.meta.error.errorMessage).toMatch(/linkType/);
  });

  test('list distribution links every member', async () => {
    await start();
    await createContacts(3);
    const answer = await api('POST', 'distributions', {
      action: 'CreateDistribution',
      surveyId: current().surveyId,
      mailingListId: current().mailingListId,
      linkType: 'Individual',
      description: 'whole list',
      expirationDate: IN_ONE_WEEK(),
    });
    expect(answer.status).toBe(200);
    const { pages } = await listAllLinks(answer.body.result.id);
    expect(pages[0]).toHaveLength(3);
    expect(pages[0].every(link => link.transactionId === null)).toBe(true);
  });

  test('distribution list filters by surveyId', async () => {
    await start();
    const contactIds = await createContacts(1);
    const expectedId = await createBatchDistribution(contactIds, { description: 'invitation inv-77' });
    const otherSurvey = current().addSurvey();
    await createBatchDistribution(contactIds, { surveyId: otherSurvey, description: 'other survey' });

    const answer = await api('GET', `distributions?surveyId=${current().surveyId}`);
    expect(answer.status).toBe(200);
    expect(answer.body.result.elements).toHaveLength(1);
    expect(answer.body.result.elements[0].id).toBe(expectedId);
    expect(answer.body.result.elements[0].description).toBe('invitation inv-77');
    expect(answer.body.result.elements[0].surveyLink.surveyId).toBe(current().surveyId);
    expect(answer.body.result.nextPage).toBeNull();
  });

  test('transactions report unknown contact', async () => {
    await start();
    const [contactId] = await createContacts(1);
    const { directoryId, mailingListId } = current();
    const answer = await api('POST', `directories/${directoryId}/transactions`, {
      k1: { contactId, mailingListId, transactionDate: TRANSACTION_DATE, data: {} },
      k2: { contactId: 'CID_UNKNOWN00000001', mailingListId, transactionDate: TRANSACTION_DATE, data: {} },
    });
    expect(answer.status).toBe(200);
    expect(answer.body.result.createdTransactions.k1.id).toMatch(/^CTR_/);
    expect(Object.keys(answer.body.result.createdTransactions)).toEqual(['k1']);
    expect(answer.body.result.unprocessedTransactions.k2.errorMessage).toMatch(/CID_UNKNOWN00000001/);
  });

  test('batch rejects unknown transaction', async () => {
    await start();
    const path = `directories/${current().directoryId}/transactionbatches`;
    const answer = await api('POST', path, { transactionIds: ['CTR_UNKNOWN0000001'] });
    expect(answer.status).toBe(400);
  });
});

describe('limits, faults and datacenters', () => {
  test('rate limit returns 429', async () => {
    await start({ rateLimitPerMinute: 2 });
    expect((await api('GET', 'whoami')).status).toBe(200);
    expect((await api('GET', 'whoami')).status).toBe(200);
    const limited = await api('GET', 'whoami');
    expect(limited.status).toBe(429);
    expect(limited.body.meta.httpStatus).toBe('429 - Too Many Requests');
    expect(limited.body.meta.error.errorCode).toBeDefined();
    expect(limited.headers.get('retry-after')).toBeNull();
  });

  test('rate limit sends Retry-After when enabled', async () => {
    await start({ rateLimitPerMinute: 1, sendRetryAfter: true });
    await api('GET', 'whoami');
    const limited = await api('GET', 'whoami');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  test('injected 5xx carries instanceId', async () => {
    await start({ faults: { error5xxRate: 1 } });
    const answer = await api('GET', 'whoami');
    expect([500, 503, 504]).toContain(answer.status);
    expect(answer.body.meta.httpStatus).toMatch(new RegExp(`^${answer.status} - `));
    expect(answer.body.meta.error.errorCode).toBeDefined();
    expect(answer.body.meta.error.instanceId).toBeDefined();
  });

  test('injected 429 fault returns 429', async () => {
    await start({ faults: { rate429: 1 } });
    const answer = await api('GET', 'whoami');
    expect(answer.status).toBe(429);
  });

  test('wrong datacenter adds notice', async () => {
    await start({ datacenter: 'fra1', servedDatacenter: 'iad1' });
    const ok = await api('GET', 'whoami');
    expect(ok.body.meta.notice).toBe(NOTICE);
    const error = await api('GET', 'surveys/SV_UNKNOWN00000001');
    expect(error.status).toBe(404);
    expect(error.body.meta.notice).toBe(NOTICE);
  });

  test('home datacenter has no notice', async () => {
    await start();
    const answer = await api('GET', 'whoami');
    expect(answer.body.meta.notice).toBeUndefined();
  });

  test('unknown route returns 404 before auth', async () => {
    await start();
    const answer = await api('GET', 'no-such-resource', undefined, {});
    expect(answer.status).toBe(404);
  });
});

describe('respondents and workflow', () => {
  test('respond records NPS response', async () => {
    await start();
    const url = await firstLinkUrl('EMARSYS-5', { invitationId: 'inv-5' });
    const outcome = await current().respond(url, { nps: 9 });
    expect(outcome.rejected).toBeUndefined();
    expect(outcome.response?.responseId).toMatch(/^R_[A-Za-z0-9]{15}$/);

    const responseId = outcome.response!.responseId;
    const answer = await api('GET', `surveys/${current().surveyId}/responses/${responseId}`);
    expect(answer.status).toBe(200);
    const { values, labels, displayedValues } = answer.body.result;
    expect(values.QID1).toBe(9);
    expect(values.QID1_NPS_GROUP).toBe(3);
    expect(values.invitationId).toBe('inv-5');
    expect(values.externalDataReference).toBe('EMARSYS-5');
    expect(values.finished).toBe(1);
    expect(labels.QID1_NPS_GROUP).toBe('Promoter');
    expect(displayedValues.QID1_NPS_GROUP).toEqual([1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 3]);
  });

  test('workflow retries 503 then succeeds', async () => {
    await start();
    const target = await startWorkflowTarget([503, 200]);
    current().setWorkflow({ url: target.url, headers: { authorization: 'Basic d2ViaG9vazpzZWNyZXQ=' } });
    const url = await firstLinkUrl('EMARSYS-8', { invitationId: 'inv-8' });

    const outcome = await current().respond(url, { nps: 7 });
    expect(outcome.deliveries).toEqual([{ status: 200, attempts: 2 }]);
    expect(target.bodies).toHaveLength(2);
    expect(target.bodies[1]).toEqual({
      responseId: outcome.response!.responseId,
      surveyId: current().surveyId,
      invitationId: 'inv-8',
      extRef: 'EMARSYS-8',
      nps: '7',
      npsGroup: '2',
    });
    expect(target.headers[1].authorization).toBe('Basic d2ViaG9vazpzZWNyZXQ=');
    expect(target.headers[1]['content-type']).toBe('application/json');
  });

  test('workflow treats 4xx as final', async () => {
    await start();
    const target = await startWorkflowTarget([400, 200]);
    current().setWorkflow({ url: target.url });
    const outcome = await current().respond(await firstLinkUrl(), { nps: 3 });
    expect(outcome.deliveries).toEqual([{ status: 400, attempts: 1 }]);
    expect(target.bodies).toHaveLength(1);
  });

  test('workflow retries timeouts', async () => {
    await start();
    const target = await startWorkflowTarget([200], [500]);
    current().setWorkflow({ url: target.url, timeoutMs: 100 });
    const outcome = await current().respond(await firstLinkUrl(), { nps: 10 });
    expect(outcome.deliveries).toEqual([{ status: 200, attempts: 2 }]);
  });

  test('workflow stops after retryForMs', async () => {
    await start();
    const target = await startWorkflowTarget([503]);
    current().setWorkflow({ url: target.url, retryForMs: 500 });
    const outcome = await current().respond(await firstLinkUrl(), { nps: 10 });
    expect(outcome.deliveries).toEqual([{ status: 503, attempts: 2 }]);
  });

  test('deliverTwice posts the same body twice', async () => {
    await start();
    const target = await startWorkflowTarget([200]);
    current().setWorkflow({ url: target.url });
    const outcome = await current().respond(await firstLinkUrl(), { nps: '0', deliverTwice: true });
    expect(outcome.deliveries).toEqual([
      { status: 200, attempts: 1 },
      { status: 200, attempts: 1 },
    ]);
    expect(target.bodies[1]).toEqual(target.bodies[0]);
    expect(target.bodies[0]).toMatchObject({ nps: '0', npsGroup: '1' });
  });

  test('partial response sends empty nps', async () => {
    await start();
    const target = await startWorkflowTarget([200]);
    current().setWorkflow({ url: target.url });
    const outcome = await current().respond(await firstLinkUrl(), { nps: 8, partial: true });
    expect(target.bodies[0]).toMatchObject({ nps: '', npsGroup: '' });
    expect(outcome.response?.values.QID1).toBeUndefined();
    expect(outcome.response?.values.finished).toBe(0);
  });

  test('invitationId comes from transaction data', async () => {
    await start();
    const target = await startWorkflowTarget([200]);
    current().setWorkflow({ url: target.url });
    const [contactId] = await createContacts(1);
    const distributionId = await createBatchDistribution([contactId], {}, { invitationId: 'inv-tx' });
    const { pages } = await listAllLinks(distributionId);
    await current().respond(pages[0][0].link, { nps: 6 });
    expect(target.bodies[0]).toMatchObject({ invitationId: 'inv-tx', npsGroup: '1' });
  });

  test('second respond rejects used link', async () => {
    await start();
    const url = await firstLinkUrl();
    expect((await current().respond(url, { nps: 5 })).rejected).toBeUndefined();
    const second = await current().respond(url, { nps: 6 });
    expect(second.rejected).toBe('used');
    expect(second.response).toBeUndefined();
    expect(current().responses.size).toBe(1);
  });

  test('expired link is rejected', async () => {
    await start();
    const url = await firstLinkUrl();
    current().resolveLink(url)!.expiresAt = new Date(Date.now() - 1000).toISOString();
    expect((await current().respond(url, { nps: 5 })).rejected).toBe('expired');
  });

  test('unknown link is rejected', async () => {
    await start();
    const url = `${current().url}/jfe/form/${current().surveyId}?Q_DL=guessed`;
    expect((await current().respond(url, { nps: 5 })).rejected).toBe('unknown');
  });

  test('setWorkflow rejects non-loopback host', async () => {
    await start();
    const task: WorkflowTask = { url: 'http://192.0.2.10/nps' };
    expect(() => current().setWorkflow(task)).toThrow(/loopback/);
  });

  test('form page turns 410 after use', async () => {
    await start();
    const url = await firstLinkUrl();
    const open = await fetch(url);
    expect(open.status).toBe(200);
    expect(await open.text()).toContain('name="nps"');
    await current().respond(url, { nps: 9 });
    expect((await fetch(url)).status).toBe(410);
  });

  test('form post records answer', async () => {
    await start();
    const url = await firstLinkUrl();
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'nps=7',
    });
    expect(response.status).toBe(200);
    const [stored] = [...current().responses.values()];
    expect(stored.values.QID1).toBe(7);
  });
});

describe('admin endpoints and call log', () => {
  test('state counts stored objects', async () => {
    await start();
    const url = await firstLinkUrl();
    await current().respond(url, { nps: 9 });
    const state = await (await fetch(`${current().url}/__sandbox/state`)).json();
    expect(state).toMatchObject({ contacts: 1, links: 1, usedLinks: 1, distributions: 1, responses: 1 });
  });

  test('faults endpoint injects errors', async () => {
    await start();
    const posted = await fetch(`${current().url}/__sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ error5xxRate: 1 }),
    });
    expect(posted.status).toBe(200);
    expect([500, 503, 504]).toContain((await api('GET', 'whoami')).status);
  });

  test('options endpoint changes rate limit', async () => {
    await start();
    const posted = await fetch(`${current().url}/__sandbox/options`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rateLimitPerMinute: 1 }),
    });
    const body = await posted.json();
    expect(posted.status).toBe(200);
    expect(body.options.rateLimitPerMinute).toBe(1);
    expect(body.options.apiToken).toBeUndefined();
    await api('GET', 'whoami');
    expect((await api('GET', 'whoami')).status).toBe(429);
  });

  test('respond endpoint fires workflow', async () => {
    await start();
    const target = await startWorkflowTarget([200]);
    const post = (path: string, body: unknown) =>
      fetch(`${current().url}/__sandbox/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await post('workflow', { url: target.url })).status).toBe(200);
    const outcome = await (await post('respond', { url: await firstLinkUrl(), nps: 4 })).json();
    expect(outcome.deliveries).toEqual([{ status: 200, attempts: 1 }]);
    expect(target.bodies[0]).toMatchObject({ nps: '4', npsGroup: '1' });
  });

  test('call log omits query and counts links', async () => {
    await start();
    const distributionId = await createBatchDistribution(await createContacts(3));
    current().calls.clear();
    await listAllLinks(distributionId);
    const [entry] = current().calls.entries;
    expect(entry.operation).toBe('linksList');
    expect(entry.path).toBe(`/API/v3/distributions/${distributionId}/links`);
    expect(entry.status).toBe(200);
    expect(entry.items).toBe(3);
  });

  test('call log records error codes', async () => {
    await start();
    await api('GET', 'whoami', undefined, {});
    const [entry] = current().calls.entries;
    expect(entry.operation).toBe('whoami');
    expect(entry.status).toBe(400);
    expect(entry.code).toBe('ATP_2');
  });
});
