/**
 * Fault injection against the stand-ins: every case ends with each invitation in a final, correct
 * state, and the round trips and call counts show how it got there.
 */
import cds from '@sap/cds';
import { clearTokenCache } from '../srv/upstream/auth';
import { useSandboxDestinations, type SandboxCredentials } from '../sandbox/destinations';
import { rows, useStack, waitFor } from './support/stack';

const stack = useStack({ emarsys: { plain503Fraction: 0 } });
const { SELECT } = cds.ql;

let counter = 0;
const NO_FAULTS = { latencyMs: 0, error5xxRate: 0, rate429: 0, stallRate: 0, stallMs: 30_000 };

function useDestinations(kinds: { emarsys?: 'oauth' | 'wsse'; qualtrics?: 'token' | 'oauth' } = {}, overrides: SandboxCredentials = {}, tokenUrl?: string) {
  useSandboxDestinations(stack.emarsys, stack.qualtrics, kinds, overrides);
  if (tokenUrl) {
    const destinations = JSON.parse(process.env.destinations!);
    destinations[0].tokenServiceUrl = tokenUrl;
    process.env.destinations = JSON.stringify(destinations);
  }
  clearTokenCache();
}

afterEach(() => {
  stack.emarsys.setFaults(NO_FAULTS);
  stack.qualtrics.setFaults(NO_FAULTS);
  stack.emarsys.setOptions({ clockSkewMs: 0 });
  stack.qualtrics.setOptions({ servedDatacenter: 'fra1' });
  (cds.env as any).surveyBridge.upstream.timeoutMs = 5_000;
  useDestinations();
});

async function inviteContacts(count: number): Promise<string[]> {
  const emails = Array.from({ length: count }, () => `fault${++counter}@example.org`);
  for (const email of emails) stack.emarsys.addContact({ '3': email });
  const responses = await Promise.all(emails.map(email => stack.post('/inbound/generateLink', { campaign: 'NPS-SANDBOX', email })));
  for (const response of responses) expect(response.status).toBe(202);
  return responses.map(response => response.body.invitationId);
}

async function finalInvitations(ids: string[], timeoutMs = 40_000): Promise<any[]> {
  return waitFor<any[] | undefined>(async () => {
    const found = await rows(SELECT.from('surveybridge.SurveyInvitations').where({ ID: { in: ids } }));
    return found.every(row => !['received', 'linkIssued'].includes(row.status)) ? found : undefined;
  }, timeoutMs, 'every invitation to be final') as Promise<any[]>;
}

async function roundTripsSince(startedAt: string, where: Record<string, unknown> = {}): Promise<any[]> {
  return rows(SELECT.from('surveybridge.RoundTrips').where({ at: { '>=': startedAt }, direction: 'outbound', ...where }));
}

function mailsTo(ids: string[]): number {
  return stack.emarsys.mails.filter(mail => ids.some(id => mail.triggerId === `sb-${id}`)).length;
}

test('server errors on a third of calls still finish every invitation', async () => {
  const startedAt = new Date().toISOString();
  stack.emarsys.setFaults({ error5xxRate: 0.3 });
  stack.qualtrics.setFaults({ error5xxRate: 0.3 });
  // The stand-ins draw each fault at random, and one batch makes about ten calls, so about 3 % of
  // the batches get no 5xx at all. Batches run until a 5xx and a successful retry have both occurred.
  const ids: string[] = [];
  let trips: any[] = [];
  for (let round = 1; round <= 5; round++) {
    const roundIds = await inviteContacts(20);
    const final = await finalInvitations(roundIds, 60_000);
    expect(final.filter(row => row.status === 'eventTriggered')).toHaveLength(20);
    ids.push(...roundIds);
    trips = await roundTripsSince(startedAt);
    if (trips.some(trip => trip.httpStatus >= 500) && trips.some(trip => trip.attempt > 1 && trip.httpStatus === 200)) break;
  }
  expect(trips.some(trip => trip.httpStatus >= 500)).toBe(true);
  expect(trips.some(trip => trip.attempt > 1 && trip.httpStatus === 200)).toBe(true);
  expect(mailsTo(ids)).toBe(ids.length);
}, 300_000);

test('429 storm is waited out', async () => {
  const startedAt = new Date().toISOString();
  stack.emarsys.setFaults({ rate429: 1 });
  const ids = await inviteContacts(5);
  await waitFor(async () => (await roundTripsSince(startedAt, { httpStatus: 429 })).length > 0, 20_000, 'a 429');
  stack.emarsys.setFaults({ rate429: 0 });
  const final = await finalInvitations(ids);
  expect(final.every(row => row.status === 'eventTriggered')).toBe(true);
  const limited = await roundTripsSince(startedAt, { httpStatus: 429 });
  expect(limited[0].upstreamCode).toBe('7003');
  expect(mailsTo(ids)).toBe(5);
}, 60_000);

test('stalled Qualtrics call times out and is retried', async () => {
  const startedAt = new Date().toISOString();
  (cds.env as any).surveyBridge.upstream.timeoutMs = 800;
  stack.qualtrics.setFaults({ stallRate: 1, stallMs: 30_000 });
  const ids = await inviteContacts(3);
  await waitFor(async () => (await roundTripsSince(startedAt, { system: 'qualtrics', httpStatus: null })).length > 0, 20_000, 'a timed-out call');
  stack.qualtrics.setFaults({ stallRate: 0 });
  const final = await finalInvitations(ids);
  expect(final.every(row => row.status === 'eventTriggered')).toBe(true);
  const [timedOut] = await roundTripsSince(startedAt, { system: 'qualtrics', httpStatus: null });
  expect(timedOut.error).toMatch(/timed out|timeout/i);
  expect(timedOut.durationMs).toBeLessThan(5_000);
}, 60_000);

test('token endpoint down delays the trigger until it is back', async () => {
  const startedAt = new Date().toISOString();
  useDestinations({}, {}, 'http://127.0.0.1:9/oauth2/token');
  const ids = await inviteContacts(3);
  await waitFor(async () => (await roundTripsSince(startedAt, { operation: 'token' })).length > 0, 20_000, 'a failed token request');
  useDestinations();
  const final = await finalInvitations(ids);
  expect(final.every(row => row.status === 'eventTriggered')).toBe(true);
  const [failedToken] = await roundTripsSince(startedAt, { operation: 'token' });
  expect(failedToken.httpStatus).toBeNull();
  expect(failedToken.error).toMatch(/unreachable/);
}, 60_000);

test('wrong Emarsys credentials fail the invitations without retries', async () => {
  const startedAt = new Date().toISOString();
  useDestinations({}, { emarsysClientSecret: 'wrong-secret' });
  const ids = await inviteContacts(3);
  const final = await finalInvitations(ids);
  for (const row of final) {
    expect(row.status).toBe('failed');
    expect(row.lastError).toMatch(/token request failed/);
  }
  const tokenTrips = await roundTripsSince(startedAt, { operation: 'token' });
  expect(tokenTrips).toHaveLength(1);
  expect(tokenTrips[0].httpStatus).toBe(401);
  expect(mailsTo(ids)).toBe(0);
}, 60_000);

test('wrong Qualtrics token fails the batch at its first call', async () => {
  const startedAt = new Date().toISOString();
  useDestinations({}, { qualtricsApiToken: 'wrong-token' });
  const ids = await inviteContacts(3);
  const final = await finalInvitations(ids);
  expect(final.every(row => row.status === 'failed')).toBe(true);
  const trips = await roundTripsSince(startedAt, { system: 'qualtrics' });
  expect(trips).toHaveLength(1);
  expect(trips[0].httpStatus).toBe(401);
  expect(trips[0].upstreamCode).toBe('DCD_7');
}, 60_000);

test('wrong Qualtrics datacenter still completes', async () => {
  stack.qualtrics.setOptions({ servedDatacenter: 'iad1' });
  const ids = await inviteContacts(2);
  const final = await finalInvitations(ids);
  expect(final.every(row => row.status === 'eventTriggered')).toBe(true);
});

test('Emarsys clock skew is corrected from the Date header', async () => {
  const startedAt = new Date().toISOString();
  useDestinations({ emarsys: 'wsse' });
  stack.emarsys.setOptions({ clockSkewMs: 10 * 60_000 });
  const ids = await inviteContacts(2);
  const final = await finalInvitations(ids);
  expect(final.every(row => row.status === 'eventTriggered')).toBe(true);
  const triggers = await roundTripsSince(startedAt, { system: 'emarsys', operation: 'triggerEvent' });
  expect(triggers.map(trip => trip.httpStatus)).toEqual([401, 200]);
});

test('link that expires before sending is replaced by a fresh one', async () => {
  stack.emarsys.setFaults({ error5xxRate: 1 });
  const [id] = await inviteContacts(1);
  const issued = await waitFor(async () => {
    const row = await cds.tx(() => SELECT.one.from('surveybridge.SurveyInvitations').where({ ID: id }));
    return row?.status === 'linkIssued' ? row : undefined;
  });
  // The first run gives up on the trigger, so the next run reads the invitation again.
  await waitFor(async () => {
    const batch = await cds.tx(() => SELECT.one.from('surveybridge.WorkBatches').where({ ID: issued.batch_ID }));
    return batch?.lastError;
  }, 20_000, 'the trigger to fail');
  const expired = new Date(Date.now() - 60_000).toISOString();
  await cds.tx(() => UPDATE('surveybridge.SurveyInvitations').set({ linkExpiresAt: expired }).where({ ID: id }));
  stack.emarsys.setFaults({ error5xxRate: 0 });
  const [final] = await finalInvitations([id]);
  expect(final.status).toBe('eventTriggered');
  expect(final.surveyLink).not.toBe(issued.surveyLink);
  const links = await rows(SELECT.from('surveybridge.SurveyLinks').where({ invitation_ID: id }).orderBy('issuedAt'));
  expect(links.map(link => link.status)).toEqual(['expiredUnsent', 'sent']);
  const mail = stack.emarsys.mails.find(record => record.triggerId === `sb-${id}`);
  expect(mail?.data.survey_url).toBe(final.surveyLink);
  expect(mailsTo([id])).toBe(1);
}, 60_000);
