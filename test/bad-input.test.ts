/**
 * Bad-input sweep: generated malformed bodies for both inbound actions must all get a 4xx with a JSON
 * error, write nothing but their inbound round trip, and leave the server healthy.
 */
import cds from '@sap/cds';
import { USERS, rows, useStack } from './support/stack';

const stack = useStack();
const { SELECT } = cds.ql;

interface BadCase {
  name: string;
  body: Buffer | string;
  contentType?: string;
}

const WRONG_VALUES: unknown[] = [42, -1.5, true, false, null, [], ['a'], {}, { nested: 'x' }, '', ' ', '\u0000', 'x'.repeat(300)];

function webhookCases(): BadCase[] {
  const cases: BadCase[] = [];
  const valid = { campaign: 'NPS-SANDBOX', email: 'sweep@example.org' };
  for (const field of ['campaign', 'email', 'first_name', 'last_name', 'language']) {
    for (const value of WRONG_VALUES) {
      // Empty names are allowed, and a missing optional field is no error.
      if (['first_name', 'last_name', 'language'].includes(field) && (value === null || value === '' || value === ' ')) continue;
      cases.push({ name: `webhook ${field}=${JSON.stringify(value).slice(0, 20)}`, body: JSON.stringify({ ...valid, [field]: value }) });
    }
  }
  return cases;
}

function scoreCases(): BadCase[] {
  const cases: BadCase[] = [];
  const valid = { responseId: 'R_sweep0000000001', invitationId: '00000000-0000-4000-8000-000000000000', nps: '7' };
  for (const field of ['responseId', 'invitationId', 'surveyId', 'extRef']) {
    for (const value of WRONG_VALUES) {
      if (['surveyId', 'extRef'].includes(field) && (value === null || value === '' || value === ' ')) continue;
      if (field === 'invitationId' && (value === null || value === '' || value === ' ')) continue;
      if (typeof value === 'number' && field === 'extRef') continue;
      cases.push({ name: `score ${field}=${JSON.stringify(value).slice(0, 20)}`, body: JSON.stringify({ ...valid, [field]: value }) });
    }
  }
  cases.push({ name: 'score npsGroup=9', body: JSON.stringify({ ...valid, npsGroup: '9' }) });
  return cases;
}

function syntaxCases(): BadCase[] {
  let deep = '1';
  for (let depth = 0; depth < 20_000; depth++) deep = `[${deep}]`;
  return [
    { name: 'empty body', body: '' },
    { name: 'trailing comma', body: '{"campaign": "NPS-SANDBOX", "email": "a@example.org",}' },
    { name: 'typographic quotes', body: '{“campaign”: “NPS-SANDBOX”, “email”: “a@example.org”}' },
    { name: 'single quotes', body: "{'campaign': 'NPS-SANDBOX'}" },
    { name: 'invalid UTF-8', body: Buffer.concat([Buffer.from('{"campaign": "NPS-'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('", "email": "a@example.org"}')]) },
    { name: 'deep nesting', body: `{"campaign": "NPS-SANDBOX", "email": ${deep}}` },
    { name: 'deep array body', body: deep },
    { name: 'JSON string body', body: '"NPS-SANDBOX"' },
    { name: 'JSON null body', body: 'null' },
    { name: 'text/plain content type', body: '{"campaign": "NPS-SANDBOX", "email": "a@example.org"}', contentType: 'text/plain' },
    { name: 'form content type', body: 'campaign=NPS-SANDBOX&email=a@example.org', contentType: 'application/x-www-form-urlencoded' },
    { name: 'body over the size limit', body: JSON.stringify({ campaign: 'NPS-SANDBOX', email: 'a@example.org', padding: 'x'.repeat(70 * 1024) }) },
    { name: 'huge string field', body: JSON.stringify({ campaign: 'NPS-SANDBOX', email: `${'a'.repeat(60_000)}@example.org` }) }
  ];
}

async function send(path: string, badCase: BadCase, user: { username: string; password: string }) {
  const response = await fetch(`${stack.url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': badCase.contentType ?? 'application/json',
      authorization: `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`
    },
    body: badCase.body as BodyInit
  });
  const text = await response.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}

async function businessRows(): Promise<number> {
  const [invitations] = await rows(SELECT.from('surveybridge.SurveyInvitations').columns('count(1) as count'));
  const [scores] = await rows(SELECT.from('surveybridge.ScoreResponses').columns('count(1) as count'));
  return Number(invitations.count) + Number(scores.count);
}

const targets: Array<[string, string, () => BadCase[], { username: string; password: string }]> = [
  ['generateLink', '/inbound/generateLink', () => [...webhookCases(), ...syntaxCases()], USERS.webhook],
  ['ingestScore', '/inbound/ingestScore', () => [...scoreCases(), ...syntaxCases()], USERS.workflow]
];

describe.each(targets)('%s sweep', (_action, path, cases, user) => {
  test('every malformed body gets a 4xx JSON error and writes nothing', async () => {
    const before = await businessRows();
    const failures: string[] = [];
    for (const badCase of cases()) {
      const response = await send(path, badCase, user);
      const ok = response.status >= 400 && response.status < 500 && typeof response.json?.error?.message === 'string';
      if (!ok) failures.push(`${badCase.name}: ${response.status} ${response.text.slice(0, 120)}`);
    }
    expect(failures).toEqual([]);
    expect(await businessRows()).toBe(before);
    const health = await fetch(`${stack.url}/health`);
    expect(health.status).toBe(200);
  }, 60_000);
});

test('oversized body is answered 413', async () => {
  const response = await send('/inbound/generateLink', syntaxCases().find(badCase => badCase.name === 'body over the size limit')!, USERS.webhook);
  expect(response.status).toBe(413);
  expect(response.json.error.code).toBe('BODY_TOO_LARGE');
});

test('valid call still works after the sweep', async () => {
  stack.emarsys.addContact({ '3': 'after-sweep@example.org' });
  const response = await stack.post('/inbound/generateLink', { campaign: 'NPS-SANDBOX', email: 'after-sweep@example.org' });
  expect(response.status).toBe(202);
});
