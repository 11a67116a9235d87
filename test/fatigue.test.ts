import cds from '@sap/cds';
import { rows, useStack, waitFor } from './support/stack';

const stack = useStack();
const { SELECT } = cds.ql;

const DAY_MS = 86_400_000;
let counter = 0;

async function campaign(cooldownDays: number): Promise<string> {
  const code = `FATIGUE-${++counter}`;
  await cds.tx(() => INSERT.into('surveybridge.Campaigns').entries({
    code, surveyId: 'SV_SANDBOX000001', directoryId: 'POOL_SANDBOX00001', mailingListId: 'CG_SANDBOX000001',
    externalEventId: '4711', scoreFieldId: '10001', categoryFieldId: '10002', fatigueCooldownDays: cooldownDays, active: true
  }));
  return code;
}

function contact(): string {
  const email = `fatigue${++counter}@example.org`;
  stack.emarsys.addContact({ '3': email });
  return email;
}

async function invite(code: string, email: string): Promise<any> {
  const response = await stack.post('/inbound/generateLink', { campaign: code, email });
  expect(response.status).toBe(202);
  return response.body;
}

async function triggered(id: string): Promise<any> {
  return waitFor(async () => {
    const row = await cds.tx(() => SELECT.one.from('surveybridge.SurveyInvitations').where({ ID: id }));
    return row?.status === 'eventTriggered' ? row : undefined;
  }, 20_000, `invitation ${id}`);
}

/** Moves an invitation into the past, as if it was received `days` ago and its link has expired. */
async function age(id: string, days: number): Promise<void> {
  const receivedAt = new Date(Date.now() - days * DAY_MS).toISOString();
  const expired = new Date(Date.now() - DAY_MS).toISOString();
  await cds.tx(() => UPDATE('surveybridge.SurveyInvitations').set({ receivedAt, cycleEndsAt: expired, linkExpiresAt: expired }).where({ ID: id }));
}

function upstreamCalls(): number {
  return stack.emarsys.calls.count() + stack.qualtrics.calls.count();
}

afterEach(() => {
  (cds.env as any).surveyBridge.fatigue = { globalCooldownDays: 0 };
});

test('call inside the campaign cooldown is suppressed without upstream calls', async () => {
  const code = await campaign(90);
  const email = contact();
  const first = await invite(code, email);
  await triggered(first.invitationId);
  await age(first.invitationId, 40);
  const callsBefore = upstreamCalls();
  const second = await invite(code, email);
  expect(second).toMatchObject({ status: 'suppressedFatigue', repeated: false });
  await new Promise(resolve => setTimeout(resolve, 500));
  expect(upstreamCalls()).toBe(callsBefore);
  const [row] = await rows(SELECT.from('surveybridge.SurveyInvitations').where({ ID: second.invitationId }));
  expect(row.lastError).toMatch(/90-day cooldown/);
});

test('call after the campaign cooldown is invited again', async () => {
  const code = await campaign(30);
  const email = contact();
  const first = await invite(code, email);
  await triggered(first.invitationId);
  await age(first.invitationId, 31);
  const second = await invite(code, email);
  expect(second.status).toBe('received');
  const row = await triggered(second.invitationId);
  expect(row.cycle).toBe(2);
  expect(stack.emarsys.mails.filter(mail => mail.externalId === email)).toHaveLength(2);
});

test('global cooldown suppresses another campaign', async () => {
  (cds.env as any).surveyBridge.fatigue = { globalCooldownDays: 30 };
  const [first, second] = [await campaign(0), await campaign(0)];
  const email = contact();
  const invited = await invite(first, email);
  await triggered(invited.invitationId);
  const other = await invite(second, email);
  expect(other.status).toBe('suppressedFatigue');
});

test('without the global guard another campaign invites', async () => {
  const [first, second] = [await campaign(0), await campaign(0)];
  const email = contact();
  await triggered((await invite(first, email)).invitationId);
  const other = await invite(second, email);
  expect(other.status).toBe('received');
});

test('repeated calls on the same day reuse one invitation', async () => {
  const code = await campaign(90);
  const email = contact();
  const first = await invite(code, email);
  const again = await invite(code, email);
  const third = await invite(code, email);
  expect(again).toMatchObject({ invitationId: first.invitationId, repeated: true });
  expect(third).toMatchObject({ invitationId: first.invitationId, repeated: true });
  const stored = await rows(SELECT.from('surveybridge.SurveyInvitations').where({ contactKey: email }));
  expect(stored).toHaveLength(1);
});

test('repeated call inside the cooldown reuses the suppression', async () => {
  const code = await campaign(90);
  const email = contact();
  const first = await invite(code, email);
  await triggered(first.invitationId);
  await age(first.invitationId, 40);
  const suppressed = await invite(code, email);
  const again = await invite(code, email);
  expect(again).toMatchObject({ invitationId: suppressed.invitationId, status: 'suppressedFatigue', repeated: true });
});

test('expired link outside any cooldown mints a fresh link', async () => {
  const code = await campaign(0);
  const email = contact();
  const first = await triggered((await invite(code, email)).invitationId);
  await age(first.ID, 31);
  const second = await triggered((await invite(code, email)).invitationId);
  expect(second.surveyLink).not.toBe(first.surveyLink);
  const both = await rows(SELECT.from('surveybridge.SurveyInvitations').where({ contactKey: email }));
  expect(both).toHaveLength(2);
});
