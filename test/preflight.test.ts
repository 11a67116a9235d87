/**
 * Campaign preflight and activation against the Emarsys and Qualtrics stand-ins. Each test works on a
 * campaign of its own, inserted inactive, and checks the findings and the round trips they cost.
 */
import cds from '@sap/cds';
import { rows, useStack, USERS } from './support/stack';
import { useSandboxDestinations } from '../sandbox/destinations';
import { clearTokenCache } from '../srv/upstream/auth';

const stack = useStack();
const { SELECT, INSERT } = cds.ql;

const CAMPAIGNS = 'surveybridge.Campaigns';
const ACTIVATIONS = 'surveybridge.CampaignActivations';

/** Settings that pass every check against the default stand-ins. */
const GOOD_SETTINGS = {
  surveyId: 'SV_SANDBOX000001',
  directoryId: 'POOL_SANDBOX00001',
  mailingListId: 'CG_SANDBOX000001',
  linkValidityDays: 30,
  externalEventId: '4711',
  keyFieldId: '3',
  scoreFieldId: '10001',
  categoryFieldId: '10002'
};

const DEFAULT_DEDUPLICATION = { email: false, firstName: false, lastName: false, externalDataReference: true, phone: false };

const UPSTREAM_OPERATIONS = [
  'preflightSettings', 'preflightEvent', 'preflightEventUsages', 'preflightFields',
  'preflightWhoami', 'preflightSurvey', 'preflightDirectory', 'preflightMailingList'
];

interface Finding {
  severity: 'error' | 'warning' | 'info';
  check: string;
  found: string;
  fix: string;
}

let campaignCount = 0;

/** Inserts an inactive campaign straight into the database, so settings outside @assert.range are possible. */
async function createCampaign(settings: Record<string, unknown> = {}): Promise<string> {
  const ID = cds.utils.uuid();
  await cds.tx(() => INSERT.into(CAMPAIGNS).entries({ ID, code: `PREFLIGHT-${++campaignCount}`, ...GOOD_SETTINGS, active: false, ...settings }));
  return ID;
}

function actionPath(id: string, action: string, draft = false): string {
  return `/audit/Campaigns(ID=${id},IsActiveEntity=${draft ? 'false' : 'true'})/AuditService.${action}`;
}

async function preflight(id: string): Promise<Finding[]> {
  const response = await stack.post(actionPath(id, 'preflight'), {}, USERS.admin);
  expect(response.status).toBe(200);
  return response.body.value;
}

function findingOf(findings: Finding[], check: string): Finding {
  const matches = findings.filter(finding => finding.check === check);
  expect(matches).toHaveLength(1);
  return matches[0];
}

function checksOf(findings: Finding[], severity: Finding['severity']): string[] {
  return findings.filter(finding => finding.severity === severity).map(finding => finding.check);
}

/** Round trips recorded since `mark`, in the order they were recorded. */
async function tripsSince(mark: string): Promise<any[]> {
  return rows(SELECT.from('surveybridge.RoundTrips').where({ at: { '>=': mark } }).orderBy('at'));
}

function tripsOf(trips: any[], operation: string): any[] {
  return trips.filter(trip => trip.operation === operation);
}

async function campaignRow(id: string): Promise<any> {
  return cds.tx(() => SELECT.one.from(CAMPAIGNS).where({ ID: id }));
}

async function activationsOf(id: string): Promise<any[]> {
  return rows(SELECT.from(ACTIVATIONS).where({ campaign_ID: id }));
}

/** Sends a request as admin with any method, because the stack helpers cover only GET and POST. */
async function adminRequest(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${stack.url}${path}`, {
    method,
    headers: {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from(`${USERS.admin.username}:${USERS.admin.password}`).toString('base64')}`
    },
    body: body === undefined ? undefined : JSON.stringify(body)
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

function now(): string {
  return new Date().toISOString();
}

afterEach(() => {
  useSandboxDestinations(stack.emarsys, stack.qualtrics);
  clearTokenCache();
  stack.qualtrics.setOptions({ servedDatacenter: 'fra1', deduplicationCriteria: DEFAULT_DEDUPLICATION });
  stack.qualtrics.setFaults({ error5xxRate: 0 });
  delete (cds.env as any).surveyBridge.preflight;
});

describe('preflight checks', () => {
  test('good campaign gets only info findings', async () => {
    const id = await createCampaign();
    const before = await campaignRow(id);
    const mark = now();
    const findings = await preflight(id);

    expect(checksOf(findings, 'error')).toEqual([]);
    expect(checksOf(findings, 'warning')).toEqual([]);
    expect(findings.map(finding => finding.check)).toEqual([
      'campaign.linkValidity',
      'emarsys.credentials', 'emarsys.event', 'emarsys.eventUsage', 'emarsys.keyField', 'emarsys.scoreField', 'emarsys.categoryField',
      'qualtrics.credentials', 'qualtrics.survey', 'qualtrics.directory', 'qualtrics.deduplication', 'qualtrics.mailingList'
    ]);
    expect(findingOf(findings, 'emarsys.eventUsage').found).toMatch(/1 Automation Center program,/);

    const trips = await tripsSince(mark);
    for (const operation of UPSTREAM_OPERATIONS) {
      const matching = tripsOf(trips, operation);
      expect(matching).toHaveLength(1);
      expect(matching[0].httpStatus).toBe(200);
      expect(matching[0].direction).toBe('outbound');
    }
    expect(await campaignRow(id)).toEqual(before);
    expect(await activationsOf(id)).toEqual([]);
  });

  test('rejected Emarsys OAuth client is an error', async () => {
    useSandboxDestinations(stack.emarsys, stack.qualtrics, {}, { emarsysClientSecret: 'wrong-secret' });
    clearTokenCache();
    const id = await createCampaign();
    const mark = now();
    const findings = await preflight(id);

    const credentials = findingOf(findings, 'emarsys.credentials');
    expect(credentials.severity).toBe('error');
    expect(credentials.found).toMatch(/token request failed.*HTTP 401/);
    expect(credentials.fix).toMatch(/client id, client secret and token URL/);
    expect(findings.filter(finding => finding.check.startsWith('emarsys.'))).toHaveLength(1);
    expect(checksOf(findings, 'error')).toEqual(['emarsys.credentials']);

    const trips = await tripsSince(mark);
    const tokens = trips.filter(trip => trip.operation === 'token' && trip.system === 'emarsys');
    expect(tokens).toHaveLength(1);
    expect(tokens[0].httpStatus).toBe(401);
    expect(tripsOf(trips, 'preflightSettings')).toHaveLength(0);
    expect(tripsOf(trips, 'preflightWhoami')).toHaveLength(1);
  });

  test('rejected Emarsys WSSE secret is an error', async () => {
    useSandboxDestinations(stack.emarsys, stack.qualtrics, { emarsys: 'wsse' }, { emarsysApiSecret: 'wrong-secret' });
    const id = await createCampaign();
    const mark = now();
    const findings = await preflight(id);

    const credentials = findingOf(findings, 'emarsys.credentials');
    expect(credentials.severity).toBe('error');
    expect(credentials.found).toMatch(/HTTP 401 code 1/);
    expect(credentials.fix).toMatch(/rejected them/);
    expect(findings.filter(finding => finding.check.startsWith('emarsys.'))).toHaveLength(1);

    const settings = tripsOf(await tripsSince(mark), 'preflightSettings');
    expect(settings).toHaveLength(1);
    expect(settings[0].httpStatus).toBe(401);
    expect(settings[0].upstreamCode).toBe('1');
  });

  test('rejected Qualtrics token is an error', async () => {
    useSandboxDestinations(stack.emarsys, stack.qualtrics, {}, { qualtricsApiToken: 'wrong-token' });
    const id = await createCampaign();
    const mark = now();
    const findings = await preflight(id);

    const credentials = findingOf(findings, 'qualtrics.credentials');
    expect(credentials.severity).toBe('error');
    expect(credentials.found).toMatch(/HTTP 401/);
    expect(findings.filter(finding => finding.check.startsWith('qualtrics.'))).toHaveLength(1);
    expect(checksOf(findings, 'error')).toEqual(['qualtrics.credentials']);

    const trips = await tripsSince(mark);
    const whoami = tripsOf(trips, 'preflightWhoami');
    expect(whoami).toHaveLength(1);
    expect(whoami[0].httpStatus).toBe(401);
    expect(tripsOf(trips, 'preflightSurvey')).toHaveLength(0);
    expect(tripsOf(trips, 'preflightDirectory')).toHaveLength(0);
  });

  test('proxied Qualtrics request names the right host', async () => {
    stack.qualtrics.setOptions({ servedDatacenter: 'iad1' });
    const id = await createCampaign();
    const mark = now();
    const findings = await preflight(id);

    const datacenter = findingOf(findings, 'qualtrics.datacenter');
    expect(datacenter.severity).toBe('warning');
    expect(datacenter.found).toMatch(/Request proxied/);
    expect(datacenter.fix).toContain('https://fra1.qualtrics.com/API/v3/');
    expect(findingOf(findings, 'qualtrics.credentials').severity).toBe('info');
    expect(checksOf(findings, 'error')).toEqual([]);

    const whoami = tripsOf(await tripsSince(mark), 'preflightWhoami');
    expect(whoami).toHaveLength(1);
    expect(whoami[0].httpStatus).toBe(200);
  });

  test('missing external event is an error', async () => {
    const id = await createCampaign({ externalEventId: '999999' });
    const mark = now();
    const findings = await preflight(id);

    const event = findingOf(findings, 'emarsys.event');
    expect(event.severity).toBe('error');
    expect(event.found).toMatch(/999999 does not exist/);
    expect(findings.some(finding => finding.check === 'emarsys.eventUsage')).toBe(false);

    const trips = await tripsSince(mark);
    const reads = tripsOf(trips, 'preflightEvent');
    expect(reads).toHaveLength(1);
    expect(reads[0].httpStatus).toBe(400);
    expect(reads[0].upstreamCode).toBe('5001');
    expect(tripsOf(trips, 'preflightEventUsages')).toHaveLength(0);
  });

  test('unused external event is an error', async () => {
    const eventId = stack.emarsys.addEvent('preflight_unused_event');
    const id = await createCampaign({ externalEventId: eventId });
    const mark = now();
    const findings = await preflight(id);

    expect(findingOf(findings, 'emarsys.event').severity).toBe('info');
    const usage = findingOf(findings, 'emarsys.eventUsage');
    expect(usage.severity).toBe('error');
    expect(usage.found).toMatch(/used by no program and no email/);
    expect(checksOf(findings, 'error')).toEqual(['emarsys.eventUsage']);

    const usages = tripsOf(await tripsSince(mark), 'preflightEventUsages');
    expect(usages).toHaveLength(1);
    expect(usages[0].httpStatus).toBe(200);
  });

  test('missing fields are errors', async () => {
    const id = await createCampaign({ keyFieldId: '88888', scoreFieldId: '99999', categoryFieldId: '99998' });
    const mark = now();
    const findings = await preflight(id);

    expect(findingOf(findings, 'emarsys.keyField').found).toMatch(/Key field 88888 does not exist/);
    expect(findingOf(findings, 'emarsys.scoreField').found).toMatch(/Score field 99999 does not exist/);
    expect(findingOf(findings, 'emarsys.categoryField').found).toMatch(/Category field 99998 does not exist/);
    expect(checksOf(findings, 'error')).toEqual(['emarsys.keyField', 'emarsys.scoreField', 'emarsys.categoryField']);

    const fieldLists = tripsOf(await tripsSince(mark), 'preflightFields');
    expect(fieldLists).toHaveLength(1);
    expect(fieldLists[0].httpStatus).toBe(200);
  });

  test('fields of the wrong type are errors', async () => {
    const textScore = String(stack.emarsys.addField('preflight_score_text', 'shorttext'));
    const numericCategory = String(stack.emarsys.addField('preflight_category_number', 'numeric'));
    const id = await createCampaign({ scoreFieldId: textScore, categoryFieldId: numericCategory });
    const mark = now();
    const findings = await preflight(id);

    const score = findingOf(findings, 'emarsys.scoreField');
    expect(score.severity).toBe('error');
    expect(score.found).toMatch(/\(shorttext\) has the wrong type/);
    const category = findingOf(findings, 'emarsys.categoryField');
    expect(category.severity).toBe('error');
    expect(category.found).toMatch(/\(numeric\) has the wrong type/);
    expect(checksOf(findings, 'error')).toEqual(['emarsys.scoreField', 'emarsys.categoryField']);

    expect(tripsOf(await tripsSince(mark), 'preflightFields')).toHaveLength(1);
  });

  test('key field other than email is a warning', async () => {
    const id = await createCampaign({ keyFieldId: '15' });
    const findings = await preflight(id);

    const key = findingOf(findings, 'emarsys.keyField');
    expect(key.severity).toBe('warning');
    expect(key.found).toMatch(/15 'Phone'/);
    expect(key.fix).toMatch(/indexed/);
    expect(checksOf(findings, 'error')).toEqual([]);
  });

  test('internal id key needs no field', async () => {
    const id = await createCampaign({ keyFieldId: 'uid' });
    const findings = await preflight(id);

    expect(findingOf(findings, 'emarsys.keyField').severity).toBe('info');
    expect(checksOf(findings, 'error')).toEqual([]);
  });

  test('inactive survey is an error', async () => {
    const surveyId = stack.qualtrics.addSurvey({ active: false, name: 'Paused survey' });
    const id = await createCampaign({ surveyId });
    const mark = now();
    const findings = await preflight(id);

    const survey = findingOf(findings, 'qualtrics.survey');
    expect(survey.severity).toBe('error');
    expect(survey.found).toMatch(/is not active/);
    expect(checksOf(findings, 'error')).toEqual(['qualtrics.survey']);

    const reads = tripsOf(await tripsSince(mark), 'preflightSurvey');
    expect(reads).toHaveLength(1);
    expect(reads[0].httpStatus).toBe(200);
  });

  test('missing survey is an error', async () => {
    const id = await createCampaign({ surveyId: 'SV_MISSING0000001' });
    const mark = now();
    const findings = await preflight(id);

    const survey = findingOf(findings, 'qualtrics.survey');
    expect(survey.severity).toBe('error');
    expect(survey.found).toMatch(/SV_MISSING0000001 does not exist/);

    const reads = tripsOf(await tripsSince(mark), 'preflightSurvey');
    expect(reads).toHaveLength(1);
    expect(reads[0].httpStatus).toBe(404);
  });

  test('missing directory is an error', async () => {
    const id = await createCampaign({ directoryId: 'POOL_MISSING00001' });
    const mark = now();
    const findings = await preflight(id);

    const directory = findingOf(findings, 'qualtrics.directory');
    expect(directory.severity).toBe('error');
    expect(directory.found).toMatch(/POOL_MISSING00001 does not exist/);
    expect(findings.some(finding => finding.check === 'qualtrics.mailingList')).toBe(false);
    expect(findings.some(finding => finding.check === 'qualtrics.deduplication')).toBe(false);

    const trips = await tripsSince(mark);
    const reads = tripsOf(trips, 'preflightDirectory');
    expect(reads).toHaveLength(1);
    expect(reads[0].httpStatus).toBe(404);
    expect(tripsOf(trips, 'preflightMailingList')).toHaveLength(0);
  });

  test('missing mailing list is an error', async () => {
    const id = await createCampaign({ mailingListId: 'CG_MISSING000001' });
    const mark = now();
    const findings = await preflight(id);

    const list = findingOf(findings, 'qualtrics.mailingList');
    expect(list.severity).toBe('error');
    expect(list.found).toMatch(/CG_MISSING000001 does not exist/);
    expect(checksOf(findings, 'error')).toEqual(['qualtrics.mailingList']);

    const reads = tripsOf(await tripsSince(mark), 'preflightMailingList');
    expect(reads).toHaveLength(1);
    expect(reads[0].httpStatus).toBe(404);
  });

  test.each([
    ['deduplication off', { externalDataReference: false }, '3', 'error', /deduplication off/],
    ['email without extRef', { externalDataReference: false, email: true }, '3', 'error', /not by externalDataReference/],
    ['phone, never sent', { phone: true }, '3', 'error', /phone, which Survey Bridge does not send/],
    ['email with a non-email key', { email: true }, '15', 'error', /email, which Survey Bridge does not send/],
    ['first name', { firstName: true }, '3', 'warning', /firstName, so a contact whose name/],
    ['email with the email key', { email: true }, '3', 'info', /by email and externalDataReference, which matches/]
  ] as const)('deduplication by %s', async (_name, criteria, keyFieldId, severity, found) => {
    stack.qualtrics.setOptions({ deduplicationCriteria: { ...DEFAULT_DEDUPLICATION, ...criteria } });
    const id = await createCampaign({ keyFieldId });
    const mark = now();
    const findings = await preflight(id);

    const deduplication = findingOf(findings, 'qualtrics.deduplication');
    expect(deduplication.severity).toBe(severity);
    expect(deduplication.found).toMatch(found);

    const reads = tripsOf(await tripsSince(mark), 'preflightDirectory');
    expect(reads).toHaveLength(1);
    expect(reads[0].httpStatus).toBe(200);
  });

  test.each([
    ['zero days', 0, undefined, /not a whole number of days above 0/],
    ['above the default maximum', 400, undefined, /400 days exceeds the maximum of 365 days/],
    ['above a configured maximum', 30, 20, /30 days exceeds the maximum of 20 days/],
    ['within the expiry margin', 1, undefined, /expire within the expiry margin of 24 hours/]
  ])('link validity %s is an error', async (_name, days, configuredMax, found) => {
    if (configuredMax !== undefined) (cds.env as any).surveyBridge.preflight = { maxLinkValidityDays: configuredMax };
    const id = await createCampaign({ linkValidityDays: days });
    const mark = now();
    const findings = await preflight(id);

    const validity = findingOf(findings, 'campaign.linkValidity');
    expect(validity.severity).toBe('error');
    expect(validity.found).toMatch(found);
    expect(checksOf(findings, 'error')).toEqual(['campaign.linkValidity']);

    // The upstream checks still run, so one preflight reports every problem.
    const trips = await tripsSince(mark);
    for (const operation of UPSTREAM_OPERATIONS) expect(tripsOf(trips, operation)).toHaveLength(1);
  });

  test('malformed field ids are errors without field lookup', async () => {
    const id = await createCampaign({ keyFieldId: 'email', scoreFieldId: '10001a', categoryFieldId: 'nps category' });
    const mark = now();
    const findings = await preflight(id);

    expect(findingOf(findings, 'campaign.keyFieldId').found).toMatch(/"email" is not a numeric Emarsys field id/);
    expect(findingOf(findings, 'campaign.scoreFieldId').found).toMatch(/"10001a" is not a numeric Emarsys field id/);
    expect(findingOf(findings, 'campaign.categoryFieldId').found).toMatch(/"nps category" is not a numeric Emarsys field id/);
    expect(checksOf(findings, 'error')).toEqual(['campaign.keyFieldId', 'campaign.scoreFieldId', 'campaign.categoryFieldId']);
    expect(findings.some(finding => ['emarsys.keyField', 'emarsys.scoreField', 'emarsys.categoryField'].includes(finding.check))).toBe(false);

    const trips = await tripsSince(mark);
    expect(tripsOf(trips, 'preflightFields')).toHaveLength(0);
    expect(tripsOf(trips, 'preflightSettings')).toHaveLength(1);
  });

  test('malformed event id is an error without event lookup', async () => {
    const id = await createCampaign({ externalEventId: 'nps_invite' });
    const mark = now();
    const findings = await preflight(id);

    expect(findingOf(findings, 'campaign.externalEventId').severity).toBe('error');
    expect(findings.some(finding => finding.check === 'emarsys.event')).toBe(false);
    expect(tripsOf(await tripsSince(mark), 'preflightEvent')).toHaveLength(0);
  });

  test('shared score and category field is an error', async () => {
    const id = await createCampaign({ categoryFieldId: '10001' });
    const findings = await preflight(id);

    const roles = findingOf(findings, 'campaign.fieldRoles');
    expect(roles.severity).toBe('error');
    expect(roles.found).toMatch(/score and category field are both 10001/);
  });

  test('upstream outage is an error finding, not a 5xx', async () => {
    stack.qualtrics.setFaults({ error5xxRate: 1 });
    const id = await createCampaign();
    const mark = now();
    const response = await stack.post(actionPath(id, 'preflight'), {}, USERS.admin);

    expect(response.status).toBe(200);
    const credentials = findingOf(response.body.value, 'qualtrics.credentials');
    expect(credentials.severity).toBe('error');
    expect(credentials.found).toMatch(/whoami failed: qualtrics preflightWhoami returned HTTP 5\d\d/);
    expect(credentials.fix).toMatch(/failed temporarily\. Run the preflight again/);

    // Preflight calls are not retried, so one failure costs one round trip.
    const whoami = tripsOf(await tripsSince(mark), 'preflightWhoami');
    expect(whoami).toHaveLength(1);
    expect(whoami[0].httpStatus).toBeGreaterThanOrEqual(500);
    expect(whoami[0].attempt).toBe(1);
  });

  test('unknown campaign gets 404', async () => {
    const response = await stack.post(actionPath(cds.utils.uuid(), 'preflight'), {}, USERS.admin);
    expect(response.status).toBe(404);
  });
});

describe('campaign activation', () => {
  test('errors block activation with 409', async () => {
    const id = await createCampaign({ surveyId: 'SV_MISSING0000002' });
    const before = await campaignRow(id);
    const response = await stack.post(actionPath(id, 'activate'), {}, USERS.admin);

    expect(response.status).toBe(409);
    expect(response.body.error.code).toBe('PREFLIGHT_FAILED');
    expect(response.body.error.message).toMatch(/not activated because the preflight found 1 error/);
    expect(response.body.error.details.map((detail: any) => detail.code)).toEqual(['qualtrics.survey']);
    expect(response.body.error.details[0].message).toMatch(/SV_MISSING0000002 does not exist/);
    expect(await campaignRow(id)).toEqual(before);
    expect(await activationsOf(id)).toEqual([]);
  });

  test('override without a reason gets 400', async () => {
    const id = await createCampaign({ surveyId: 'SV_MISSING0000003' });
    const mark = now();
    const response = await stack.post(actionPath(id, 'activate'), { override: true, reason: '  ' }, USERS.admin);

    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('OVERRIDE_REASON_MISSING');
    expect((await campaignRow(id)).active).toBe(false);
    expect(await tripsSince(mark)).toEqual([]);
  });

  test('override with a reason activates and is recorded', async () => {
    const id = await createCampaign({ surveyId: 'SV_MISSING0000004' });
    const response = await stack.post(actionPath(id, 'activate'), { override: true, reason: 'Survey is published tomorrow morning' }, USERS.admin);

    expect(response.status).toBe(200);
    expect(response.body.active).toBe(true);
    expect(response.body.override).toBe(true);
    expect(checksOf(response.body.findings, 'error')).toEqual(['qualtrics.survey']);

    const campaign = await campaignRow(id);
    expect(campaign.active).toBe(true);
    expect(campaign.modifiedBy).toBe('admin');
    const [activation, ...others] = await activationsOf(id);
    expect(others).toEqual([]);
    expect(activation.ID).toBe(response.body.activation);
    expect(activation.by).toBe('admin');
    expect(activation.override).toBe(true);
    expect(activation.reason).toBe('Survey is published tomorrow morning');
    expect(activation.errors).toBe(1);
    expect(JSON.parse(activation.findings)).toEqual(response.body.findings);
  });

  test('clean campaign activates without override', async () => {
    const id = await createCampaign();
    const response = await stack.post(actionPath(id, 'activate'), {}, USERS.admin);

    expect(response.status).toBe(200);
    expect(response.body.override).toBe(false);
    expect((await campaignRow(id)).active).toBe(true);
    const [activation] = await activationsOf(id);
    expect(activation.override).toBe(false);
    expect(activation.reason).toBeNull();
    expect(activation.errors).toBe(0);
  });

  test('active campaign gets 409', async () => {
    const id = await createCampaign({ active: true });
    const mark = now();
    const response = await stack.post(actionPath(id, 'activate'), {}, USERS.admin);

    expect(response.status).toBe(409);
    expect(response.body.error.code).toBe('CAMPAIGN_ALREADY_ACTIVE');
    expect(await tripsSince(mark)).toEqual([]);
  });

  test('failed checks change no campaign data', async () => {
    const id = await createCampaign({ externalEventId: '999998', mailingListId: 'CG_MISSING000002' });
    const before = await campaignRow(id);
    const findings = await preflight(id);
    expect(checksOf(findings, 'error')).toEqual(['emarsys.event', 'qualtrics.mailingList']);
    const activation = await stack.post(actionPath(id, 'activate'), { override: false }, USERS.admin);
    expect(activation.status).toBe(409);

    expect(await campaignRow(id)).toEqual(before);
    expect(await activationsOf(id)).toEqual([]);
  });

  test('saving a draft cannot switch active on', async () => {
    const id = await createCampaign();
    const edit = await adminRequest('POST', actionPath(id, 'draftEdit'), { PreserveChanges: true });
    expect(edit.status).toBe(201);
    const patch = await adminRequest('PATCH', `/audit/Campaigns(ID=${id},IsActiveEntity=false)`, { active: true });
    expect(patch.status).toBe(200);

    const save = await adminRequest('POST', actionPath(id, 'draftActivate', true), {});
    expect(save.status).toBe(409);
    expect(save.body.error.message).toMatch(/saving cannot activate it.*Activate action/);
    expect(save.body.error.target).toBe('active');

    const activate = await stack.post(actionPath(id, 'activate'), {}, USERS.admin);
    expect(activate.status).toBe(409);
    expect(activate.body.error.code).toBe('CAMPAIGN_DRAFT_OPEN');
    const draftPreflight = await stack.post(actionPath(id, 'preflight', true), {}, USERS.admin);
    expect(draftPreflight.status).toBe(400);

    const discard = await adminRequest('DELETE', `/audit/Campaigns(ID=${id},IsActiveEntity=false)`);
    expect(discard.status).toBe(204);
    expect((await campaignRow(id)).active).toBe(false);
  });

  test('PATCH of the saved campaign cannot switch active on', async () => {
    const id = await createCampaign();
    const patch = await adminRequest('PATCH', `/audit/Campaigns(ID=${id},IsActiveEntity=true)`, { active: true });

    expect(patch.status).toBe(409);
    expect((await campaignRow(id)).active).toBe(false);
  });

  test('new draft starts inactive', async () => {
    const created = await adminRequest('POST', '/audit/Campaigns', { code: 'PREFLIGHT-NEW', ...GOOD_SETTINGS });

    expect(created.status).toBe(201);
    expect(created.body.active).toBe(false);
    const discard = await adminRequest('DELETE', `/audit/Campaigns(ID=${created.body.ID},IsActiveEntity=false)`);
    expect(discard.status).toBe(204);
  });
});

describe('preflight authorization', () => {
  test('viewer gets 403 on both actions', async () => {
    const id = await createCampaign();
    const mark = now();

    expect((await stack.post(actionPath(id, 'preflight'), {}, USERS.viewer)).status).toBe(403);
    expect((await stack.post(actionPath(id, 'activate'), {}, USERS.viewer)).status).toBe(403);
    expect((await campaignRow(id)).active).toBe(false);
    expect(await tripsSince(mark)).toEqual([]);
  });

  test('viewer reads activations', async () => {
    const response = await stack.get('/audit/CampaignActivations?$select=ID,override,reason', USERS.viewer);
    expect(response.status).toBe(200);
    expect(Array.isArray(response.body.value)).toBe(true);
  });

  test('activations are read-only', async () => {
    const response = await adminRequest('POST', '/audit/CampaignActivations', { campaign_ID: cds.utils.uuid(), by: 'admin', at: now() });
    expect(response.status).toBe(405);
  });
});

describe('campaign page support', () => {
  test('preflight findings come as messages', async () => {
    const id = await createCampaign({ externalEventId: '999999' });
    const response = await fetch(`${stack.url}${actionPath(id, 'preflight')}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(`${USERS.admin.username}:${USERS.admin.password}`).toString('base64')}`
      },
      body: '{}'
    });
    expect(response.status).toBe(200);
    const messages = JSON.parse(response.headers.get('sap-messages') ?? '[]') as Array<{ message: string; numericSeverity: number }>;
    const findings = ((await response.json()) as { value: Finding[] }).value;

    expect(messages[0].message).toMatch(/^Preflight of campaign PREFLIGHT-\d+: [1-9]\d* errors, \d+ warnings, \d+ passed checks\.$/);
    expect(messages).toHaveLength(findings.length + 1);
    const eventError = messages.find(message => message.message.startsWith('Error in emarsys.event:'));
    expect(eventError?.numericSeverity).toBe(3);
    expect(messages.filter(message => message.message.startsWith('OK in ')).every(message => message.numericSeverity === 2)).toBe(true);
  });

  test('CurrentUser is view-only for viewers', async () => {
    const asViewer = await stack.get('/audit/CurrentUser', USERS.viewer);
    const asAdmin = await stack.get('/audit/CurrentUser', USERS.admin);
    expect(asViewer.status).toBe(200);
    expect(asViewer.body).toMatchObject({ ID: USERS.viewer.username, viewOnly: true });
    expect(asAdmin.status).toBe(200);
    expect(asAdmin.body).toMatchObject({ ID: USERS.admin.username, viewOnly: false });
  });

  test('campaign rows carry viewOnly per role', async () => {
    const id = await createCampaign();
    const path = `/audit/Campaigns(ID=${id},IsActiveEntity=true)?$select=ID,viewOnly`;
    const asViewer = await stack.get(path, USERS.viewer);
    const asAdmin = await stack.get(path, USERS.admin);
    expect(asViewer.status).toBe(200);
    expect(asViewer.body.viewOnly).toBe(true);
    expect(asAdmin.status).toBe(200);
    expect(asAdmin.body.viewOnly).toBe(false);
  });

  test('CurrentUser needs a signed-in audit user', async () => {
    expect((await stack.get('/audit/CurrentUser', USERS.webhook)).status).toBe(403);
    expect((await fetch(`${stack.url}/audit/CurrentUser`)).status).toBe(401);
  });
});
