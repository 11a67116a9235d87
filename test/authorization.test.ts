import cds from '@sap/cds';
import { USERS, rows, useStack } from './support/stack';

const stack = useStack({ bridge: { workers: false } });
const { SELECT } = cds.ql;

type User = { username: string; password: string } | null;


const CAMPAIGN_ID = '6f1c2a52-4b7e-4c1e-9a55-0c7d2b8e1a01';

const NEW_CAMPAIGN = {
  code: 'AUTHZ', surveyId: 'SV_SANDBOX000001', directoryId: 'POOL_SANDBOX00001', mailingListId: 'CG_SANDBOX000001',
  externalEventId: '4711', scoreFieldId: '10001', categoryFieldId: '10002'
};

/** One request of the matrix: a route, its method and body. */
const ROUTES = {
  generateLink: { method: 'POST', path: '/inbound/generateLink', body: { campaign: 'NPS-SANDBOX', email: 'authz@example.org' } },
  ingestScore: { method: 'POST', path: '/inbound/ingestScore', body: { responseId: 'R_Authz000001', extRef: 'authz@example.org', nps: '8' } },
  readInvitations: { method: 'GET', path: '/audit/SurveyInvitations' },
  readRoundTrips: { method: 'GET', path: '/audit/RoundTrips' },
  readCampaigns: { method: 'GET', path: '/audit/Campaigns' },
  createCampaign: { method: 'POST', path: '/audit/Campaigns', body: NEW_CAMPAIGN },
  updateCampaign: { method: 'PATCH', path: `/audit/Campaigns(${CAMPAIGN_ID})`, body: { name: 'Renamed' } },
  deleteCampaign: { method: 'DELETE', path: `/audit/Campaigns(${CAMPAIGN_ID})` },
  erase: { method: 'POST', path: '/admin/erase', body: { contactKey: 'nobody@example.org' } },
  purge: { method: 'POST', path: '/admin/purgeExpired', body: {} }
} as const;

type RouteName = keyof typeof ROUTES;

async function send(route: RouteName, user: User) {
  const { method, path } = ROUTES[route];
  const body = 'body' in ROUTES[route] ? (ROUTES[route] as any).body : undefined;
  const headers: Record<string, string> = body !== undefined ? { 'content-type': 'application/json' } : {};
  if (user) headers.authorization = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
  const response = await fetch(`${stack.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return response.status;
}

async function counts() {
  const count = async (entity: string) => {
    const [row] = await rows(SELECT.from(entity).columns('count(1) as count'));
    return Number(row.count);
  };
  return {
    invitations: await count('surveybridge.SurveyInvitations'),
    scores: await count('surveybridge.ScoreResponses'),
    roundTrips: await count('surveybridge.RoundTrips'),
    campaigns: await count('surveybridge.Campaigns')
  };
}

const ALL_ROUTES = Object.keys(ROUTES) as RouteName[];

describe('anonymous caller', () => {
  test.each(ALL_ROUTES)('%s answers 401', async route => {
    expect(await send(route, null)).toBe(401);
  });
});

describe('unknown mocked user', () => {
  test('readInvitations answers 401', async () => {
    expect(await send('readInvitations', { username: 'mallory', password: 'guess' })).toBe(401);
  });
});

const CALLERS = { 'webhook caller': USERS.webhook, 'score caller': USERS.workflow, viewer: USERS.viewer, admin: USERS.admin };
type Caller = keyof typeof CALLERS;

const FORBIDDEN: Array<[Caller, RouteName]> = [
  ...(['ingestScore', 'readInvitations', 'readRoundTrips', 'readCampaigns', 'createCampaign', 'erase', 'purge'] as RouteName[])
    .map(route => ['webhook caller', route] as [Caller, RouteName]),
  ...(['generateLink', 'readInvitations', 'updateCampaign', 'erase'] as RouteName[])
    .map(route => ['score caller', route] as [Caller, RouteName]),
  ...(['generateLink', 'ingestScore', 'createCampaign', 'updateCampaign', 'deleteCampaign', 'erase', 'purge'] as RouteName[])
    .map(route => ['viewer', route] as [Caller, RouteName])
];

describe('caller without the role', () => {
  test.each(FORBIDDEN)('%s gets 403 for %s', async (caller, route) => {
    expect(await send(route, CALLERS[caller])).toBe(403);
  });

  test('forbidden calls write nothing', async () => {
    const before = await counts();
    for (const [caller, route] of FORBIDDEN) await send(route, CALLERS[caller]);
    expect(await counts()).toEqual(before);
  });
});

const ALLOWED: Array<[Caller, RouteName, number]> = [
  ['webhook caller', 'generateLink', 202],
  ['score caller', 'ingestScore', 202],
  ['viewer', 'readInvitations', 200],
  ['viewer', 'readRoundTrips', 200],
  ['viewer', 'readCampaigns', 200],
  ['admin', 'readInvitations', 200],
  ['admin', 'createCampaign', 201],
  ['admin', 'erase', 200],
  ['admin', 'purge', 200]
];

describe('caller with the role', () => {
  test.each(ALLOWED)('%s may call %s', async (caller, route, status) => {
    expect(await send(route, CALLERS[caller])).toBe(status);
  });
});
