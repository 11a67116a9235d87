import cds from '@sap/cds';
import jwt from 'jsonwebtoken';
import { format } from 'node:util';
import { rows, useStack, waitFor } from './support/stack';

const WEBHOOK_SECRET = 'test-webhook-jwt-secret-0123456789abcdef';
const NEXT_WEBHOOK_SECRET = 'test-webhook-jwt-secret-next-0123456789ab';
const API_KEY = 'test-qualtrics-api-key-0123456789abcdefgh';
const TASK_USER = 'qualtrics-task';
const TASK_PASSWORD = 'test-qualtrics-task-password-0123456789';

process.env['cds.requires.inboundCallers.credentials'] = JSON.stringify({
  emarsysWebhook: { jwtSecret: [WEBHOOK_SECRET, NEXT_WEBHOOK_SECRET], audience: 'survey-bridge', issuer: 'emarsys' },
  qualtricsWorkflow: { username: TASK_USER, password: TASK_PASSWORD, apiKey: API_KEY }
});

const stack = useStack();
const { SELECT } = cds.ql;

afterAll(() => {
  delete process.env['cds.requires.inboundCallers.credentials'];
});

function webhookJwt(claims: Record<string, unknown> = {}, secret = WEBHOOK_SECRET, options: jwt.SignOptions = { expiresIn: 300 }): string {
  return jwt.sign({ aud: 'survey-bridge', iss: 'emarsys', ...claims }, secret, { algorithm: 'HS256', ...options });
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

async function call(path: string, body: unknown, headers: Record<string, string>, method = 'POST') {
  const response = await fetch(`${stack.url}${path}`, {
    method, headers: { 'content-type': 'application/json', ...headers }, body: method === 'GET' ? undefined : JSON.stringify(body)
  });
  const text = await response.text();
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Plain-text bodies such as "Unauthorized" stay strings.
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

const webhookBody = (email: string) => ({ campaign: 'NPS-SANDBOX', email });
const scoreBody = (responseId: string) => ({ responseId, extRef: 'nobody@example.org', nps: '9' });

async function counts() {
  const [invitations] = await rows(SELECT.from('surveybridge.SurveyInvitations').columns('count(1) as count'));
  const [scores] = await rows(SELECT.from('surveybridge.ScoreResponses').columns('count(1) as count'));
  const [trips] = await rows(SELECT.from('surveybridge.RoundTrips').columns('count(1) as count'));
  return { invitations: Number(invitations.count), scores: Number(scores.count), roundTrips: Number(trips.count) };
}

/** Waits until the workers have finished every invitation and score, so no upstream call is still due. */
async function settled(): Promise<void> {
  await waitFor(async () => {
    const [open] = await rows(SELECT.from('surveybridge.SurveyInvitations').columns('count(1) as count').where({ status: { in: ['received', 'linkIssued'] } }));
    const [pending] = await rows(SELECT.from('surveybridge.ScoreResponses').columns('count(1) as count').where({ status: 'pending' }));
    return Number(open.count) + Number(pending.count) === 0;
  }, 20_000, 'open invitations and scores to finish');
}

/** Runs `work` while collecting everything written through console, and returns it as one text. */
async function captureConsole(work: () => Promise<void>): Promise<string> {
  const lines: string[] = [];
  const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
  const spies = methods.map(method => jest.spyOn(console, method).mockImplementation((...args: unknown[]) => {
    lines.push(format(...args));
  }));
  try {
    await work();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return lines.join('\n');
}

describe('Emarsys webhook JWT', () => {
  test('valid token creates an invitation', async () => {
    const response = await call('/inbound/generateLink', webhookBody('jwt-ok@example.org'), { authorization: `Bearer ${webhookJwt()}` });
    expect(response.status).toBe(202);
    expect(response.body.status).toBe('received');
  });

  test('token signed with the next secret is accepted', async () => {
    const token = webhookJwt({}, NEXT_WEBHOOK_SECRET);
    const response = await call('/inbound/generateLink', webhookBody('jwt-next@example.org'), { authorization: `Bearer ${token}` });
    expect(response.status).toBe(202);
  });

  const rejected: Array<[string, () => string, string]> = [
    ['wrong secret', () => webhookJwt({}, 'another-secret-that-is-long-enough-0123'), 'signature'],
    ['expired token', () => webhookJwt({ exp: Math.floor(Date.now() / 1000) - 3600 }, WEBHOOK_SECRET, {}), 'expired'],
    ['token without exp', () => webhookJwt({}, WEBHOOK_SECRET, {}), 'missing expiry'],
    ['foreign audience', () => webhookJwt({ aud: 'another-app' }), 'audience'],
    ['foreign issuer', () => webhookJwt({ iss: 'someone-else' }), 'issuer'],
    ['token valid only later', () => webhookJwt({ nbf: Math.floor(Date.now() / 1000) + 3600 }), 'not yet valid']
  ];

  test.each(rejected)('%s is rejected with 401', async (_name, token, reason) => {
    const response = await call('/inbound/generateLink', webhookBody('jwt-bad@example.org'), { authorization: `Bearer ${token()}` });
    expect(response.status).toBe(401);
    expect(response.body.error.code).toBe('UNAUTHORIZED');
    expect(response.body.error.message).toContain(`(${reason})`);
  });

  test('rejected token writes nothing and calls no upstream', async () => {
    await settled();
    const before = await counts();
    const upstreamBefore = stack.emarsys.calls.count() + stack.qualtrics.calls.count();
    const token = webhookJwt({}, 'another-secret-that-is-long-enough-0123');
    const response = await call('/inbound/generateLink', webhookBody('jwt-nowrite@example.org'), { authorization: `Bearer ${token}` });
    expect(response.status).toBe(401);
    await new Promise(resolve => setTimeout(resolve, 400));
    expect(await counts()).toEqual(before);
    expect(stack.emarsys.calls.count() + stack.qualtrics.calls.count()).toBe(upstreamBefore);
  });

  test('secret shorter than 32 characters is ignored', async () => {
    const settings = (cds.env.requires as any).inboundCallers.credentials.emarsysWebhook;
    const configured = settings.jwtSecret;
    settings.jwtSecret = 'short-secret';
    try {
      const token = webhookJwt({}, 'short-secret');
      let status = 0;
      const output = await captureConsole(async () => {
        status = (await call('/inbound/generateLink', webhookBody('jwt-short@example.org'), { authorization: `Bearer ${token}` })).status;
      });
      expect(status).toBe(401);
      expect(output).toContain('Ignoring emarsysWebhook.jwtSecret because it is shorter than 32 characters');
      expect(output).not.toContain('short-secret');
    } finally {
      settings.jwtSecret = configured;
    }
  });

  test('unsigned token is not accepted', async () => {
    const unsigned = jwt.sign({ aud: 'survey-bridge', iss: 'emarsys' }, '', { algorithm: 'none', expiresIn: 300 });
    const response = await call('/inbound/generateLink', webhookBody('jwt-none@example.org'), { authorization: `Bearer ${unsigned}` });
    expect(response.status).toBe(401);
  });

  test('token is not accepted for the score action', async () => {
    const response = await call('/inbound/ingestScore', scoreBody('R_JwtOnScore01'), { authorization: `Bearer ${webhookJwt()}` });
    expect(response.status).toBe(401);
  });

  test('token is not accepted for the audit trail', async () => {
    const response = await call('/audit/SurveyInvitations', undefined, { authorization: `Bearer ${webhookJwt()}` }, 'GET');
    expect(response.status).toBe(401);
  });
});

describe('Qualtrics workflow credentials', () => {
  test('API key header is accepted', async () => {
    const response = await call('/inbound/ingestScore', scoreBody('R_ApiKeyOk001'), { 'x-api-key': API_KEY });
    expect(response.status).toBe(202);
    expect(response.body.status).toBe('unmatched');
  });

  test('Basic task user is accepted', async () => {
    const response = await call('/inbound/ingestScore', scoreBody('R_BasicOk0001'), { authorization: basic(TASK_USER, TASK_PASSWORD) });
    expect(response.status).toBe(202);
  });

  test('wrong API key is rejected with 401', async () => {
    const response = await call('/inbound/ingestScore', scoreBody('R_ApiKeyBad01'), { 'x-api-key': `${API_KEY}x` });
    expect(response.status).toBe(401);
    expect(response.body.error.message).toContain('(wrong API key)');
  });

  test('wrong Basic password is rejected with 401', async () => {
    const response = await call('/inbound/ingestScore', scoreBody('R_BasicBad001'), { authorization: basic(TASK_USER, 'wrong-password') });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Basic/);
  });

  test('rejected key writes nothing', async () => {
    const before = await counts();
    const response = await call('/inbound/ingestScore', scoreBody('R_NoWrite0001'), { 'x-api-key': 'guess' });
    expect(response.status).toBe(401);
    expect(await counts()).toEqual(before);
  });

  test('API key is not accepted for the webhook action', async () => {
    const response = await call('/inbound/generateLink', webhookBody('key-on-webhook@example.org'), { 'x-api-key': API_KEY });
    expect(response.status).toBe(401);
  });

  test('API key is not accepted for the audit trail', async () => {
    const response = await call('/audit/SurveyInvitations', undefined, { 'x-api-key': API_KEY }, 'GET');
    expect(response.status).toBe(401);
  });

  test('Basic task user is not accepted for the audit trail', async () => {
    const response = await call('/audit/SurveyInvitations', undefined, { authorization: basic(TASK_USER, TASK_PASSWORD) }, 'GET');
    expect(response.status).toBe(401);
  });
});

describe('rejected credentials in logs', () => {
  test('log names the reason and never the credential', async () => {
    cds.log('inbound-auth', 'warn');
    const badToken = webhookJwt({}, 'another-secret-that-is-long-enough-0123');
    const badPassword = 'rejected-password-value-0123456789';
    const output = await captureConsole(async () => {
      await call('/inbound/generateLink', webhookBody('log-check@example.org'), { authorization: `Bearer ${badToken}` });
      await call('/inbound/ingestScore', scoreBody('R_LogCheck001'), { authorization: basic(TASK_USER, badPassword) });
      await call('/inbound/ingestScore', scoreBody('R_LogCheck002'), { 'x-api-key': 'rejected-api-key-value-0123456789' });
    });
    cds.log('inbound-auth', 'error');
    expect(output).toContain('Rejected Emarsys webhook credentials');
    for (const secret of [badToken, badPassword, 'rejected-api-key-value-0123456789', Buffer.from(`${TASK_USER}:${badPassword}`).toString('base64'),
      WEBHOOK_SECRET, NEXT_WEBHOOK_SECRET, API_KEY, TASK_PASSWORD]) {
      expect(output).not.toContain(secret);
    }
  });
});
