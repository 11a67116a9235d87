import cds from '@sap/cds';
import { USERS, rows, useStack, waitFor } from './support/stack';

const stack = useStack();
const { SELECT } = cds.ql;

const SCORE_FIELD = '10001';
const CATEGORY_FIELD = '10002';
let counter = 0;

/** Invites one new contact end to end and returns its invitation once the event was triggered. */
async function invitedContact(campaign = 'NPS-SANDBOX'): Promise<any> {
  const email = `score${++counter}@example.org`;
  stack.emarsys.addContact({ '3': email });
  const response = await stack.post('/inbound/generateLink', { campaign, email });
  expect(response.status).toBe(202);
  return waitFor(async () => {
    const invitation = await cds.tx(() => SELECT.one.from('surveybridge.SurveyInvitations').where({ ID: response.body.invitationId }));
    return invitation?.status === 'eventTriggered' ? invitation : undefined;
  }, 20_000, `invitation of ${email}`);
}

let responseCounter = 0;
function newResponseId(): string {
  return `R_test${String(++responseCounter).padStart(11, '0')}`;
}

function scoreBody(invitation: any, nps: unknown, extra: Record<string, unknown> = {}) {
  return { responseId: newResponseId(), surveyId: 'SV_SANDBOX000001', invitationId: invitation.ID, extRef: invitation.contactKey, nps, ...extra };
}

function postScore(body: unknown) {
  return stack.post('/inbound/ingestScore', body, USERS.workflow);
}

function emarsysContact(email: string) {
  return [...stack.emarsys.contacts.values()].find(contact => contact.fields['3'] === email);
}

async function scoreRow(responseId: string) {
  return cds.tx(() => SELECT.one.from('surveybridge.ScoreResponses').where({ responseId }));
}

async function storedScore(responseId: string, status = 'stored') {
  return waitFor(async () => {
    const row = await scoreRow(responseId);
    return row?.status === status ? row : undefined;
  }, 20_000, `score ${responseId} to become ${status}`);
}

describe('score flow', () => {
  test('workflow answer lands in the Emarsys contact fields', async () => {
    const invitation = await invitedContact();
    stack.qualtrics.setWorkflow({ url: `${stack.url}/inbound/ingestScore`, headers: { authorization: `Basic ${Buffer.from('qualtrics-workflow:workflow').toString('base64')}` } });
    const outcome = await stack.qualtrics.respond(invitation.surveyLink, { nps: 9 });
    stack.qualtrics.setWorkflow(undefined);
    expect(outcome.deliveries[0].status).toBe(202);
    await storedScore(outcome.response!.responseId);
    const contact = emarsysContact(invitation.contactKey);
    expect(contact?.fields[SCORE_FIELD]).toBe('9');
    expect(contact?.fields[CATEGORY_FIELD]).toBe('promoter');
    const updated = await cds.tx(() => SELECT.one.from('surveybridge.SurveyInvitations').where({ ID: invitation.ID }));
    expect(updated.status).toBe('scoreStored');
    expect(updated.score).toBe(9);
    expect(updated.npsCategory).toBe('promoter');
    expect(updated.responseId).toBe(outcome.response!.responseId);
    const stored = await scoreRow(outcome.response!.responseId);
    expect(updated.respondedAt).toBe(stored.receivedAt);
    expect(new Date(updated.modifiedAt).getTime()).toBeGreaterThanOrEqual(new Date(updated.respondedAt).getTime());
    expect(stack.emarsys.createIfNotExistsCalls).toBe(0);
  });

  test('string zero is stored as a detractor score', async () => {
    const invitation = await invitedContact();
    const body = scoreBody(invitation, ' 0 ');
    const response = await postScore(body);
    expect(response.status).toBe(202);
    expect(response.body).toMatchObject({ status: 'pending', score: 0, npsCategory: 'detractor' });
    await storedScore(body.responseId);
    expect(emarsysContact(invitation.contactKey)?.fields[SCORE_FIELD]).toBe('0');
    expect(emarsysContact(invitation.contactKey)?.fields[CATEGORY_FIELD]).toBe('detractor');
  });

  const invalidAnswers: Array<[string, unknown]> = [
    ['empty', ''], ['missing', undefined], ['null', null], ['-99', '-99'], ['out of range', '11'],
    ['non-numeric', 'ten'], ['fractional', '7.5'], ['negative', -1]
  ];
  test.each(invalidAnswers)('%s answer is stored as invalid and answered 422', async (_name, nps) => {
    const invitation = await invitedContact();
    const body = scoreBody(invitation, nps);
    const writesBefore = stack.emarsys.contactUpdates.length;
    const response = await postScore(body);
    expect(response.status).toBe(422);
    expect(response.body.error.target).toBe('nps');
    const row = await scoreRow(body.responseId);
    expect(row.status).toBe('invalid');
    expect(row.rawScore ?? null).toBe(nps === undefined || nps === null ? null : typeof nps === 'string' ? nps : JSON.stringify(nps));
    await new Promise(resolve => setTimeout(resolve, 300));
    expect(stack.emarsys.contactUpdates.length).toBe(writesBefore);
  });

  test('NPS group that disagrees is rejected and not stored', async () => {
    const invitation = await invitedContact();
    const body = scoreBody(invitation, '9', { npsGroup: '1' });
    const response = await postScore(body);
    expect(response.status).toBe(400);
    expect(response.body.error.target).toBe('npsGroup');
    expect(await scoreRow(body.responseId)).toBeFalsy();
  });

  test('agreeing NPS group is accepted', async () => {
    const invitation = await invitedContact();
    const response = await postScore(scoreBody(invitation, '8', { npsGroup: '2' }));
    expect(response.status).toBe(202);
    expect(response.body.npsCategory).toBe('passive');
  });

  test('repeated delivery answers already recorded and writes once', async () => {
    const invitation = await invitedContact();
    const body = scoreBody(invitation, 10);
    expect((await postScore(body)).status).toBe(202);
    const again = await postScore(body);
    expect(again.status).toBe(200);
    expect(again.body.repeated).toBe(true);
    await storedScore(body.responseId);
    const third = await postScore(body);
    expect(third.status).toBe(200);
    expect(third.body.status).toBe('stored');
    const contact = emarsysContact(invitation.contactKey)!;
    expect(stack.emarsys.contactUpdates.filter(update => update.contactId === contact.id)).toHaveLength(1);
  });

  test('concurrent deliveries store one row', async () => {
    const invitation = await invitedContact();
    const body = scoreBody(invitation, 7);
    const responses = await Promise.all(Array.from({ length: 10 }, () => postScore(body)));
    expect(responses.filter(response => response.status === 202)).toHaveLength(1);
    expect(responses.filter(response => response.status === 200)).toHaveLength(9);
    const stored = await rows(SELECT.from('surveybridge.ScoreResponses').where({ responseId: body.responseId }));
    expect(stored).toHaveLength(1);
  });

  test('known response id with another score answers 409', async () => {
    const invitation = await invitedContact();
    const body = scoreBody(invitation, 3);
    expect((await postScore(body)).status).toBe(202);
    const changed = await postScore({ ...body, nps: 9 });
    expect(changed.status).toBe(409);
    expect(changed.body.error.code).toBe('RESPONSE_ALREADY_RECORDED');
    expect((await scoreRow(body.responseId)).score).toBe(3);
  });

  test('response without invitation is unmatched and never written', async () => {
    stack.emarsys.addContact({ '3': 'never-invited@example.org' });
    const body = { responseId: newResponseId(), surveyId: 'SV_SANDBOX000001', extRef: 'never-invited@example.org', nps: '10' };
    const response = await postScore(body);
    expect(response.status).toBe(202);
    expect(response.body.status).toBe('unmatched');
    await new Promise(resolve => setTimeout(resolve, 500));
    expect((await scoreRow(body.responseId)).status).toBe('unmatched');
    expect(emarsysContact('never-invited@example.org')?.fields[SCORE_FIELD]).toBeUndefined();
  });

  test('unknown invitation id is unmatched', async () => {
    const body = { responseId: newResponseId(), invitationId: '00000000-0000-4000-8000-000000000000', nps: 5 };
    const response = await postScore(body);
    expect(response.status).toBe(202);
    expect(response.body.status).toBe('unmatched');
  });

  test('extRef alone matches the mailed invitation', async () => {
    const invitation = await invitedContact();
    const body = { responseId: newResponseId(), surveyId: 'SV_SANDBOX000001', extRef: invitation.contactKey, nps: '6' };
    const response = await postScore(body);
    expect(response.status).toBe(202);
    expect(response.body.invitationId).toBe(invitation.ID);
  });

  test('contact deleted in Emarsys gets 2008 per contact', async () => {
    const invitation = await invitedContact();
    const kept = await invitedContact();
    const contact = emarsysContact(invitation.contactKey)!;
    stack.emarsys.contacts.delete(contact.id);
    const gone = scoreBody(invitation, 4);
    const present = scoreBody(kept, 5);
    await Promise.all([postScore(gone), postScore(present)]);
    const missing = await waitFor(async () => {
      const row = await scoreRow(gone.responseId);
      return row && row.status !== 'pending' ? row : undefined;
    });
    expect(missing.status).toBe('contactNotFound');
    expect(missing.lastError).toMatch(/2008/);
    await storedScore(present.responseId);
    const items = await rows(SELECT.from('surveybridge.RoundTripItems').where({ invitation_ID: invitation.ID, code: '2008' }));
    expect(items).toHaveLength(1);
  });

  test('ambiguous Emarsys key gets 2010 per contact', async () => {
    const invitation = await invitedContact();
    stack.emarsys.addContact({ '3': invitation.contactKey });
    const body = scoreBody(invitation, 8);
    await postScore(body);
    const row = await waitFor(async () => {
      const current = await scoreRow(body.responseId);
      return current && current.status !== 'pending' ? current : undefined;
    });
    expect(row.status).toBe('contactAmbiguous');
  });

  test('field that rejects the value gets 2007 per contact', async () => {
    await cds.tx(() => INSERT.into('surveybridge.Campaigns').entries({
      code: 'SWAPPED-FIELDS', surveyId: 'SV_SANDBOX000001', directoryId: 'POOL_SANDBOX00001', mailingListId: 'CG_SANDBOX000001',
      externalEventId: '4711', scoreFieldId: CATEGORY_FIELD, categoryFieldId: SCORE_FIELD, active: true
    }));
    const invitation = await invitedContact('SWAPPED-FIELDS');
    const body = scoreBody(invitation, 10);
    await postScore(body);
    const row = await waitFor(async () => {
      const current = await scoreRow(body.responseId);
      return current && current.status !== 'pending' ? current : undefined;
    });
    expect(row.status).toBe('invalidValue');
    expect(row.lastError).toMatch(/2007/);
  });

  const badBodies: Array<[string, unknown, string]> = [
    ['missing response id', { invitationId: '00000000-0000-4000-8000-000000000000', nps: 5 }, 'responseId'],
    ['malformed response id', { responseId: 'abc', extRef: 'x', nps: 5 }, 'responseId'],
    ['no contact reference', { responseId: 'R_nocontact000001', nps: 5 }, 'invitationId'],
    ['malformed invitation id', { responseId: 'R_badinvitation01', invitationId: 'abc', nps: 5 }, 'invitationId']
  ];
  test.each(badBodies)('%s is rejected with 400', async (_name, body, target) => {
    const response = await postScore(body);
    expect(response.status).toBe(400);
    expect(response.body.error.target).toBe(target);
  });

  test('webhook caller cannot post scores', async () => {
    const response = await stack.post('/inbound/ingestScore', { responseId: 'R_forbidden000001', extRef: 'x', nps: 5 }, USERS.webhook);
    expect(response.status).toBe(403);
  });
});
