import cds from '@sap/cds';
import { useStack, waitFor } from './support/stack';

const stack = useStack({ emarsysAuth: 'wsse', qualtricsAuth: 'oauth' });
const { SELECT } = cds.ql;

test('WSSE and Qualtrics OAuth carry an invitation end to end', async () => {
  stack.emarsys.addContact({ '3': 'wsse@example.org' });
  const response = await stack.post('/inbound/generateLink', { campaign: 'NPS-SANDBOX', email: 'wsse@example.org' });
  expect(response.status).toBe(202);
  const invitation = await waitFor(async () => {
    const row = await cds.tx(() => SELECT.one.from('surveybridge.SurveyInvitations').where({ ID: response.body.invitationId }));
    return row?.status === 'eventTriggered' ? row : undefined;
  });
  expect(invitation.surveyLink).toBeTruthy();
  expect(stack.qualtrics.calls.count(call => call.operation === 'token')).toBe(1);
  expect(stack.emarsys.calls.count(call => call.operation === 'token')).toBe(0);
  expect(stack.emarsys.calls.count(call => call.path.startsWith('/api/v2/') && call.status === 200)).toBeGreaterThan(0);
});

test('token request records a round trip without credentials', async () => {
  const tokenTrips = await cds.tx(() => SELECT.from('surveybridge.RoundTrips').where({ operation: 'token' }));
  expect(tokenTrips.length).toBeGreaterThan(0);
  for (const trip of tokenTrips) expect(JSON.stringify(trip)).not.toMatch(/sandbox-client-secret|Basic /);
});
