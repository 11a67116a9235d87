import cds from '@sap/cds';
import { USERS, rows, useStack, waitFor } from './support/stack';

const stack = useStack();
const { SELECT } = cds.ql;

async function invitationWhen(id: string, status: string): Promise<any> {
  return waitFor(async () => {
    const row = await cds.tx(() => SELECT.one.from('surveybridge.SurveyInvitations').where({ ID: id }));
    return row?.status === status ? row : undefined;
  }, 20_000, `invitation ${id} to become ${status}`);
}

test('replayed invitation is mailed once the contact exists', async () => {
  const response = await stack.post('/inbound/generateLink', { campaign: 'NPS-SANDBOX', email: 'late@example.org' });
  const id = response.body.invitationId;
  await invitationWhen(id, 'contactNotFound');
  stack.emarsys.addContact({ '3': 'late@example.org' });
  const replay = await stack.post('/admin/replay', { target: 'invitations', ids: [id] }, USERS.admin);
  expect(replay.status).toBe(200);
  expect(replay.body).toMatchObject({ invitations: 1, scores: 0 });
  const final = await invitationWhen(id, 'eventTriggered');
  expect(final.replays).toBe(1);
  expect(final.triggerId).toBe(`sb-${id}-r1`);
  const outcomes = await rows(SELECT.from('surveybridge.RoundTripItems').columns('outcome').where({ invitation_ID: id }));
  expect(outcomes.map(item => item.outcome)).toEqual(expect.arrayContaining(['contactNotFound', 'eventTriggered']));
  expect(stack.emarsys.mails.filter(mail => mail.externalId === 'late@example.org')).toHaveLength(1);
});

test('replayed score write reaches a restored contact', async () => {
  stack.emarsys.addContact({ '3': 'restored@example.org' });
  const invitation = await stack.post('/inbound/generateLink', { campaign: 'NPS-SANDBOX', email: 'restored@example.org' });
  await invitationWhen(invitation.body.invitationId, 'eventTriggered');
  const contact = [...stack.emarsys.contacts.values()].find(candidate => candidate.fields['3'] === 'restored@example.org')!;
  stack.emarsys.contacts.delete(contact.id);
  const score = await stack.post('/inbound/ingestScore', { responseId: 'R_replay000000001', invitationId: invitation.body.invitationId, nps: 10 }, USERS.workflow);
  expect(score.status).toBe(202);
  await waitFor(async () => (await cds.tx(() => SELECT.one.from('surveybridge.ScoreResponses').where({ responseId: 'R_replay000000001' })))?.status === 'contactNotFound');
  stack.emarsys.contacts.set(contact.id, contact);
  const replay = await stack.post('/admin/replay', { target: 'scores', campaign: 'NPS-SANDBOX', statuses: ['contactNotFound'] }, USERS.admin);
  expect(replay.body.scores).toBe(1);
  await invitationWhen(invitation.body.invitationId, 'scoreStored');
  expect(contact.fields['10001']).toBe('10');
});

test('replay of a status that did not fail is rejected', async () => {
  const response = await stack.post('/admin/replay', { target: 'invitations', statuses: ['eventTriggered'] }, USERS.admin);
  expect(response.status).toBe(400);
  expect(response.body.error.target).toBe('statuses');
});

test('viewer cannot replay', async () => {
  const response = await stack.post('/admin/replay', { target: 'invitations' }, USERS.viewer);
  expect(response.status).toBe(403);
});

test('bound replay in the audit API restarts one invitation', async () => {
  const response = await stack.post('/inbound/generateLink', { campaign: 'NPS-SANDBOX', email: 'bound@example.org' });
  const id = response.body.invitationId;
  await invitationWhen(id, 'contactNotFound');
  stack.emarsys.addContact({ '3': 'bound@example.org' });
  const viewer = await stack.post(`/audit/SurveyInvitations(${id})/AuditService.replay`, {}, USERS.viewer);
  expect(viewer.status).toBe(403);
  const replay = await stack.post(`/audit/SurveyInvitations(${id})/AuditService.replay`, {}, USERS.admin);
  expect(replay.status).toBe(200);
  expect(replay.body).toMatchObject({ invitations: 1, scores: 0 });
  await invitationWhen(id, 'eventTriggered');
});

test('bound replay of a triggered invitation answers 409', async () => {
  stack.emarsys.addContact({ '3': 'fine@example.org' });
  const response = await stack.post('/inbound/generateLink', { campaign: 'NPS-SANDBOX', email: 'fine@example.org' });
  await invitationWhen(response.body.invitationId, 'eventTriggered');
  const replay = await stack.post(`/audit/SurveyInvitations(${response.body.invitationId})/AuditService.replay`, {}, USERS.admin);
  expect(replay.status).toBe(409);
  expect(replay.body.error.code).toBe('NOTHING_TO_REPLAY');
});
