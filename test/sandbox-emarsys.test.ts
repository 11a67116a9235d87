/**
 * Tests of the local Emarsys stand-in over real HTTP: each test starts a fresh server on a free port.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { type EmarsysSandbox, type MailRecord, startEmarsysSandbox, wsseDigest } from '../sandbox/emarsys';

const NPS_SCORE = '10001';
const NPS_CATEGORY = '10002';

interface Reply {
  status: number;
  body: any;
  headers: Headers;
}

let sandbox: EmarsysSandbox;

beforeEach(async () => {
  sandbox = await startEmarsysSandbox();
});

afterEach(async () => {
  await sandbox.close();
});

/** Formats a time as Created without milliseconds, e.g. 2024-01-01T12:00:00Z. */
function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

interface WsseParts {
  secret?: string;
  nonce?: string;
  created?: string;
  user?: string;
}

function wsseHeader(options: WsseParts = {}): string {
  const nonce = options.nonce ?? randomBytes(16).toString('hex');
  const created = options.created ?? isoSeconds(Date.now());
  const digest = wsseDigest(nonce, created, options.secret ?? 'sandbox-wsse-secret');
  const user = options.user ?? 'sandbox001';
  return usernameToken(user, digest, nonce, created);
}

function usernameToken(user: string, digest: string, nonce: string, created: string): string {
  const params = `Username="${user}", PasswordDigest="${digest}", Nonce="${nonce}", Created="${created}"`;
  return `UsernameToken ${params}`;
}

async function toReply(response: Response): Promise<Reply> {
  const text = await response.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Plain-text bodies stay strings.
  }
  return { status: response.status, body, headers: response.headers };
}

async function requestToken(clientId = 'sandbox-client', clientSecret = 'sandbox-client-secret',
  form = 'grant_type=client_credentials'): Promise<Reply> {
  const basic = Buffer.from(`${clientId}:${clientSecret}`).toString('base64');
  const response = await fetch(sandbox.tokenUrl, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
  });
  return toReply(response);
}

async function accessToken(): Promise<string> {
  const reply = await requestToken();
  return reply.body.access_token;
}

async function v3(method: string, path: string, body?: unknown, token?: string): Promise<Reply> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  headers.authorization = `Bearer ${token ?? (await accessToken())}`;
  const response = await fetch(sandbox.apiV3Url + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  return toReply(response);
}

async function v2(method: string, path: string, body?: unknown, header = wsseHeader(),
  extraHeaders: Record<string, string> = {}): Promise<Reply> {
  let text: string | undefined;
  if (typeof body === 'string') text = body;
  else if (body !== undefined) text = JSON.stringify(body);
  const response = await fetch(sandbox.apiV2Url + path, {
    method,
    headers: { 'content-type': 'application/json', 'x-wsse': header, ...extraHeaders },
    body: text,
  });
  return toReply(response);
}

function trigger(body: unknown, eventId = '4711'): Promise<Reply> {
  return v3('POST', `event/${eventId}/trigger`, body);
}

function seedPeople(): { erika: string; max: string } {
  const erika = sandbox.addContact({ '1': 'Erika', '3': 'erika@example.org' }).id;
  const max = sandbox.addContact({ '1': 'Max', '3': 'max@example.org' }).id;
  return { erika, max };
}

describe('wsseDigest', () => {
  test('matches known vector', () => {
    const digest = wsseDigest('0123456789abcdef0123456789abcdef', '2024-01-01T12:00:00Z', 'example-secret');
    expect(digest).toBe('YTE4MzU5N2RjYjE3MGY4YzIyNzMxY2EyNWVjOWY4YjVhZDVhNzY0NA==');
  });
});

describe('seed data', () => {
  test('has NPS fields and invite event', async () => {
    expect(sandbox.fields.find(field => field.id === 10001)).toEqual(
      { id: 10001, name: 'nps_score', application_type: 'numeric', string_id: 'nps_score' });
    expect(sandbox.fields.find(field => field.id === 10002)?.application_type).toBe('shorttext');
    expect(sandbox.fields.find(field => field.id === 3)?.string_id).toBe('email');
    expect(sandbox.fields.find(field => field.id === 31)?.string_id).toBe('optin');
    expect(sandbox.events.get('4711')).toEqual(
      { id: '4711', name: 'nps_survey_invite', programIds: [9001], emailIds: [] });
  });

  test('urls point at loopback', () => {
    expect(sandbox.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(sandbox.apiV2Url).toBe(`${sandbox.url}/api/v2/`);
    expect(sandbox.apiV3Url).toBe(`${sandbox.url}/api/v3/`);
    expect(sandbox.tokenUrl).toBe(`${sandbox.url}/oauth2/token`);
  });
});

describe('OAuth token', () => {
  test('token opens v3 API', async () => {
    const token = await requestToken();
    expect(token.status).toBe(200);
    expect(token.body.token_type).toBe('bearer');
    expect(token.body.expires_in).toBe(3600);
    expect(typeof token.body.access_token).toBe('string');

    const events = await v3('GET', 'event', undefined, token.body.access_token);
    expect(events.status).toBe(200);
    expect(events.body.replyCode).toBe(0);
    expect(events.body.replyText).toBe('OK');
    expect(events.body.data).toEqual([expect.objectContaining({ id: '4711', name: 'nps_survey_invite' })]);
  });

  test('wrong client secret is invalid_client', async () => {
    const reply = await requestToken('sandbox-client', 'wrong');
    expect(reply.status).toBe(401);
    expect(reply.body.error).toBe('invalid_client');
  });

  test('wrong grant is unsupported_grant_type', async () => {
    const reply = await requestToken(undefined, undefined, 'grant_type=password');
    expect(reply.status).toBe(400);
    expect(reply.body.error).toBe('unsupported_grant_type');
  });

  test('v3 without token is 401', async () => {
    const response = await fetch(`${sandbox.apiV3Url}event`);
    const reply = await toReply(response);
    expect(reply.status).toBe(401);
    expect(reply.body.replyCode).toBe(1);
    expect(reply.body.data).toBe('');
  });

  test('v3 with unknown token is 401', async () => {
    const reply = await v3('GET', 'event', undefined, 'not-a-token');
    expect(reply.status).toBe(401);
    expect(reply.body.replyCode).toBe(1);
  });

  test('expired token is 401', async () => {
    sandbox.setOptions({ tokenLifetimeSeconds: 1 });
    const token = await accessToken();
    expect((await v3('GET', 'event', undefined, token)).status).toBe(200);
    await new Promise(resolve => setTimeout(resolve, 1100));
    const reply = await v3('GET', 'event', undefined, token);
    expect(reply.status).toBe(401);
    expect(reply.body.replyCode).toBe(1);
  });

  test('v2 rejects bearer token', async () => {
    const token = await accessToken();
    const headers = { authorization: `Bearer ${token}` };
    const response = await fetch(`${sandbox.apiV2Url}event`, { headers });
    const reply = await toReply(response);
    expect(reply.status).toBe(401);
    expect(reply.body.replyCode).toBe(1);
  });
});

describe('WSSE', () => {
  test('valid header opens v2 API', async () => {
    const reply = await v2('GET', 'event');
    expect(reply.status).toBe(200);
    expect(reply.body.replyCode).toBe(0);
  });

  test('WSSE header name is accepted', async () => {
    const response = await fetch(`${sandbox.apiV2Url}event`, { headers: { wsse: wsseHeader() } });
    expect(response.status).toBe(200);
    expect((await response.json()).replyCode).toBe(0);
  });

  test('wrong digest is 401', async () => {
    const reply = await v2('GET', 'event', undefined, wsseHeader({ secret: 'wrong-secret' }));
    expect(reply.status).toBe(401);
    expect(reply.body.replyCode).toBe(1);
    expect(reply.body.replyText).toMatch(/^Unauthorized/);
  });

  test('raw SHA-1 digest is 401', async () => {
    const nonce = randomBytes(16).toString('hex');
    const created = isoSeconds(Date.now());
    const raw = require('node:crypto').createHash('sha1')
      .update(nonce + created + 'sandbox-wsse-secret').digest('base64');
    const reply = await v2('GET', 'event', undefined, usernameToken('sandbox001', raw, nonce, created));
    expect(reply.status).toBe(401);
    expect(reply.body.replyCode).toBe(1);
  });

  test('unknown user is 401', async () => {
    const reply = await v2('GET', 'event', undefined, wsseHeader({ user: 'someone-else' }));
    expect(reply.status).toBe(401);
    expect(reply.body.replyCode).toBe(1);
  });

  test('reused nonce is 401', async () => {
    const header = wsseHeader();
    expect((await v2('GET', 'event', undefined, header)).status).toBe(200);
    const reply = await v2('GET', 'event', undefined, header);
    expect(reply.status).toBe(401);
    expect(reply.body.replyCode).toBe(1);
  });

  test('short nonce is 401', async () => {
    const reply = await v2('GET', 'event', undefined, wsseHeader({ nonce: 'abc123' }));
    expect(reply.status).toBe(401);
    expect(reply.body.replyCode).toBe(1);
  });

  test('Created outside 5 minutes is 401', async () => {
    const created = isoSeconds(Date.now() - 6 * 60_000);
    const reply = await v2('GET', 'event', undefined, wsseHeader({ created }));
    expect(reply.status).toBe(401);
    expect(reply.body.replyCode).toBe(1);
    expect(reply.body.replyText).toBe('Unauthorized Time frame is invalid');
  });

  test('Created without zone is GMT+1', async () => {
    const created = isoSeconds(Date.now() + 3600_000).slice(0, -1);
    const reply = await v2('GET', 'event', undefined, wsseHeader({ created }));
    expect(reply.status).toBe(200);
    expect(reply.body.replyCode).toBe(0);
  });

  test('Created with +0000 offset', async () => {
    const created = isoSeconds(Date.now()).replace('Z', '+0000');
    const reply = await v2('GET', 'event', undefined, wsseHeader({ created }));
    expect(reply.status).toBe(200);
  });

  test('server clock skew uses Date header', async () => {
    sandbox.setOptions({ clockSkewMs: 10 * 60_000 });
    const rejected = await v2('GET', 'event');
    expect(rejected.status).toBe(401);
    expect(rejected.body.replyText).toBe('Unauthorized Time frame is invalid');

    const serverTime = Date.parse(rejected.headers.get('date')!);
    expect(Math.abs(serverTime - (Date.now() + 10 * 60_000))).toBeLessThan(5_000);
    const accepted = await v2('GET', 'event', undefined, wsseHeader({ created: isoSeconds(serverTime) }));
    expect(accepted.status).toBe(200);
  });
});

describe('event trigger', () => {
  test('single trigger mails contact', async () => {
    const { erika } = seedPeople();
    const mails: MailRecord[] = [];
    sandbox.on('mail', mail => mails.push(mail));
    const reply = await trigger({
      key_id: '3', external_id: 'erika@example.org', data: { survey_url: 'https://survey.example/x' },
    });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ replyCode: 0, replyText: 'OK', data: {} });
    expect(sandbox.mails).toHaveLength(1);
    expect(sandbox.mails[0]).toMatchObject({
      eventId: '4711', contactId: erika, externalId: 'erika@example.org', keyId: '3',
      data: { survey_url: 'https://survey.example/x' },
    });
    expect(mails).toEqual(sandbox.mails);
  });

  test('single trigger unknown contact is 2008', async () => {
    const reply = await trigger({ key_id: 3, external_id: 'nobody@example.org' });
    expect(reply.status).toBe(400);
    expect(reply.body.replyCode).toBe(2008);
    expect(reply.body.replyText).toBe('No contact found with the external id: 3 - nobody@example.org');
    expect(sandbox.mails).toHaveLength(0);
  });

  test('single trigger ambiguous contact is 2010', async () => {
    sandbox.addContact({ '3': 'twin@example.org' });
    sandbox.addContact({ '3': 'twin@example.org' });
    const reply = await trigger({ key_id: '3', external_id: 'twin@example.org' });
    expect(reply.status).toBe(400);
    expect(reply.body.replyCode).toBe(2010);
    expect(sandbox.mails).toHaveLength(0);
  });

  test('single trigger by uid', async () => {
    const contact = sandbox.addContact({ '3': 'uid@example.org' });
    const reply = await trigger({ key_id: 'uid', external_id: contact.uid });
    expect(reply.status).toBe(200);
    expect(sandbox.mails[0].contactId).toBe(contact.id);
  });

  test('batch reports 2008 inside 200', async () => {
    const { erika } = seedPeople();
    const reply = await trigger({
      key_id: '3',
      contacts: [
        { external_id: 'erika@example.org', trigger_id: 't-1', data: { survey_url: 'https://s.example/a' } },
        { external_id: 'ghost@example.org', trigger_id: 't-2' },
      ],
    });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      replyCode: 0,
      replyText: 'OK',
      data: {
        ids: [erika],
        errors: {
          'ghost@example.org': { '2008': 'No contact found with the external id: 3 - ghost@example.org' },
        },
      },
    });
    expect(sandbox.mails.map(mail => mail.triggerId)).toEqual(['t-1']);
  });

  test('batch reports 2010 for duplicate key', async () => {
    sandbox.addContact({ '3': 'twin@example.org' });
    sandbox.addContact({ '3': 'twin@example.org' });
    const reply = await trigger({ key_id: '3', contacts: [{ external_id: 'twin@example.org' }] });
    expect(reply.status).toBe(200);
    expect(reply.body.data.ids).toEqual([]);
    expect(Object.keys(reply.body.data.errors['twin@example.org'])).toEqual(['2010']);
  });

  test('batch errors as list option', async () => {
    sandbox.setOptions({ triggerErrorsShape: 'list' });
    const reply = await trigger({ key_id: '3', contacts: [{ external_id: 'ghost@example.org' }] });
    expect(reply.status).toBe(200);
    expect(reply.body.data.errors).toEqual([{
      key: 'ghost@example.org',
      errorCode: '2008',
      errorMsg: 'No contact found with the external id: 3 - ghost@example.org',
    }]);
  });

  test('batch over 1000 is 1000', async () => {
    const contacts = Array.from({ length: 1001 }, (_, i) => ({ external_id: `c${i}@example.org` }));
    const reply = await trigger({ key_id: '3', contacts });
    expect(reply.status).toBe(400);
    expect(reply.body.replyCode).toBe(1000);
    expect(reply.body.replyText).toBe('The request exceeded the maximum batch size of 1,000');
  });

  test('batch of exactly 1000 is accepted', async () => {
    const contacts = Array.from({ length: 1000 }, (_, i) => ({ external_id: `c${i}@example.org` }));
    const reply = await trigger({ key_id: '3', contacts });
    expect(reply.status).toBe(200);
    expect(Object.keys(reply.body.data.errors)).toHaveLength(1000);
  });

  test('trigger_id mails only once', async () => {
    const { erika } = seedPeople();
    const listener = jest.fn();
    sandbox.on('mail', listener);
    const body = { key_id: '3', contacts: [{ external_id: 'erika@example.org', trigger_id: 'nps-1' }] };
    const first = await trigger(body);
    const second = await trigger(body);
    expect(first.body.data.ids).toEqual([erika]);
    expect(second.status).toBe(200);
    expect(second.body.data.ids).toEqual([erika]);
    expect(sandbox.mails).toHaveLength(1);
    expect(listener).toHaveBeenCalledTimes(1);
    expect(sandbox.triggerCounts.get('nps-1')).toBe(2);
    expect(sandbox.duplicateTriggers()).toBe(1);
  });

  test('trigger without trigger_id always mails', async () => {
    seedPeople();
    const body = { key_id: '3', external_id: 'erika@example.org' };
    await trigger(body);
    await trigger(body);
    expect(sandbox.mails).toHaveLength(2);
    expect(sandbox.duplicateTriggers()).toBe(0);
  });

  test('requireConnectedProgram switches 5005', async () => {
    seedPeople();
    const orphan = sandbox.addEvent('orphan_event');
    const body = { key_id: '3', external_id: 'erika@example.org' };
    expect((await v3('POST', `event/${orphan}/trigger`, body)).status).toBe(200);

    sandbox.setOptions({ requireConnectedProgram: true });
    const rejected = await v3('POST', `event/${orphan}/trigger`, body);
    expect(rejected.status).toBe(400);
    expect(rejected.body.replyCode).toBe(5005);
    expect(rejected.body.replyText).toBe('No program or campaign is triggered.');
    expect((await trigger(body)).status).toBe(200);
    expect(sandbox.mails).toHaveLength(2);
  });

  test('unknown event is 5001', async () => {
    const reply = await v3('POST', 'event/999/trigger', { key_id: '3', external_id: 'a@example.org' });
    expect(reply.status).toBe(400);
    expect(reply.body.replyCode).toBe(5001);
  });

  test('invalid key_id is 2004', async () => {
    const reply = await trigger({ key_id: '777', external_id: 'a@example.org' });
    expect(reply.status).toBe(400);
    expect(reply.body.replyCode).toBe(2004);
  });

  test('event_time formats', async () => {
    seedPeople();
    const send = (eventTime: string) =>
      trigger({ key_id: '3', external_id: 'erika@example.org', event_time: eventTime });
    expect((await send('2024-03-01T09:00:00Z')).status).toBe(200);
    expect((await send('2024-03-01T09:00:00.000Z')).status).toBe(200);
    const invalid = [
      '2024-03-01 09:00:00', '2024-03-01T09:00:00+01:00', '2024-03-01T09:00Z', '2024-13-01T09:00:00Z',
    ];
    for (const bad of invalid) {
      const reply = await send(bad);
      expect(reply.status).toBe(400);
      expect(reply.body.replyCode).toBe(5010);
    }
    expect(sandbox.mails).toHaveLength(2);
  });

  test('data not object is 5011', async () => {
    seedPeople();
    for (const data of ['text', [1, 2], null]) {
      const reply = await trigger({ key_id: '3', external_id: 'erika@example.org', data });
      expect(reply.status).toBe(400);
      expect(reply.body.replyCode).toBe(5011);
    }
  });

  test('body over 1 MB is 5008', async () => {
    seedPeople();
    const reply = await trigger({
      key_id: '3', external_id: 'erika@example.org', data: { blob: 'x'.repeat(1024 * 1024) },
    });
    expect(reply.status).toBe(400);
    expect(reply.body.replyCode).toBe(5008);
    expect(sandbox.mails).toHaveLength(0);
  });

  test('undecodable body is 1010', async () => {
    const reply = await v2('POST', 'event/4711/trigger', '{"key_id": "3",');
    expect(reply.status).toBe(400);
    expect(reply.body.replyCode).toBe(1010);
  });

  test('non-JSON content type is 1010', async () => {
    const body = JSON.stringify({ key_id: '3', external_id: 'erika@example.org' });
    const headers = { 'content-type': 'text/plain' };
    const reply = await v2('POST', 'event/4711/trigger', body, wsseHeader(), headers);
    expect(reply.status).toBe(400);
    expect(reply.body.replyCode).toBe(1010);
  });

  test('wrong shape is 1001', async () => {
    const shapes = [[1, 2], { key_id: '3', contacts: 'erika@example.org' }, { external_id: 'a@example.org' }];
    for (const body of shapes) {
      const reply = await trigger(body);
      expect(reply.status).toBe(400);
      expect(reply.body.replyCode).toBe(1001);
    }
  });
});

describe('contact update', () => {
  test('reports 2007 and 2008, applies rest', async () => {
    const { erika, max } = seedPeople();
    const reply = await v3('PUT', 'contact', {
      key_id: '3',
      contacts: [
        { '3': 'erika@example.org', [NPS_SCORE]: '9', [NPS_CATEGORY]: 'promoter' },
        { '3': 'max@example.org', [NPS_SCORE]: 'nine' },
        { '3': 'ghost@example.org', [NPS_SCORE]: '3' },
      ],
    });
    expect(reply.status).toBe(200);
    expect(reply.body.replyCode).toBe(0);
    expect(reply.body.data.ids).toEqual([erika]);
    expect(Object.keys(reply.body.data.errors['max@example.org'])).toEqual(['2007']);
    expect(reply.body.data.errors['ghost@example.org']).toEqual(
      { '2008': 'No contact found with the external id: 3 - ghost@example.org' });
    expect(sandbox.contacts.get(erika)!.fields[NPS_SCORE]).toBe('9');
    expect(sandbox.contacts.get(max)!.fields[NPS_SCORE]).toBeUndefined();
    expect(sandbox.contactUpdates).toEqual([
      { contactId: erika, fields: { [NPS_SCORE]: '9', [NPS_CATEGORY]: 'promoter' }, at: expect.any(Number) },
    ]);
    expect(sandbox.contacts.size).toBe(2);
  });

  test('unknown field is 2006', async () => {
    seedPeople();
    const contacts = [{ '3': 'erika@example.org', '424242': 'x' }];
    const reply = await v3('PUT', 'contact', { key_id: '3', contacts });
    expect(reply.status).toBe(400);
    expect(reply.body.replyCode).toBe(2006);
    expect(sandbox.contactUpdates).toHaveLength(0);
  });

  test('create_if_not_exists creates contact', async () => {
    const { erika } = seedPeople();
    const reply = await v3('PUT', 'contact/?create_if_not_exists=1', {
      key_id: '3',
      contacts: [
        { '3': 'erika@example.org', [NPS_SCORE]: '7' },
        { '3': 'new@example.org', [NPS_SCORE]: '10' },
      ],
    });
    expect(reply.status).toBe(200);
    expect(reply.body.data.ids[0]).toBe(erika);
    expect(typeof reply.body.data.ids[1]).toBe('number');
    const created = sandbox.contacts.get(String(reply.body.data.ids[1]))!;
    expect(created.fields).toEqual({ '3': 'new@example.org', [NPS_SCORE]: '10' });
    expect(sandbox.createIfNotExistsCalls).toBe(1);
    expect(sandbox.contactUpdates).toHaveLength(2);
  });

  test('create reuses key within batch', async () => {
    const rows = [{ '3': 'new@example.org', [NPS_SCORE]: '5' }, { '3': 'new@example.org', [NPS_SCORE]: '6' }];
    const reply = await v3('PUT', 'contact?create_if_not_exists=1', { key_id: '3', contacts: rows });
    expect(reply.body.data.ids).toEqual([expect.any(Number), String(reply.body.data.ids[0])]);
    expect(sandbox.contacts.size).toBe(1);
    expect([...sandbox.contacts.values()][0].fields[NPS_SCORE]).toBe('6');
  });

  test('flat single contact', async () => {
    const { erika } = seedPeople();
    const reply = await v2('PUT', 'contact', { key_id: '3', '3': 'erika@example.org', [NPS_SCORE]: '10' });
    expect(reply.status).toBe(200);
    expect(reply.body.data).toEqual({ ids: [erika], errors: {} });
    expect(sandbox.contacts.get(erika)!.fields[NPS_SCORE]).toBe('10');
  });

  test('key by internal id', async () => {
    const { max } = seedPeople();
    const reply = await v3('PUT', 'contact', { key_id: 'id', contacts: [{ id: max, [NPS_SCORE]: '0' }] });
    expect(reply.body.data.ids).toEqual([max]);
    expect(sandbox.contacts.get(max)!.fields[NPS_SCORE]).toBe('0');
  });

  test('over 1000 contacts is 1000', async () => {
    const contacts = Array.from({ length: 1001 }, (_, i) => ({ '3': `c${i}@example.org` }));
    const reply = await v3('PUT', 'contact', { key_id: '3', contacts });
    expect(reply.status).toBe(400);
    expect(reply.body.replyCode).toBe(1000);
  });

  test('opt-in accepts only 1, 2 and null', async () => {
    const { erika } = seedPeople();
    const cases = [['1', true], ['2', true], [null, true], ['true', false], ['0', false]] as const;
    for (const [value, ok] of cases) {
      const contacts = [{ '3': 'erika@example.org', '31': value }];
      const reply = await v3('PUT', 'contact', { key_id: '3', contacts });
      expect(reply.body.data.ids).toEqual(ok ? [erika] : []);
    }
  });

  test('JSON numbers follow acceptJsonNumbers', async () => {
    const { erika } = seedPeople();
    const body = { key_id: '3', contacts: [{ '3': 'erika@example.org', [NPS_SCORE]: 8 }] };
    const accepted = await v3('PUT', 'contact', body);
    expect(accepted.body.data.ids).toEqual([erika]);
    expect(sandbox.contacts.get(erika)!.fields[NPS_SCORE]).toBe('8');

    sandbox.setOptions({ acceptJsonNumbers: false });
    const rejected = await v3('PUT', 'contact', body);
    expect(rejected.body.data.ids).toEqual([]);
    expect(Object.keys(rejected.body.data.errors['erika@example.org'])).toEqual(['2007']);
  });
});

describe('contact getdata', () => {
  test('returns fields and 2008 errors', async () => {
    const { erika } = seedPeople();
    const uid = sandbox.contacts.get(erika)!.uid;
    const reply = await v3('POST', 'contact/getdata', {
      keyId: '3', keyValues: ['erika@example.org', 'ghost@example.org'], fields: ['1', NPS_SCORE],
    });
    expect(reply.status).toBe(200);
    expect(reply.body.data).toEqual({
      result: [{ '1': 'Erika', [NPS_SCORE]: null, id: erika, uid }],
      errors: [
        { key: 'ghost@example.org', errorCode: '2008', errorMsg: 'No contact found with the external id: 3' },
      ],
    });
  });

  test('result false when nothing found', async () => {
    const body = { keyId: '3', keyValues: ['ghost@example.org'], fields: ['1'] };
    const reply = await v3('POST', 'contact/getdata', body);
    expect(reply.status).toBe(200);
    expect(reply.body.data.result).toBe(false);
    expect(reply.body.data.errors).toHaveLength(1);
  });

  test('keyValues not array is 10001', async () => {
    const reply = await v3('POST', 'contact/getdata', { keyId: '3', keyValues: 'erika@example.org' });
    expect(reply.status).toBe(400);
    expect(reply.body.replyCode).toBe(10001);
  });
});

describe('events and fields', () => {
  test('event get returns summary', async () => {
    const reply = await v3('GET', 'event/4711');
    expect(reply.body.data).toEqual({ id: '4711', name: 'nps_survey_invite', created: expect.any(String) });
  });

  test('event usages lists program', async () => {
    const reply = await v2('GET', 'event/4711/usages');
    expect(reply.status).toBe(200);
    expect(reply.body.data).toEqual({ program_ids: [9001], email_ids: [], interactions_program_ids: [] });
  });

  test('unknown event usages is 5001', async () => {
    const reply = await v3('GET', 'event/12345/usages');
    expect(reply.status).toBe(400);
    expect(reply.body.replyCode).toBe(5001);
  });

  test('field translate lists fields', async () => {
    const id = sandbox.addField('survey_date', 'date');
    const reply = await v3('GET', 'field/translate/en');
    expect(reply.status).toBe(200);
    expect(reply.body.data).toContainEqual(
      { id: 10001, name: 'nps_score', application_type: 'numeric', string_id: 'nps_score' });
    expect(reply.body.data).toContainEqual(
      { id, name: 'survey_date', application_type: 'date', string_id: 'survey_date' });
  });

  test('unknown path is 404 1001', async () => {
    const reply = await v3('GET', 'no/such/thing');
    expect(reply.status).toBe(404);
    expect(reply.body).toEqual({ replyCode: 1001, replyText: 'Not found', data: '' });
  });
});

describe('rate limit', () => {
  test('429 past limit with headers', async () => {
    sandbox.setOptions({ rateLimitPerMinute: 2 });
    const token = await accessToken();
    const first = await v3('GET', 'event', undefined, token);
    expect(first.headers.get('x-ratelimit-limit')).toBe('2');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('1');
    await v3('GET', 'event', undefined, token);
    const limited = await v3('GET', 'event', undefined, token);
    expect(limited.status).toBe(429);
    expect(limited.body.replyCode).toBe(7003);
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
    const reset = Number(limited.headers.get('x-ratelimit-reset'));
    expect(reset).toBeGreaterThan(Date.now() / 1000);
    expect(reset).toBeLessThanOrEqual(Date.now() / 1000 + 61);
  });

  test('WSSE and OAuth have separate windows', async () => {
    sandbox.setOptions({ rateLimitPerMinute: 1 });
    expect((await v2('GET', 'event')).status).toBe(200);
    expect((await v3('GET', 'event')).status).toBe(200);
    expect((await v2('GET', 'event')).status).toBe(429);
  });

  test('endpoint scope separates windows', async () => {
    sandbox.setOptions({ rateLimitPerMinute: 1, rateLimitScope: 'endpoint' });
    expect((await v2('GET', 'event')).status).toBe(200);
    expect((await v2('GET', 'field/translate/en')).status).toBe(200);
    expect((await v2('GET', 'event')).status).toBe(429);
  });

  test('headers use documented casing', async () => {
    const raw = await new Promise<string[]>((resolve, reject) => {
      http.get(`${sandbox.apiV2Url}event`, { headers: { 'x-wsse': wsseHeader() } }, response => {
        response.resume();
        resolve(response.rawHeaders.filter((_, i) => i % 2 === 0));
      }).on('error', reject);
    });
    const expected = ['X-RateLimit-Limit', 'X-Ratelimit-Remaining', 'X-RateLimit-Reset', 'Date'];
    expect(raw).toEqual(expect.arrayContaining(expected));
  });
});

describe('faults', () => {
  test('injected 5xx is 500 1003', async () => {
    sandbox.setOptions({ plain503Fraction: 0 });
    sandbox.setFaults({ error5xxRate: 1 });
    const reply = await v2('GET', 'event');
    expect(reply.status).toBe(500);
    expect(reply.body.replyCode).toBe(1003);
  });

  test('injected 5xx as plain 503', async () => {
    sandbox.setOptions({ plain503Fraction: 1 });
    sandbox.setFaults({ error5xxRate: 1 });
    const reply = await v2('GET', 'event');
    expect(reply.status).toBe(503);
    expect(reply.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(reply.body).toBe('The system is overloaded for this resource.');
  });

  test('injected 429 is 7003', async () => {
    sandbox.setFaults({ rate429: 1 });
    const reply = await v3('GET', 'event');
    expect(reply.status).toBe(429);
    expect(reply.body.replyCode).toBe(7003);
  });

  test('faults skip vendor logic', async () => {
    seedPeople();
    sandbox.setFaults({ error5xxRate: 1 });
    await trigger({ key_id: '3', external_id: 'erika@example.org' });
    expect(sandbox.mails).toHaveLength(0);
  });
});

describe('call log', () => {
  test('records batch trigger entry', async () => {
    seedPeople();
    await v3('POST', 'event/4711/trigger?x=1', {
      key_id: '3', contacts: [{ external_id: 'erika@example.org' }, { external_id: 'ghost@example.org' }],
    });
    const entry = sandbox.calls.entries.find(call => call.operation === 'triggerBatch');
    expect(entry).toMatchObject({
      method: 'POST', path: '/api/v3/event/4711/trigger', status: 200, code: 0, items: 2,
    });
    expect(sandbox.calls.count(call => call.operation === 'token')).toBe(1);
  });

  test('records 401 with reply code', async () => {
    await v2('GET', 'event', undefined, wsseHeader({ secret: 'wrong' }));
    const expected = expect.objectContaining({ operation: 'eventList', status: 401, code: 1 });
    expect(sandbox.calls.entries).toEqual([expected]);
  });
});

describe('admin endpoints', () => {
  test('seed contacts and read state', async () => {
    const seeded = await fetch(`${sandbox.url}/__sandbox/contacts`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ '3': 'a@example.org' }, { '3': 'b@example.org' }]),
    });
    expect(seeded.status).toBe(201);
    expect(await seeded.json()).toHaveLength(2);
    await trigger({ key_id: '3', external_id: 'a@example.org', trigger_id: 'x' });
    await trigger({ key_id: '3', external_id: 'a@example.org', trigger_id: 'x' });

    const state = await (await fetch(`${sandbox.url}/__sandbox/state`)).json();
    expect(state).toEqual({
      contacts: 2, mails: 1, duplicateTriggers: 1, contactUpdates: 0, createIfNotExistsCalls: 0,
    });
  });

  test('faults endpoint merges knobs', async () => {
    const response = await fetch(`${sandbox.url}/__sandbox/faults`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rate429: 1 }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ rate429: 1, error5xxRate: 0 });
    expect((await v3('GET', 'event')).status).toBe(429);
  });

  test('faults endpoint rejects unknown knob', async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const response = await fetch(`${sandbox.url}/__sandbox/faults`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ chaos: 1 }),
    });
    expect(response.status).toBe(400);
    expect((await response.json()).error).toMatch(/Unknown fault 'chaos'/);
    expect(warn).toHaveBeenCalledTimes(1);
    warn.mockRestore();
  });

  test('calls endpoint returns log', async () => {
    await v2('GET', 'event');
    const calls = await (await fetch(`${sandbox.url}/__sandbox/calls`)).json();
    expect(calls).toEqual([expect.objectContaining({ operation: 'eventList', status: 200, code: 0 })]);
  });
});
