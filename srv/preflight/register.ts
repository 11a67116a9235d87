/**
 * Handlers of the preflight and activate actions of AuditService.Campaigns, and the guard that keeps
 * campaigns from going live without the preflight.
 *
 * Saving a campaign (draft activation, PATCH or UPDATE) never switches `active` from false to true. Such a
 * save is rejected with 409, and the admin uses the activate action instead. The save cannot run the
 * preflight itself, because the draft handlers already hold the request's database transaction, and
 * SQLite's one connection would then block the round-trip records of the upstream calls.
 */
import cds from '@sap/cds';
import { runPreflight } from './checks';
import { ActivationError, activateCampaign, readCampaign } from './activation';
import type { Finding } from './findings';

const LOG = cds.log('preflight');

/** Returns the campaign id of a bound action on a saved campaign. */
function campaignIdOf(req: cds.Request): string {
  const [key] = req.params as any[];
  const id = typeof key === 'object' && key !== null ? key.ID : key;
  if (typeof id !== 'string' || !id) req.reject(400, `The ${req.event} action needs the campaign ID.`);
  return id;
}

/** Rejects the actions on a draft, because they check and change the saved campaign, not unsaved edits. */
function rejectDraft(req: cds.Request): void {
  const [key] = req.params as any[];
  const id = typeof key === 'object' && key !== null ? key.ID : key;
  req.reject(400, `The ${req.event} action works on saved campaigns. Save or discard the draft of campaign ${id}, then call it with IsActiveEntity=true.`);
}

/**
 * Adds the findings to the response as messages (the OData `sap-messages` header), which Fiori
 * elements shows in a dialog after the action. Errors go out as warnings, because an error message
 * would fail the request.
 */
function reportFindings(req: cds.Request, summary: string, findings: Finding[]): void {
  const counts = { error: 0, warning: 0, info: 0 };
  for (const finding of findings) counts[finding.severity]++;
  req.info(`${summary}: ${counts.error} errors, ${counts.warning} warnings, ${counts.info} passed checks.`);
  const labels = { error: 'Error', warning: 'Warning', info: 'OK' };
  for (const finding of findings) {
    const text = `${labels[finding.severity]} in ${finding.check}: ${finding.found} ${finding.fix}`.trim();
    if (finding.severity === 'info') req.info(text);
    else req.warn(text);
  }
}

async function onPreflight(req: cds.Request) {
  const id = campaignIdOf(req);
  const { campaign } = await readCampaign(id);
  if (!campaign) return req.reject(404, `Campaign ${id} does not exist.`);
  const findings = await runPreflight(campaign);
  reportFindings(req, `Preflight of campaign ${campaign.code}`, findings);
  return findings;
}

async function onActivate(req: cds.Request) {
  const id = campaignIdOf(req);
  const data = req.data as { override?: boolean | null; reason?: string | null };
  try {
    const result = await activateCampaign(id, data, req.user.id);
    reportFindings(req, result.override ? 'Campaign activated despite preflight errors' : 'Campaign activated', result.findings);
    return result;
  } catch (failure) {
    if (!(failure instanceof ActivationError)) throw failure;
    LOG.info(`Activation of campaign ${id} rejected with ${failure.status} ${failure.code}`);
    const details = failure.findings.map(finding => ({
      code: finding.check, message: `${finding.found} ${finding.fix}`.trim(), status: failure.status
    }));
    return req.reject({ status: failure.status, code: failure.code, message: failure.message, ...(details.length ? { details } : {}) } as any);
  }
}

const USE_ACTIVATE = 'Save the campaign with active off, then run its Activate action, which runs the preflight checks first.';

/** Rejects an update that switches an inactive campaign to active. */
async function guardUpdate(req: cds.Request): Promise<void> {
  if ((req.data as any)?.active !== true) return;
  const current = await SELECT.one.from(req.subject as any).columns('code', 'active');
  if (!current || current.active) return;
  req.reject(409, `Campaign ${current.code} is inactive, and saving cannot activate it. ${USE_ACTIVATE}`, 'active');
}

/** Makes new campaigns start inactive, and rejects a create that sets active, as for an update. */
function guardCreate(req: cds.Request): void {
  const data = req.data as any;
  if (data.active === undefined || data.active === null) data.active = false;
  if (data.active === true) req.reject(409, `Campaign ${data.code ?? ''} cannot be created active. ${USE_ACTIVATE}`, 'active');
}

/** Starts a new draft with active off, so saving it passes the guard. */
function startInactive(req: cds.Request): void {
  const data = req.data as any;
  if (data.active === undefined || data.active === null) data.active = false;
}

/** Registers the handlers on AuditService once it is served, and does nothing when it is not served. */
export function registerPreflight(): void {
  cds.on('served', () => {
    const audit = cds.services.AuditService as cds.ApplicationService | undefined;
    if (!audit) return;
    const campaigns = (audit.entities as any).Campaigns;
    audit.on('preflight', campaigns, onPreflight);
    audit.on('activate', campaigns, onActivate);
    audit.on(['preflight', 'activate'], campaigns.drafts, rejectDraft);
    audit.before('UPDATE', campaigns, guardUpdate);
    audit.before('CREATE', campaigns, guardCreate);
    audit.before('NEW', campaigns.drafts, startInactive);
  });
}
