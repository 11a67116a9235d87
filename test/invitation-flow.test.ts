import cds from '@sap/cds';
import { rows, useStack, waitFor } from './support/stack';

const stack = useStack();
const { SELECT } = cds.ql;

const CAMPAIGN = 'NPS-SANDBOX';

function webhookBody(email: string, extra: Record<string, unknown> = {}) {
  return { campaign: CAMPAIGN, email, first_name: 'Erika', last_name: 'Muster', event_time: '2026-12-01T09:00:00Z', event_data: { order: 'A-1' }, ...extra };
}

async function invitationOf(id: string) {
  return cds.tx(() => SELECT.one.from('surveybridge.SurveyInvitations').where({ ID: id }));
}

async function finalInvitation(id: string) {
  return waitFor(async () => {
    const invitation = await invitationOf(id);
    return invitation && !['received', 'linkIssued'].includes(invitation.status) ? invitation : undefined;
  }, 20_000, `invitation ${id} to reach a final status`);
}

describe('invitation flow', () => {
  test('one contact gets a link mailed through Emarsys', async () => {
    stack.emarsys.addContact({ '3': 'one@example.org', '1': 'Erika' });
    const response = await stack.post('/inbound/generateLink', webhookBody('one@example.org'));
    expect(response.status).toBe(202);
    expect(response.body).toMatchObject({ status: 'received', repeated: false });

    const invitation = await finalInvitation(response.body.invitationId);
    expect(invitation.status).toBe('eventTriggered');
    expect(invitation.surveyLink).toMatch(/Q_DL=/);
    expect(invitation.triggerId).toBe(`sb-${invitation.ID}`);
    expect(new Date(invitation.linkExpiresAt).getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);

    const mail = stack.emarsys.mails.find(record => record.externalId === 'one@example.org');
    expect(mail?.data.survey_url).toBe(invitation.surveyLink);
    expect(mail?.data.first_name).toBe('Erika');
    expect(mail?.eventId).toBe('4711');
    const link = stack.qualtrics.resolveLink(invitation.surveyLink);
    expect(link?.contactId).toBeDefined();
    expect(stack.qualtrics.contacts.get(link!.contactId)?.embeddedData.invitationId).toBe(invitation.ID);

    // Link issuance copies these fields from the SurveyLinks row onto the invitation. The links list
    // names the mailing-list contact (CGC_), not the directory contact (CID_).
    const [stored] = await rows(SELECT.from('surveybridge.SurveyLinks').where({ invitation_ID: invitation.ID }));
    expect(stored.status).toBe('sent');
    expect(stored.qualtricsContactId).toMatch(/^CGC_/);
    expect(invitation.qualtricsContactId).toBe(stored.qualtricsContactId);
    expect(stored.transactionId).toBe(link!.transactionId);
    expect(invitation.transactionId).toBe(link!.transactionId);
    expect(invitation.distributionId).toBe(link!.distributionId);
    expect(invitation.linkIssuedAt).toBe(stored.issuedAt);
    expect(invitation.cycleEndsAt).toBe(invitation.linkExpiresAt);
    expect(new Date(invitation.modifiedAt).getTime()).toBeGreaterThanOrEqual(new Date(invitation.linkIssuedAt).getTime());
  });

  test('full batch of 120 contacts pages links and matches by contact', async () => {
    const emails = Array.from({ length: 120 }, (_, index) => `batch${index}@example.org`);
    for (const email of emails) stack.emarsys.addContact({ '3': email });
    const responses = await Promise.all(emails.map(email => stack.post('/inbound/generateLink', webhookBody(email))));
    expect(responses.every(response => response.status === 202)).toBe(true);
    const ids = responses.map(response => response.body.invitationId);
    for (const id of ids) await finalInvitation(id);

    const invitations = await rows(SELECT.from('surveybridge.SurveyInvitations').where({ ID: { in: ids } }));
    expect(invitations.filter(invitation => invitation.status === 'eventTriggered')).toHaveLength(120);
    for (const invitation of invitations) {
      const link = stack.qualtrics.resolveLink(invitation.surveyLink);
      expect(stack.qualtrics.contacts.get(link!.contactId)?.extRef).toBe(invitation.contactKey);
      const mail = stack.emarsys.mails.find(record => record.externalId === invitation.contactKey);
      expect(mail?.data.survey_url).toBe(invitation.surveyLink);
    }
    const linkPages = await rows(SELECT.from('surveybridge.RoundTrips').where({ operation: 'listLinks', httpStatus: 200 }));
    expect(linkPages.length).toBeGreaterThanOrEqual(2);
  });

  test('unknown Emarsys contact inside a 200 reply becomes contactNotFound', async () => {
    stack.emarsys.addContact({ '3': 'known@example.org' });
    const known = await stack.post('/inbound/generateLink', webhookBody('known@example.org'));
    const unknown = await stack.post('/inbound/generateLink', webhookBody('unknown@example.org'));
    expect((await finalInvitation(known.body.invitationId)).status).toBe('eventTriggered');
    const missing = await finalInvitation(unknown.body.invitationId);
    expect(missing.status).toBe('contactNotFound');
    expect(missing.lastError).toMatch(/2008/);
    const items = await rows(SELECT.from('surveybridge.RoundTripItems').where({ invitation_ID: missing.ID, outcome: 'contactNotFound' }));
    expect(items).toHaveLength(1);
    expect(items[0].code).toBe('2008');
  });

  test('unsubscribed and over-frequency contacts are suppressed', async () => {
    stack.emarsys.addContact({ '3': 'unsub@example.org' });
    stack.emarsys.addContact({ '3': 'tired@example.org' });
    stack.qualtrics.seedContact({ extRef: 'unsub@example.org', unsubscribed: true });
    stack.qualtrics.seedContact({ extRef: 'tired@example.org', exceededContactFrequency: true });
    const unsub = await stack.post('/inbound/generateLink', webhookBody('unsub@example.org'));
    const tired = await stack.post('/inbound/generateLink', webhookBody('tired@example.org'));
    expect((await finalInvitation(unsub.body.invitationId)).status).toBe('suppressedUnsubscribed');
    expect((await finalInvitation(tired.body.invitationId)).status).toBe('suppressedFrequency');
    expect(stack.emarsys.mails.some(record => record.externalId === 'unsub@example.org')).toBe(false);
    expect(stack.emarsys.mails.some(record => record.externalId === 'tired@example.org')).toBe(false);
  });

  test('repeated webhook call reuses the invitation and its link', async () => {
    stack.emarsys.addContact({ '3': 'again@example.org' });
    const first = await stack.post('/inbound/generateLink', webhookBody('again@example.org'));
    const finished = await finalInvitation(first.body.invitationId);
    const distributionsBefore = stack.qualtrics.distributions.size;
    const second = await stack.post('/inbound/generateLink', webhookBody('again@example.org', { unexpected_key: [1, 2] }));
    expect(second.status).toBe(202);
    expect(second.body).toMatchObject({ invitationId: finished.ID, repeated: true, status: 'eventTriggered' });
    await new Promise(resolve => setTimeout(resolve, 400));
    expect(stack.qualtrics.distributions.size).toBe(distributionsBefore);
    expect(stack.emarsys.mails.filter(record => record.externalId === 'again@example.org')).toHaveLength(1);
  });

  test('concurrent duplicate calls create one invitation', async () => {
    stack.emarsys.addContact({ '3': 'twice@example.org' });
    const responses = await Promise.all(Array.from({ length: 5 }, () => stack.post('/inbound/generateLink', webhookBody('twice@example.org'))));
    const ids = new Set(responses.map(response => response.body.invitationId));
    expect(ids.size).toBe(1);
    const stored = await rows(SELECT.from('surveybridge.SurveyInvitations').where({ contactKey: 'twice@example.org' }));
    expect(stored).toHaveLength(1);
  });
});

describe('webhook input', () => {
  async function counts() {
    const [invitations] = await rows(SELECT.from('surveybridge.SurveyInvitations').columns('count(1) as count'));
    const [inbound] = await rows(SELECT.from('surveybridge.RoundTrips').columns('count(1) as count').where({ direction: 'inbound' }));
    return { invitations: Number(invitations.count), inbound: Number(inbound.count) };
  }

  const cases: Array<[string, unknown, number, string | undefined]> = [
    ['missing contact key', { campaign: CAMPAIGN }, 400, 'email'],
    ['contact key of wrong type', { campaign: CAMPAIGN, email: { a: 1 } }, 400, 'email'],
    ['malformed email', { campaign: CAMPAIGN, email: 'not-an-email' }, 400, 'email'],
    ['missing campaign', { email: 'x@example.org' }, 400, 'campaign'],
    ['campaign of wrong type', { campaign: 7, email: 'x@example.org' }, 400, 'campaign'],
    ['first name of wrong type', { campaign: CAMPAIGN, email: 'x@example.org', first_name: 42 }, 400, 'first_name'],
    ['array body', [{ campaign: CAMPAIGN }], 400, '(body)'],
    ['malformed JSON', '{"campaign": "NPS-SANDBOX",', 400, undefined],
    ['unknown campaign', { campaign: 'NO-SUCH', email: 'x@example.org' }, 404, 'campaign']
  ];

  test.each(cases)('%s is rejected and nothing is written', async (_name, body, status, target) => {
    const before = await counts();
    const response = await stack.post('/inbound/generateLink', body);
    expect(response.status).toBe(status);
    expect(typeof response.body.error.message).toBe('string');
    if (target) expect(response.body.error.target).toBe(target);
    const after = await counts();
    expect(after.invitations).toBe(before.invitations);
    expect(after.inbound).toBe(before.inbound + 1);
  });

  test('inactive campaign answers 409', async () => {
    await cds.tx(() => INSERT.into('surveybridge.Campaigns').entries({
      code: 'PAUSED', surveyId: 'SV_SANDBOX000001', directoryId: 'POOL_SANDBOX00001', mailingListId: 'CG_SANDBOX000001',
      externalEventId: '4711', scoreFieldId: '10001', categoryFieldId: '10002', active: false
    }));
    const response = await stack.post('/inbound/generateLink', { campaign: 'PAUSED', email: 'x@example.org' });
    expect(response.status).toBe(409);
    expect(response.body.error.code).toBe('CAMPAIGN_INACTIVE');
  });

  test('text/plain body answers 415 with a JSON error', async () => {
    const response = await stack.post('/inbound/generateLink', JSON.stringify(webhookBody('x@example.org')), undefined, { 'content-type': 'text/plain' });
    expect(response.status).toBe(415);
    expect(response.body.error.code).toBe('UNSUPPORTED_CONTENT_TYPE');
  });
});
