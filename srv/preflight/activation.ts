/**
 * Campaign activation through the preflight. SQLite serves every transaction through one connection.
 * So the campaign is read in a short transaction of its own, and the request's transaction touches the
 * database only after the last upstream call, because recording a round trip would wait forever otherwise.
 */
import cds from '@sap/cds';
import { runPreflight, type Finding, type PreflightCampaign } from './checks';
import { CAMPAIGNS } from '../lib/entities';

const LOG = cds.log('preflight');

const ACTIVATIONS = 'surveybridge.CampaignActivations';
const MAX_REASON_LENGTH = 1000;

export interface StoredCampaign extends PreflightCampaign {
  ID: string;
  active: boolean;
  modifiedAt: string | null;
}

export interface ActivationRequest {
  override?: boolean | null;
  reason?: string | null;
}

export interface ActivationResult {
  activation: string;
  active: boolean;
  override: boolean;
  findings: Finding[];
}

/** A rejected activation, with `status` as the HTTP status of the reply. */
export class ActivationError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly findings: Finding[] = []) {
    super(message);
    this.name = 'ActivationError';
  }
}

/** Reads a campaign, and the user editing a draft of it if there is one, in a transaction of its own. */
export async function readCampaign(id: string): Promise<{ campaign?: StoredCampaign; draftEditor?: string | null }> {
  return cds.tx(async () => {
    const campaign = await SELECT.one.from(CAMPAIGNS).where({ ID: id });
    if (!campaign) return {};
    const drafts = (cds.model!.definitions['AuditService.Campaigns'] as any)?.drafts;
    const draft = drafts
      ? await SELECT.one.from(drafts).columns('ID', 'DraftAdministrativeData.InProcessByUser as editor').where({ ID: id })
      : undefined;
    return { campaign, draftEditor: draft ? draft.editor ?? null : undefined };
  });
}

function validateRequest(campaignCode: string, request: ActivationRequest): { override: boolean; reason: string | null } {
  const override = request.override === true;
  const reason = typeof request.reason === 'string' && request.reason.trim() ? request.reason.trim() : null;
  if (override && !reason) {
    throw new ActivationError(400, 'OVERRIDE_REASON_MISSING', `Activating campaign ${campaignCode} with override needs a reason. Send it in the reason parameter.`);
  }
  if (reason && reason.length > MAX_REASON_LENGTH) {
    throw new ActivationError(400, 'OVERRIDE_REASON_TOO_LONG', `The reason has ${reason.length} characters. Shorten it to at most ${MAX_REASON_LENGTH}.`);
  }
  return { override, reason };
}

function countOf(findings: Finding[], severity: Finding['severity']): number {
  return findings.filter(finding => finding.severity === severity).length;
}

/**
 * Runs the preflight for an inactive campaign and activates it when no error was found, or when the
 * admin overrides the errors with a reason. Records the activation with its findings. Throws an
 * ActivationError, and changes no data, when the campaign cannot be activated.
 */
export async function activateCampaign(id: string, request: ActivationRequest, userId: string): Promise<ActivationResult> {
  const { campaign, draftEditor } = await readCampaign(id);
  if (!campaign) throw new ActivationError(404, 'CAMPAIGN_NOT_FOUND', `Campaign ${id} does not exist.`);
  const { override, reason } = validateRequest(campaign.code, request);
  if (campaign.active) {
    throw new ActivationError(409, 'CAMPAIGN_ALREADY_ACTIVE', `Campaign ${campaign.code} is already active. Run the preflight action to check it again.`);
  }
  if (draftEditor !== undefined) {
    throw new ActivationError(409, 'CAMPAIGN_DRAFT_OPEN',
      `Campaign ${campaign.code} has an unsaved draft of user ${draftEditor ?? 'unknown'}. Save or discard the draft, then activate the campaign.`);
  }

  const findings = await runPreflight(campaign);
  const errors = countOf(findings, 'error');
  if (errors > 0 && !override) {
    throw new ActivationError(409, 'PREFLIGHT_FAILED',
      `Campaign ${campaign.code} was not activated because the preflight found ${errors} error${errors === 1 ? '' : 's'}, listed in the details. ` +
      'Fix the campaign or the Emarsys and Qualtrics setup and activate again, or activate with override true and a reason.',
      findings.filter(finding => finding.severity === 'error'));
  }

  // The campaign must still be inactive and unchanged, so the findings describe the settings that go live.
  const updated = await UPDATE(CAMPAIGNS).set({ active: true }).where({ ID: id, active: false, modifiedAt: campaign.modifiedAt });
  if (!updated) {
    throw new ActivationError(409, 'CAMPAIGN_CHANGED', `Campaign ${campaign.code} changed while the preflight ran. Activate it again.`);
  }
  const activation = {
    ID: cds.utils.uuid(),
    campaign_ID: id,
    at: new Date().toISOString(),
    by: userId,
    override: errors > 0,
    reason,
    errors,
    warnings: countOf(findings, 'warning'),
    findings: JSON.stringify(findings)
  };
  await INSERT.into(ACTIVATIONS).entries(activation);
  if (errors > 0) {
    LOG.warn(`Campaign ${campaign.code} activated by ${userId} despite ${errors} preflight errors`, { activation: activation.ID, reason });
  } else {
    LOG.info(`Campaign ${campaign.code} activated by ${userId}`, { activation: activation.ID });
  }
  return { activation: activation.ID, active: true, override: activation.override, findings };
}
