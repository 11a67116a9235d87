import cds from '@sap/cds';
import { format } from 'node:util';
import { USERS, rows, useStack, waitFor } from './support/stack';

const stack = useStack({ bridge: { workers: false } });
const { SELECT, INSERT } = cds.ql;

const SANDBOX_CAMPAIGN = '6f1c2a52-4b7e-4c1e-9a55-0c7d2b8e1a01';
const FOLLOWUP_CAMPAIGN = '2b9d7c10-5e3a-4f7b-8c21-6a4e0f9d3b02';
const DAY_MS = 86_400_000;

const INVITATIONS = 'surveybridge.SurveyInvitations';
const LINKS = 'surveybridge.SurveyLinks';
const SCORES = 'surveybridge.ScoreResponses';
const ROUND_TRIPS = 'surveybridge.RoundTrips';
const ITEMS = 'surveybridge.RoundTripItems';

function daysAgo(days: number): string {
  return new Date(Date.now() - days * DAY_MS).toISOString();
}

function invitation(fields: Record<string, unknown>) {
  const receivedAt = (fields.receivedAt as string) ?? daysAgo(1);
  return {
    ID: cds.utils.uuid(), campaign_ID: SANDBOX_CAMPAIGN, cycle: 1, status: 'eventTriggered', receivedAt,
    cycleEndsAt: new Date(new Date(receivedAt).getTime() + 30 * DAY_MS).toISOString(), ...fields
  };
}

async function insert(entity: string, entries: object | object[]) {
  await cds.tx(() => INSERT.into(entity).entries(entries));
}

async function admin(action: string, body: unknown) {
  const response = await fetch(`${stack.url}/admin/${action}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from(`${USERS.admin.username}:${USERS.admin.password}`).toString('base64')}`
    },
    body: JSON.stringify(body)
  });
  return { status: response.status, body: await response.json() };
}

describe('erase', () => {
  const KEY = 'erika_muster@example.org';
  const LINK = 'https://fra1.qualtrics.com/jfe/form/SV_SANDBOX000001?Q_DL=erase-link-token';
  const stored = invitation({
    contactKey: KEY, firstName: 'Erika', lastName: 'Muster', language: 'de', surveyLink: LINK, status: 'scoreStored',
    score: 9, npsCategory: 'promoter', responseId: 'R_Erase000001', qualtricsContactId: 'CID_ERASE0001', emarsysContactId: '4242'
  });
  const notFound = invitation({
    contactKey: KEY, campaign_ID: FOLLOWUP_CAMPAIGN, status: 'contactNotFound',
    lastError: `Emarsys 2008: No contact found with the external id: 3 - ${KEY}`
  });
  const open = invitation({ contactKey: KEY, cycle: 2, status: 'received', firstName: 'Erika' });
  const other = invitation({ contactKey: 'other@example.org', firstName: 'Otto', surveyLink: `${LINK}-other` });
  const roundTripId = cds.utils.uuid();
  const auditLines: string[] = [];
  let result: { status: number; body: any };

  beforeAll(async () => {
    await insert(INVITATIONS, [stored, notFound, open, other]);
    await insert(LINKS, { invitation_ID: stored.ID, surveyLink: LINK, issuedAt: daysAgo(1), status: 'sent' });
    await insert(SCORES, [
      { responseId: 'R_Erase000001', contactRef: KEY, invitation_ID: stored.ID, rawScore: '9', score: 9, npsCategory: 'promoter',
        status: 'stored', receivedAt: daysAgo(1) },
      { responseId: 'R_Erase000002', contactRef: open.ID, rawScore: '3', score: 3, npsCategory: 'detractor', status: 'pending', receivedAt: daysAgo(1) }
    ]);
    await insert(ROUND_TRIPS, { ID: roundTripId, at: daysAgo(1), direction: 'outbound', system: 'emarsys', operation: 'triggerBatch',
      method: 'POST', path: '/api/v3/event/4711/trigger', httpStatus: 200, error: `1 contact failed: ${KEY}` });
    await insert(ITEMS, { roundTrip_ID: roundTripId, invitation_ID: notFound.ID, outcome: 'contactNotFound', code: '2008',
      message: `No contact found with the external id: 3 - ${KEY}` });

    cds.log('audit-log', 'info');
    const spy = jest.spyOn(console, 'info').mockImplementation((...args: unknown[]) => {
      auditLines.push(format(...args));
    });
    try {
      result = await admin('erase', { contactKey: KEY });
      // The audit log goes through CAP's persistent queue, so it arrives after the action committed.
      await waitFor(() => auditLines.filter(line => line.includes('PersonalDataModified')).length >= 3, 10_000, 'three audit log entries');
    } finally {
      spy.mockRestore();
      cds.log('audit-log', 'warn');
    }
  });

  const byId = async (id: string) => (await rows(SELECT.one.from(INVITATIONS).where({ ID: id }))) as any;

  test('answers the changed row counts', () => {
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ invitations: 3, surveyLinks: 1, scoreResponses: 2, roundTripItems: 1, roundTrips: 1 });
  });

  test('no invitation keeps the contact key', async () => {
    expect(await rows(SELECT.from(INVITATIONS).where({ contactKey: KEY }))).toHaveLength(0);
    expect((await byId(stored.ID)).contactKey).toBe(`erased:${stored.ID}`);
  });

  test('names, language, link and vendor ids are cleared', async () => {
    const row = await byId(stored.ID);
    expect(row).toMatchObject({ firstName: null, lastName: null, language: null, surveyLink: null, qualtricsContactId: null, emarsysContactId: null });
  });

  test('status, score and category stay', async () => {
    expect(await byId(stored.ID)).toMatchObject({ status: 'scoreStored', score: 9, npsCategory: 'promoter', campaign_ID: SANDBOX_CAMPAIGN });
  });

  test('open invitation is stopped', async () => {
    const row = await byId(open.ID);
    expect(row.status).toBe('failed');
    expect(row.lastError).toMatch(/erased on request/);
  });

  test('key is scrubbed from error texts', async () => {
    expect((await byId(notFound.ID)).lastError).toBe('Emarsys 2008: No contact found with the external id: 3 - (erased)');
    const item = (await rows(SELECT.one.from(ITEMS).where({ roundTrip_ID: roundTripId }))) as any;
    expect(item.message).not.toContain(KEY);
    const trip = (await rows(SELECT.one.from(ROUND_TRIPS).where({ ID: roundTripId }))) as any;
    expect(trip.error).toBe('1 contact failed: (erased)');
  });

  test('score responses lose the contact reference', async () => {
    const scores = (await rows(SELECT.from(SCORES).where({ responseId: { in: ['R_Erase000001', 'R_Erase000002'] } }).orderBy('responseId'))) as any[];
    expect(scores.map(score => score.contactRef)).toEqual([null, null]);
    expect(scores.map(score => score.status)).toEqual(['stored', 'failed']);
    expect(scores[0].score).toBe(9);
  });

  test('link history loses the link', async () => {
    const links = (await rows(SELECT.from(LINKS).where({ invitation_ID: stored.ID }))) as any[];
    expect(links).toHaveLength(1);
    expect(links[0].surveyLink).toBeNull();
  });

  test('other contacts stay untouched', async () => {
    expect(await byId(other.ID)).toMatchObject({ contactKey: 'other@example.org', firstName: 'Otto', surveyLink: `${LINK}-other` });
  });

  test('audit log names the contact without old values', () => {
    const entries = auditLines.filter(line => line.includes('PersonalDataModified'));
    expect(entries).toHaveLength(3);
    expect(entries.every(line => line.includes(KEY))).toBe(true);
    expect(entries.join('\n')).not.toMatch(/old:/);
    expect(entries.join('\n')).not.toContain('Erika');
    expect(entries.join('\n')).not.toContain('Q_DL');
  });

  test('unknown contact answers zeros', async () => {
    const again = await admin('erase', { contactKey: 'never-seen@example.org' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ invitations: 0, surveyLinks: 0, scoreResponses: 0, roundTripItems: 0, roundTrips: 0 });
  });

  test('blank contact key answers 400', async () => {
    const blank = await admin('erase', { contactKey: '   ' });
    expect(blank.status).toBe(400);
    expect(blank.body.error.target).toBe('contactKey');
  });
});

describe('retention purge', () => {
  const oldInvitation = invitation({ contactKey: 'old@example.org', receivedAt: daysAgo(500), firstName: 'Olga' });
  const youngInvitation = invitation({ contactKey: 'young@example.org', receivedAt: daysAgo(10) });
  const oldTrip = cds.utils.uuid();
  const youngTrip = cds.utils.uuid();

  beforeAll(async () => {
    await insert(INVITATIONS, [oldInvitation, youngInvitation]);
    await insert(LINKS, { invitation_ID: oldInvitation.ID, surveyLink: 'https://x/?Q_DL=old', issuedAt: daysAgo(500) });
    await insert(SCORES, { responseId: 'R_Retention01', contactRef: 'old@example.org', invitation_ID: oldInvitation.ID, rawScore: '7',
      score: 7, npsCategory: 'passive', status: 'stored', receivedAt: daysAgo(480) });
    await insert(ROUND_TRIPS, [
      { ID: oldTrip, at: daysAgo(500), direction: 'inbound', system: 'emarsys', operation: 'generateLink', method: 'POST', path: '/inbound/generateLink' },
      { ID: youngTrip, at: daysAgo(10), direction: 'inbound', system: 'emarsys', operation: 'generateLink', method: 'POST', path: '/inbound/generateLink',
        invitation_ID: oldInvitation.ID }
    ]);
    await insert(ITEMS, { roundTrip_ID: oldTrip, invitation_ID: youngInvitation.ID, outcome: 'received' });
  });

  test('removes expired invitations and their trail', async () => {
    const response = await admin('purgeExpired', {});
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ invitations: 1, scoreResponses: 0, roundTrips: 1, more: false });
    expect(await rows(SELECT.from(INVITATIONS).where({ ID: oldInvitation.ID }))).toHaveLength(0);
    expect(await rows(SELECT.from(LINKS).where({ invitation_ID: oldInvitation.ID }))).toHaveLength(0);
    expect(await rows(SELECT.from(SCORES).where({ responseId: 'R_Retention01' }))).toHaveLength(0);
    expect(await rows(SELECT.from(ROUND_TRIPS).where({ ID: oldTrip }))).toHaveLength(0);
    expect(await rows(SELECT.from(ITEMS).where({ roundTrip_ID: oldTrip }))).toHaveLength(0);
  });

  test('keeps younger rows', async () => {
    expect(await rows(SELECT.from(INVITATIONS).where({ ID: youngInvitation.ID }))).toHaveLength(1);
    const trip = (await rows(SELECT.one.from(ROUND_TRIPS).where({ ID: youngTrip }))) as any;
    expect(trip).toBeDefined();
    expect(trip.invitation_ID).toBeNull();
  });

  test('stops at the row limit and reports more', async () => {
    const extra = [1, 2, 3].map(index => invitation({ contactKey: `bulk${index}@example.org`, receivedAt: daysAgo(450) }));
    await insert(INVITATIONS, extra);
    (cds.env as any).surveyBridge.retention = { maxRowsPerRun: 2, chunkSize: 1 };
    try {
      const first = await admin('purgeExpired', {});
      expect(first.body).toMatchObject({ invitations: 2, more: true });
      const second = await admin('purgeExpired', {});
      expect(second.body).toMatchObject({ invitations: 1, more: false });
    } finally {
      delete (cds.env as any).surveyBridge.retention;
    }
  });

  test('is scheduled on the persistent queue', async () => {
    const tasks = (await rows(SELECT.from('cds.outbox.Messages').where({ task: 'purgeExpired' }))) as any[];
    expect(tasks).toHaveLength(1);
    expect(new Date(tasks[0].timestamp).getTime()).toBeGreaterThan(Date.now());
  });
});
