import cds from '@sap/cds';
import jwt from 'jsonwebtoken';
import { format } from 'node:util';
import { SANDBOX_CREDENTIALS, useSandboxDestinations } from '../sandbox/destinations';
import { USERS, rows, useStack, waitFor } from './support/stack';

const WEBHOOK_SECRET = 'hygiene-webhook-jwt-secret-0123456789abcd';
const API_KEY = 'hygiene-qualtrics-api-key-0123456789abcd';

process.env['cds.requires.inboundCallers.credentials'] = JSON.stringify({
  emarsysWebhook: { jwtSecret: WEBHOOK_SECRET },
  qualtricsWorkflow: { apiKey: API_KEY }
});

const stack = useStack();
const { SELECT } = cds.ql;

afterAll(() => {
  delete process.env['cds.requires.inboundCallers.credentials'];
});

/** Everything written to the console or to stdout and stderr while the demo-like run below is going on. */
const output: string[] = [];
const webhookJwts: string[] = [];
const linkTokens = new Set<string>();
const issuedBearerTokens = new Set<string>();

function basic(user: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
}

/** Collects the access tokens that the stand-ins issued; they keep them in private maps. */
function collectIssuedTokens(): void {
  for (const token of ((stack.emarsys as any).tokens as Map<string, unknown>).keys()) issuedBearerTokens.add(token);
  for (const token of ((stack.qualtrics as any).accessTokens as Map<string, unknown>).keys()) issuedBearerTokens.add(token);
}

async function finalInvitation(id: string) {
  return waitFor(async () => {
    const row = await cds.tx(() => SELECT.one.from('surveybridge.SurveyInvitations').where({ ID: id }));
    return row && row.status === 'eventTriggered' ? row : undefined;
  }, 20_000, `invitation ${id} to be triggered`);
}

async function scoreStored(id: string) {
  return waitFor(async () => {
    const row = await cds.tx(() => SELECT.one.from('surveybridge.SurveyInvitations').where({ ID: id }));
    return row?.status === 'scoreStored';
  }, 20_000, `score of invitation ${id} to be stored`);
}

/** Invites `count` contacts through the webhook JWT and answers each survey through the workflow with the API key. */
async function runRound(round: string, count: number): Promise<void> {
  const ids: string[] = [];
  for (let index = 0; index < count; index++) {
    const email = `hygiene-${round}-${index}@example.org`;
    stack.emarsys.addContact({ '3': email, '1': 'Hanna' });
    const token = jwt.sign({ sub: 'emarsys' }, WEBHOOK_SECRET, { algorithm: 'HS256', expiresIn: 300 });
    webhookJwts.push(token);
    const response = await fetch(`${stack.url}/inbound/generateLink`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ campaign: 'NPS-SANDBOX', email, first_name: 'Hanna', last_name: 'Beispiel' })
    });
    expect(response.status).toBe(202);
    ids.push((await response.json()).invitationId);
  }
  stack.qualtrics.setWorkflow({ url: `${stack.url}/inbound/ingestScore`, headers: { 'x-api-key': API_KEY } });
  try {
    for (const id of ids) {
      const invitation = await finalInvitation(id);
      linkTokens.add(new URL(invitation.surveyLink).searchParams.get('Q_DL')!);
      const outcome = await stack.qualtrics.respond(invitation.surveyLink, { nps: 8 });
      expect(outcome.deliveries[0].status).toBe(202);
    }
  } finally {
    stack.qualtrics.setWorkflow(undefined);
  }
  for (const id of ids) await scoreStored(id);
  collectIssuedTokens();
}

beforeAll(async () => {
  // Production logs at info level; the test profile lowers some loggers, so they are raised again here.
  for (const id of new Set(['cds', 'rest', 'odata', 'auth', 'audit-log', 'inbound-auth', ...Object.keys((cds.log as any).loggers)])) cds.log(id, 'info');
  const record = (...args: unknown[]) => {
    output.push(format(...args));
  };
  const consoleSpies = (['log', 'info', 'warn', 'error', 'debug', 'trace'] as const)
    .map(method => jest.spyOn(console, method).mockImplementation(record));
  // Loggers that bypass console, such as winston's console transport, write to the streams directly.
  const streamSpies = [jest.spyOn(process.stdout, 'write'), jest.spyOn(process.stderr, 'write')];
  try {
    await runRound('oauth', 4);
    useSandboxDestinations(stack.emarsys, stack.qualtrics, { emarsys: 'wsse', qualtrics: 'oauth' });
    await runRound('wsse', 4);

    // Rejected credentials, the audit trail read by people, and one erasure complete the picture.
    const rejectedJwt = jwt.sign({}, 'wrong-secret-of-enough-length-0123456789', { expiresIn: 60 });
    webhookJwts.push(rejectedJwt);
    await fetch(`${stack.url}/inbound/generateLink`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${rejectedJwt}` },
      body: JSON.stringify({ campaign: 'NPS-SANDBOX', email: 'intruder@example.org' })
    });
    await fetch(`${stack.url}/inbound/ingestScore`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'wrong-api-key-of-enough-length-01234' }, body: '{}'
    });
    for (const path of ['/audit/SurveyInvitations', '/audit/RoundTrips', '/audit/ScoreResponses']) {
      expect((await fetch(`${stack.url}${path}`, { headers: { authorization: basic(USERS.admin) } })).status).toBe(200);
    }
    const erased = await fetch(`${stack.url}/admin/erase`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: basic(USERS.admin) },
      body: JSON.stringify({ contactKey: 'hygiene-oauth-0@example.org' })
    });
    expect(erased.status).toBe(200);
    await waitFor(() => output.some(line => line.includes('PersonalDataModified')), 10_000, 'the erasure audit log');
  } finally {
    for (const spy of consoleSpies) spy.mockRestore();
    for (const spy of streamSpies) {
      for (const [chunk] of spy.mock.calls) output.push(String(chunk));
      spy.mockRestore();
    }
    cds.log('audit-log', 'warn');
    cds.log('inbound-auth', 'error');
  }
}, 120_000);

/** Secret values of the stand-ins and of the inbound callers, and the credentials of the mocked users. */
function secrets(): string[] {
  return [
    SANDBOX_CREDENTIALS.emarsysClientSecret, SANDBOX_CREDENTIALS.emarsysApiSecret, SANDBOX_CREDENTIALS.qualtricsApiToken,
    SANDBOX_CREDENTIALS.qualtricsClientSecret, WEBHOOK_SECRET, API_KEY, 'wrong-api-key-of-enough-length-01234',
    Buffer.from(`${SANDBOX_CREDENTIALS.emarsysClientId}:${SANDBOX_CREDENTIALS.emarsysClientSecret}`).toString('base64'),
    Buffer.from(`${SANDBOX_CREDENTIALS.qualtricsClientId}:${SANDBOX_CREDENTIALS.qualtricsClientSecret}`).toString('base64'),
    basic(USERS.webhook).slice(6), basic(USERS.workflow).slice(6), basic(USERS.admin).slice(6)
  ];
}

/** Texts of the audit rows: round trips, items, errors of invitations, scores and batches, and queued messages. */
async function auditRowTexts(): Promise<string> {
  const texts: string[] = [];
  for (const row of await rows(SELECT.from('surveybridge.RoundTrips').columns('path', 'error'))) texts.push(row.path ?? '', row.error ?? '');
  for (const row of await rows(SELECT.from('surveybridge.RoundTripItems').columns('message'))) texts.push(row.message ?? '');
  for (const row of await rows(SELECT.from('surveybridge.SurveyInvitations').columns('lastError'))) texts.push(row.lastError ?? '');
  for (const row of await rows(SELECT.from('surveybridge.ScoreResponses').columns('lastError', 'contactRef'))) texts.push(row.lastError ?? '', row.contactRef ?? '');
  for (const row of await rows(SELECT.from('surveybridge.WorkBatches').columns('lastError'))) texts.push(row.lastError ?? '');
  for (const row of await rows(SELECT.from('cds.outbox.Messages').columns('msg', 'lastError'))) texts.push(row.msg ?? '', row.lastError ?? '');
  return texts.join('\n');
}

describe('logs after a demo-like run', () => {
  test('run produced log output to check', () => {
    const text = output.join('\n');
    expect(text).toContain('emarsys token fetched');
    expect(text).toContain('Rejected Emarsys webhook credentials');
    expect(text).toContain('Rejected Qualtrics workflow credentials');
    expect(text).toContain('PersonalDataModified');
    expect(linkTokens.size).toBe(8);
    expect(issuedBearerTokens.size).toBeGreaterThanOrEqual(2);
  });

  test('contain no stand-in or caller secret', () => {
    const text = output.join('\n');
    for (const secret of secrets()) expect(text).not.toContain(secret);
  });

  test('contain no webhook JWT', () => {
    const text = output.join('\n');
    for (const token of webhookJwts) expect(text).not.toContain(token);
  });

  test('contain no issued bearer token', () => {
    const text = output.join('\n');
    for (const token of issuedBearerTokens) expect(text).not.toContain(token);
    expect(text).not.toMatch(/Bearer\s+[A-Za-z0-9\-._~+/]{8,}/);
  });

  test('contain no WSSE header', () => {
    const text = output.join('\n');
    expect(text).not.toMatch(/x-wsse/i);
    expect(text).not.toContain('PasswordDigest');
  });

  test('hold audit entries of the erasure only', () => {
    // Eight invitations were written by the intake, one was erased: the intake adds no audit-log work.
    expect(output.filter(line => line.includes('PersonalDataModified'))).toHaveLength(1);
  });

  test('contain no survey link token', () => {
    const text = output.join('\n');
    expect(text).not.toContain('Q_DL=');
    for (const token of linkTokens) expect(text).not.toContain(token);
  });
});

describe('audit rows after a demo-like run', () => {
  test('contain no secret or token', async () => {
    const text = await auditRowTexts();
    for (const secret of [...secrets(), ...webhookJwts, ...issuedBearerTokens]) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/x-wsse|PasswordDigest|Bearer\s/i);
  });

  test('contain no survey link token', async () => {
    const text = await auditRowTexts();
    expect(text).not.toContain('Q_DL=');
    for (const token of linkTokens) expect(text).not.toContain(token);
  });
});
