import cds from '@sap/cds';
import { USERS, rows, useStack } from './support/stack';

const stack = useStack({ bridge: { workers: false } });
const { SELECT } = cds.ql;

const ADMIN_AUTH = `Basic ${Buffer.from(`${USERS.admin.username}:${USERS.admin.password}`).toString('base64')}`;
const WEBHOOK_AUTH = `Basic ${Buffer.from(`${USERS.webhook.username}:${USERS.webhook.password}`).toString('base64')}`;

/** Returns a campaign body whose name is padded to `bytes` characters, for body-size tests. */
function campaignOfSize(bytes: number) {
  return JSON.stringify({
    code: 'BIG', surveyId: 'SV_SANDBOX000001', directoryId: 'POOL_SANDBOX00001', mailingListId: 'CG_SANDBOX000001',
    externalEventId: '4711', scoreFieldId: '10001', categoryFieldId: '10002', name: 'x'.repeat(bytes)
  });
}

async function countOf(entity: string, where: object = {}) {
  const [row] = await rows(SELECT.from(entity).columns('count(1) as count').where(where));
  return Number(row.count);
}

describe('security headers', () => {
  test('audit response carries the headers', async () => {
    const response = await fetch(`${stack.url}/audit/Campaigns`, { headers: { authorization: ADMIN_AUTH } });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(response.headers.get('content-security-policy')).toBe("frame-ancestors 'self'");
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  test('x-powered-by is not sent', async () => {
    const response = await fetch(`${stack.url}/audit/Campaigns`, { headers: { authorization: ADMIN_AUTH } });
    expect(response.headers.get('x-powered-by')).toBeNull();
  });

  test('401 response carries the headers', async () => {
    const response = await fetch(`${stack.url}/inbound/generateLink`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(response.status).toBe(401);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });
});

describe('body limit', () => {
  test('OData body over the limit answers 413 JSON', async () => {
    const response = await fetch(`${stack.url}/audit/Campaigns`, {
      method: 'POST', headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' }, body: campaignOfSize(150 * 1024)
    });
    expect(response.status).toBe(413);
    expect((await response.json()).error.code).toBe('BODY_TOO_LARGE');
  });

  test('oversized body stores nothing', async () => {
    const before = await countOf('surveybridge.Campaigns');
    await fetch(`${stack.url}/audit/Campaigns`, {
      method: 'POST', headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' }, body: campaignOfSize(150 * 1024)
    });
    expect(await countOf('surveybridge.Campaigns')).toBe(before);
  });

  test('chunked body over the limit answers 413', async () => {
    const payload = new TextEncoder().encode(campaignOfSize(150 * 1024));
    const body = new ReadableStream({
      start(controller) {
        for (let offset = 0; offset < payload.length; offset += 16 * 1024) controller.enqueue(payload.slice(offset, offset + 16 * 1024));
        controller.close();
      }
    });
    const response = await fetch(`${stack.url}/audit/Campaigns`, {
      method: 'POST', headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' }, body, duplex: 'half'
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(typeof (await response.json()).error.message).toBe('string');
  });

  test('admin action body over the limit answers 413', async () => {
    const response = await fetch(`${stack.url}/admin/erase`, {
      method: 'POST', headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ contactKey: 'x'.repeat(200 * 1024) })
    });
    expect(response.status).toBe(413);
  });

  test('inbound action applies its own limit and records the call', async () => {
    const before = await countOf('surveybridge.RoundTrips', { direction: 'inbound', httpStatus: 413 });
    const response = await fetch(`${stack.url}/inbound/generateLink`, {
      method: 'POST', headers: { authorization: WEBHOOK_AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ campaign: 'NPS-SANDBOX', email: 'big@example.org', padding: 'x'.repeat(150 * 1024) })
    });
    expect(response.status).toBe(413);
    expect((await response.json()).error.code).toBe('BODY_TOO_LARGE');
    expect(await countOf('surveybridge.RoundTrips', { direction: 'inbound', httpStatus: 413 })).toBe(before + 1);
  });
});

describe('error responses in production mode', () => {
  const INTERNAL_DETAIL = 'connection to /internal/db-host failed';

  beforeAll(() => {
    const admin = cds.services.AdminService as cds.Service;
    admin.prepend(() => admin.on('purgeExpired', () => {
      throw new Error(INTERNAL_DETAIL);
    }));
  });

  afterEach(() => {
    delete process.env.CDS_ENV;
  });

  test('500 hides the message and the stack', async () => {
    // CAP sanitizes 5xx bodies when NODE_ENV is production or CDS_ENV is prod, read per response.
    process.env.CDS_ENV = 'prod';
    const response = await fetch(`${stack.url}/admin/purgeExpired`, {
      method: 'POST', headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' }, body: '{}'
    });
    const text = await response.text();
    expect(response.status).toBe(500);
    expect(JSON.parse(text).error.message).toBe('Internal Server Error');
    expect(text).not.toContain(INTERNAL_DETAIL);
    expect(text).not.toMatch(/\bat .+\.(js|ts):\d+/);
  });

  test('400 carries no stack', async () => {
    process.env.CDS_ENV = 'prod';
    const response = await fetch(`${stack.url}/audit/Campaigns`, {
      method: 'POST', headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' }, body: '{"code": '
    });
    const text = await response.text();
    expect(response.status).toBe(400);
    expect(JSON.parse(text).error).not.toHaveProperty('stack');
    expect(text).not.toMatch(/\bat .+\.(js|ts):\d+/);
  });
});
