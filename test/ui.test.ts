/**
 * Browser test of the audit app (app/audit): headless Chromium opens the Fiori elements pages
 * against the service started in-process, with invitations that went through the whole flow against
 * the Emarsys and Qualtrics stand-ins. UI5 comes from this server's /resources, and every request
 * that is not for loopback is aborted and fails the test.
 *
 * Needs Debian's Chromium at /usr/bin/chromium (`apt-get install -y chromium`).
 */
import cds from '@sap/cds';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { USERS, rows, useStack, waitFor } from './support/stack';

const stack = useStack();
const { SELECT } = cds.ql;

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic'
];
const SCREENSHOTS = path.join(__dirname, 'screenshots');
const CAMPAIGN = 'NPS-SANDBOX';
const APP = '/audit/webapp/index.html';
/**
 * The first page load fetches about 1,600 UI5 modules one by one and compiles themes on a cold cache:
 * 10 to 35 s on 2 cores. The limits leave room for a machine that also runs other tests.
 */
const FIRST_LOAD_MS = 75_000;
const STEP_MS = 45_000;
const TEST_MS = 120_000;

/** Contacts that exist in Emarsys, with the NPS answer each one sends (undefined: no answer). */
const CONTACTS: Array<{ email: string; nps?: number }> = [
  { email: 'ui-anna@example.org', nps: 9 },
  { email: 'ui-ben@example.org', nps: 3 },
  { email: 'ui-cleo@example.org' }
];
/** A contact missing from Emarsys, so its invitation ends as contactNotFound. */
const UNKNOWN_CONTACT = 'ui-nobody@example.org';

/**
 * Uncaught errors that SAPUI5 1.136.1 raises on its own in a standalone app. They change nothing on
 * the page. The object page controller sets the initial focus by calling getEnabled() on every header
 * action, but its AI "easy edit" button is registered as sap.fe.macros.EditButton, has no such method,
 * and is missing from the controller's exception list. Loading the optional sap.cards.ap.common
 * library, which is not installed, rejects a promise with no reason that nothing catches.
 */
const KNOWN_UI5_ERRORS = [/TypeError: action\.getEnabled is not a function/, /: undefined$/];

const invitationIds = new Map<string, string>();

async function invitationOf(id: string) {
  return cds.tx(() => SELECT.one.from('surveybridge.SurveyInvitations').where({ ID: id }));
}

async function statusReached(id: string, statuses: string[]) {
  return waitFor(async () => {
    const invitation = await invitationOf(id);
    return invitation && statuses.includes(invitation.status) ? invitation : undefined;
  }, 20_000, `invitation ${id} to reach ${statuses.join(' or ')}`);
}

/** Sends invitations through the flow and posts survey responses for two of them, as Emarsys and Qualtrics would. */
async function seedInvitations(): Promise<void> {
  for (const { email } of CONTACTS) stack.emarsys.addContact({ '3': email });
  for (const email of [...CONTACTS.map(contact => contact.email), UNKNOWN_CONTACT]) {
    const response = await stack.post('/inbound/generateLink', { campaign: CAMPAIGN, email, first_name: 'UI' });
    if (response.status !== 202) throw new Error(`generateLink for ${email} returned ${response.status}: ${JSON.stringify(response.body)}`);
    invitationIds.set(email, response.body.invitationId);
  }
  for (const { email } of CONTACTS) await statusReached(invitationIds.get(email)!, ['eventTriggered']);
  await statusReached(invitationIds.get(UNKNOWN_CONTACT)!, ['contactNotFound']);

  let responseNumber = 0;
  for (const { email, nps } of CONTACTS) {
    if (nps === undefined) continue;
    const invitationId = invitationIds.get(email)!;
    const responseId = `R_ui${String(++responseNumber).padStart(13, '0')}`;
    const body = { responseId, surveyId: 'SV_SANDBOX000001', invitationId, extRef: email, nps };
    const response = await stack.post('/inbound/ingestScore', body, USERS.workflow);
    if (response.status !== 202) throw new Error(`ingestScore for ${email} returned ${response.status}: ${JSON.stringify(response.body)}`);
    await statusReached(invitationId, ['scoreStored']);
  }
}

/** Returns the Paeth predictor of PNG filter type 4: the neighbour closest to left + up - upLeft. */
function paethPredictor(left: number, up: number, upLeft: number): number {
  const estimate = left + up - upLeft;
  const distanceLeft = Math.abs(estimate - left);
  const distanceUp = Math.abs(estimate - up);
  const distanceUpLeft = Math.abs(estimate - upLeft);
  if (distanceLeft <= distanceUp && distanceLeft <= distanceUpLeft) return left;
  if (distanceUp <= distanceUpLeft) return up;
  return upLeft;
}

/** Decodes an 8-bit RGB or RGBA PNG without interlacing and returns its size and number of distinct colors. */
function pngStats(png: Buffer): { width: number; height: number; colors: number } {
  if (png.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG file');
  let offset = 8;
  let width = 0, height = 0, channels = 0;
  const data: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const chunk = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = chunk.readUInt32BE(0);
      height = chunk.readUInt32BE(4);
      const [bitDepth, colorType, , , interlace] = chunk.subarray(8, 13);
      if (bitDepth !== 8 || interlace !== 0 || (colorType !== 2 && colorType !== 6)) {
        throw new Error(`unsupported PNG: bit depth ${bitDepth}, color type ${colorType}, interlace ${interlace}`);
      }
      channels = colorType === 6 ? 4 : 3;
    } else if (type === 'IDAT') {
      data.push(chunk);
    }
    offset += 12 + length;
  }

  // Undo the per-scanline filters (PNG specification, section 9) and count the RGB values.
  const raw = zlib.inflateSync(Buffer.concat(data));
  const stride = width * channels;
  let previous = Buffer.alloc(stride);
  const colors = new Set<number>();
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = Buffer.from(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)));
    for (let x = 0; x < stride; x++) {
      const left = x >= channels ? line[x - channels] : 0;
      const up = previous[x];
      const upLeft = x >= channels ? previous[x - channels] : 0;
      let predictor = 0;
      if (filter === 1) predictor = left;
      else if (filter === 2) predictor = up;
      else if (filter === 3) predictor = (left + up) >> 1;
      else if (filter === 4) predictor = paethPredictor(left, up, upLeft);
      line[x] = (line[x] + predictor) & 0xff;
    }
    for (let x = 0; x < stride; x += channels) colors.add((line[x] << 16) | (line[x + 1] << 8) | line[x + 2]);
    previous = line;
  }
  return { width, height, colors: colors.size };
}

/** Waits until Fiori elements removed its loading placeholder and no busy indicator shows. */
async function pageSettled(page: Page): Promise<void> {
  await page.waitForFunction(() => {
    const loading = document.querySelectorAll('.sapFePlaceholderContainer, .sapUiPlaceholder, .sapUiLocalBusyIndicator');
    return [...loading].every(element => (element as HTMLElement).offsetParent === null);
  }, undefined, { timeout: STEP_MS });
}

/** Saves a screenshot under test/screenshots and checks that it shows more than a blank page. */
async function screenshot(page: Page, name: string): Promise<void> {
  await pageSettled(page);
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file });
  const stats = pngStats(fs.readFileSync(file));
  expect(fs.statSync(file).size).toBeGreaterThan(20_000);
  expect(stats.width).toBe(1440);
  expect(stats.colors).toBeGreaterThan(50);
}

/** Clicks the navigation arrow of the grid table row that shows `text`, as a user opens an object page. */
async function openRow(page: Page, text: string): Promise<void> {
  const row = page.locator('tr[data-sap-ui-rowindex]', { has: page.getByText(text, { exact: true }) }).first();
  const rowIndex = await row.getAttribute('data-sap-ui-rowindex');
  const tableId = (await row.getAttribute('id'))!.replace(/-rows-row\d+$/, '');
  await page.locator(`[id="${tableId}-rowact${rowIndex}"]`).click();
}

/** Returns the text of the whole page, to check values regardless of the control that shows them. */
function pageText(page: Page): Promise<string> {
  return page.evaluate(() => document.body.innerText);
}

describe('audit UI', () => {
  let browser: Browser;
  let page: Page;
  const offLoopbackRequests: string[] = [];
  const pageErrors: string[] = [];

  /** Opens a browser context signed in as `user`, and a page in it that records script errors. */
  async function openSession(user: { username: string; password: string }): Promise<{ context: BrowserContext; page: Page }> {
    const session = await browser.newContext({ httpCredentials: user, viewport: { width: 1440, height: 900 }, locale: 'en-US' });
    // Chromium may reach this server only, so every other request is recorded and aborted.
    await session.route(url => !['localhost', '127.0.0.1', '[::1]'].includes(url.hostname), route => {
      offLoopbackRequests.push(route.request().url());
      return route.abort();
    });
    const sessionPage = await session.newPage();
    // A locator that finds nothing fails the step with its own message before the test times out.
    sessionPage.setDefaultTimeout(STEP_MS);
    sessionPage.on('pageerror', error => pageErrors.push(`${sessionPage.url()}: ${error?.stack || String(error)}`));
    return { context: session, page: sessionPage };
  }

  beforeAll(async () => {
    expect(fs.existsSync(CHROMIUM)).toBe(true);
    await seedInvitations();
    fs.mkdirSync(SCREENSHOTS, { recursive: true });

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    ({ page } = await openSession(USERS.admin));
  }, TEST_MS);

  afterAll(async () => {
    await browser?.close();
  });

  test('invitation list shows the invitations', async () => {
    // The load event waits for the theme stylesheets, so the first wait covers the whole first load.
    await page.goto(`${stack.url}${APP}`, { waitUntil: 'commit' });
    await page.getByText('ui-anna@example.org', { exact: true }).waitFor({ timeout: FIRST_LOAD_MS });
    await page.getByText('ui-nobody@example.org', { exact: true }).waitFor({ timeout: STEP_MS });

    const text = await pageText(page);
    expect(text).toContain('ui-ben@example.org');
    expect(text).toContain('ui-cleo@example.org');
    expect(text).toContain(CAMPAIGN);
    expect(text).toContain('scoreStored');
    expect(text).toContain('contactNotFound');
    expect(text).toContain('promoter');
    expect(text).toContain('detractor');
    await screenshot(page, 'invitations');
  }, FIRST_LOAD_MS + STEP_MS);

  test('object page shows the round-trip timeline', async () => {
    const annaId = invitationIds.get('ui-anna@example.org')!;
    await openRow(page, 'ui-anna@example.org');
    await page.getByText('Round-Trip Timeline').first().waitFor({ timeout: STEP_MS });
    await page.getByText('updateContacts').first().waitFor({ timeout: STEP_MS });

    const text = await pageText(page);
    expect(text).toContain('ui-anna@example.org');
    expect(text).toContain('scoreStored');
    expect(text).toContain('9 of 10');
    for (const operation of ['listLinks', 'triggerEvent', 'updateContacts']) expect(text).toContain(operation);
    expect(text).toContain('generateLink');
    expect(text).toContain('ingestScore');
    const items = await rows(SELECT.from('surveybridge.RoundTripItems').where({ invitation_ID: annaId }));
    expect(text).toContain(`Round-Trip Timeline (${items.length})`);
    await screenshot(page, 'invitation');
  }, TEST_MS);

  test('status filter narrows the list', async () => {
    await page.goBack();
    const statusInput = page.locator('[id$="FilterField::status-inner-inner"]');
    await statusInput.click();
    await statusInput.fill('contactNotFound');
    await statusInput.press('Enter');
    // An open value-help popover can cover the Go button; Escape closes it.
    await page.keyboard.press('Escape');
    await pageSettled(page);
    await page.locator('[id$="FilterBar::SurveyInvitations-btnSearch"]').click();

    await waitFor(async () => !(await pageText(page)).includes('ui-anna@example.org'), STEP_MS, 'the filtered list');
    const text = await pageText(page);
    expect(text).toContain('ui-nobody@example.org');
    expect(text).not.toContain('ui-ben@example.org');
    expect(text).toMatch(/Invitations \(1\)/);
    await screenshot(page, 'invitations-filtered');
  }, TEST_MS);

  test('campaign page shows funnel and NPS split', async () => {
    await page.locator('[id$="CustomAction::ShowCampaigns"]').click();
    await page.getByText('Sandbox NPS campaign').waitFor({ timeout: STEP_MS });
    await screenshot(page, 'campaigns');
    expect(await page.getByRole('button', { name: 'Create', exact: true }).count()).toBe(1);

    await openRow(page, 'Sandbox NPS campaign');
    await page.getByText('NPS Split').first().waitFor({ timeout: STEP_MS });
    // Sections below the first screen render once they scroll into view.
    await page.getByRole('tab', { name: 'Funnel and NPS' }).click();
    await page.getByText('Detractors (0-6)').waitFor({ timeout: STEP_MS });

    const [campaign] = await rows(SELECT.from('surveybridge.Campaigns').where({ code: CAMPAIGN }));
    const invited = await rows(SELECT.from('surveybridge.SurveyInvitations').where({ campaign_ID: campaign.ID }));
    const text = await pageText(page);
    expect(text).toMatch(new RegExp(`Invited\\s+${invited.length}\\b`));
    expect(text).toMatch(/Promoters \(9-10\)\s+1\b/);
    expect(text).toMatch(/Detractors \(0-6\)\s+1\b/);
    expect(text).toMatch(/NPS\s+0\b/);
    expect(text).toContain('Funnel');
    await screenshot(page, 'campaign');
  }, TEST_MS);

  test('campaign preflight lists the findings', async () => {
    await page.getByRole('button', { name: 'Run Preflight', exact: true }).click();
    await page.getByText(/Preflight of campaign NPS-SANDBOX: 0 errors, \d+ warnings, \d+ passed checks/).first().waitFor({ timeout: STEP_MS });
    const text = await pageText(page);
    expect(text).toContain('OK in emarsys.event');
    expect(text).toContain('OK in qualtrics.survey');
    await screenshot(page, 'campaign-preflight');
    await page.getByRole('button', { name: 'Close', exact: true }).click();
    await pageSettled(page);
  }, TEST_MS);

  test('campaign edit names the invalid field', async () => {
    await page.getByRole('button', { name: 'Edit', exact: true }).click();
    await page.getByRole('button', { name: 'Save', exact: true }).waitFor();
    await pageSettled(page);
    const validity = page.getByRole('textbox', { name: 'Link Validity (Days)' });
    await validity.fill('400');
    await validity.press('Tab');
    // Save activates the draft as stored, so the field's PATCH must have reached the draft table first.
    const { Campaigns } = cds.entities('AuditService') as any;
    await waitFor(async () => {
      const draft = await cds.tx(() => SELECT.one.from(Campaigns.drafts).columns('linkValidityDays').where({ code: CAMPAIGN }));
      return draft?.linkValidityDays === 400 ? draft : undefined;
    }, STEP_MS, 'the campaign draft to store Link Validity 400');
    await pageSettled(page);
    await page.getByRole('button', { name: 'Save', exact: true }).click();

    await page.getByText('Link Validity (Days) must be between 1 and 365.').first().waitFor({ timeout: STEP_MS });
    await screenshot(page, 'campaign-validation');
    const [campaign] = await rows(SELECT.from('surveybridge.Campaigns').where({ code: CAMPAIGN }));
    expect(campaign.linkValidityDays).toBe(30);
  }, TEST_MS);

  test('viewer sees no edit or actions', async () => {
    const { context: viewerContext, page: viewerPage } = await openSession(USERS.viewer);
    try {
      await viewerPage.goto(`${stack.url}${APP}`, { waitUntil: 'commit' });
      await viewerPage.getByText('ui-anna@example.org', { exact: true }).waitFor({ timeout: FIRST_LOAD_MS });
      await viewerPage.locator('[id$="CustomAction::ShowCampaigns"]').click();
      await viewerPage.getByText('Sandbox NPS campaign').waitFor({ timeout: STEP_MS });
      await pageSettled(viewerPage);
      expect(await viewerPage.getByRole('button', { name: 'Create', exact: true }).count()).toBe(0);
      expect(await viewerPage.getByRole('button', { name: 'Delete', exact: true }).count()).toBe(0);

      await openRow(viewerPage, 'Sandbox NPS campaign');
      await viewerPage.getByText('NPS Split').first().waitFor({ timeout: STEP_MS });
      await pageSettled(viewerPage);

      expect(await viewerPage.getByRole('button', { name: 'Edit', exact: true }).count()).toBe(0);
      expect(await viewerPage.getByRole('button', { name: 'Delete', exact: true }).count()).toBe(0);
      expect(await viewerPage.getByRole('button', { name: 'Run Preflight', exact: true }).count()).toBe(0);
      expect(await viewerPage.getByRole('button', { name: 'Activate', exact: true }).count()).toBe(0);
      await screenshot(viewerPage, 'campaign-viewer');
    } finally {
      await viewerContext.close();
    }
  }, FIRST_LOAD_MS + 4 * STEP_MS);

  test('browser stays on loopback without script errors', () => {
    expect(offLoopbackRequests).toEqual([]);
    const unexpected = pageErrors.filter(error => !KNOWN_UI5_ERRORS.some(known => known.test(error)));
    expect(unexpected).toEqual([]);
  });
});
