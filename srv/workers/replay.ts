/**
 * Replay for administrators: puts failed invitations or failed score writes back into their queue,
 * so the workers run them again with new round trips on the same invitation.
 */
import cds from '@sap/cds';
import { InputError } from '../inbound/validation';
import { triggerIdOf } from './invitations';

const LOG = cds.log('replay');

/** Invitation statuses a replay may restart; each stopped before Emarsys mailed the contact. */
export const REPLAYABLE_INVITATION_STATUSES = ['failed', 'linkNotFound', 'contactNotFound'];
/** Score statuses a replay may restart: every failed write-back. */
export const REPLAYABLE_SCORE_STATUSES = ['failed', 'contactNotFound', 'contactAmbiguous', 'invalidValue'];

export interface ReplayRequest {
  target: string;
  campaign?: string | null;
  statuses?: string[] | null;
  ids?: string[] | null;
  user: string;
}

function chosenStatuses(requested: string[] | null | undefined, allowed: string[], target: string): string[] {
  if (!requested?.length) return allowed;
  const refused = requested.filter(status => !allowed.includes(status));
  if (refused.length) {
    throw new InputError(400, 'STATUS_NOT_REPLAYABLE', `Status ${refused.join(', ')} cannot be replayed for ${target}; use one of ${allowed.join(', ')}`, 'statuses');
  }
  return requested;
}

async function campaignId(code: string | null | undefined): Promise<string | undefined> {
  if (!code) return undefined;
  const campaign = await SELECT.one.from('surveybridge.Campaigns').columns('ID').where({ code });
  if (!campaign) throw new InputError(404, 'CAMPAIGN_NOT_FOUND', `Campaign '${code}' does not exist`, 'campaign');
  return campaign.ID;
}

async function replayInvitations(request: ReplayRequest): Promise<number> {
  const statuses = chosenStatuses(request.statuses, REPLAYABLE_INVITATION_STATUSES, 'invitations');
  const where: Record<string, unknown> = { status: { in: statuses } };
  const campaign = await campaignId(request.campaign);
  if (campaign) where.campaign_ID = campaign;
  if (request.ids?.length) where.ID = { in: request.ids };
  const selected = await SELECT.from('surveybridge.SurveyInvitations').columns('ID', 'replays', 'lastError').where(where);
  const now = new Date().toISOString();
  for (const invitation of selected as any[]) {
    const replays = (invitation.replays ?? 0) + 1;
    // The earlier trigger mailed nothing, so the replay gets a trigger_id of its own; Emarsys would
    // drop a repeated one.
    await UPDATE('surveybridge.SurveyInvitations').set({
      status: 'received', batch_ID: null, surveyLink: null, linkExpiresAt: null, linkIssuedAt: null, finishedAt: null,
      distributionId: null, transactionBatchId: null, replays, triggerId: `${triggerIdOf(invitation.ID)}-r${replays}`,
      lastError: `Replayed by ${request.user} at ${now}; before: ${invitation.lastError ?? 'no error text'}`.slice(0, 1000)
    }).where({ ID: invitation.ID, status: { in: statuses } });
  }
  return selected.length;
}

async function replayScores(request: ReplayRequest): Promise<number> {
  const statuses = chosenStatuses(request.statuses, REPLAYABLE_SCORE_STATUSES, 'scores');
  const where: Record<string, unknown> = { status: { in: statuses }, invitation_ID: { '!=': null } };
  const campaign = await campaignId(request.campaign);
  if (campaign) where.campaign_ID = campaign;
  if (request.ids?.length) where.responseId = { in: request.ids };
  return UPDATE('surveybridge.ScoreResponses')
    .set({ status: 'pending', batch_ID: null, lastError: `Replayed by ${request.user}` })
    .where(where);
}

/** Resets the selected rows in the caller's transaction and returns how many were put back. */
export async function replay(request: ReplayRequest): Promise<{ invitations: number; scores: number }> {
  if (request.target !== 'invitations' && request.target !== 'scores') {
    throw new InputError(400, 'INVALID_TARGET', "Parameter 'target' must be 'invitations' or 'scores'", 'target');
  }
  const result = request.target === 'invitations'
    ? { invitations: await replayInvitations(request), scores: 0 }
    : { invitations: 0, scores: await replayScores(request) };
  LOG.info('Replay requested', { user: request.user, target: request.target, campaign: request.campaign, ...result });
  return result;
}

/**
 * Replays one invitation from the audit UI: the invitation itself when it failed, otherwise its score
 * write when that failed.
 */
async function replayOne(invitationId: string, user: string): Promise<{ invitations: number; scores: number }> {
  const invitation = await SELECT.one.from('surveybridge.SurveyInvitations').columns('ID', 'status', 'responseId').where({ ID: invitationId });
  if (!invitation) throw new InputError(404, 'INVITATION_NOT_FOUND', `Invitation ${invitationId} does not exist`);
  if (REPLAYABLE_INVITATION_STATUSES.includes(invitation.status)) return replay({ target: 'invitations', ids: [invitationId], user });
  const score = invitation.responseId
    ? await SELECT.one.from('surveybridge.ScoreResponses').columns('status').where({ responseId: invitation.responseId })
    : undefined;
  if (score && REPLAYABLE_SCORE_STATUSES.includes(score.status)) return replay({ target: 'scores', ids: [invitation.responseId], user });
  throw new InputError(409, 'NOTHING_TO_REPLAY',
    `Invitation ${invitationId} has status ${invitation.status} and no failed score write; only ${REPLAYABLE_INVITATION_STATUSES.join(', ')} or failed score writes can be replayed`);
}

async function answer(req: cds.Request, work: () => Promise<unknown>): Promise<unknown> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof InputError) return req.reject({ status: error.status, code: error.code, message: error.message, target: error.target });
    throw error;
  }
}

/** Registers the replay handlers on AdminService and on AuditService.SurveyInvitations once served. */
export function registerReplay(): void {
  cds.on('served', ({ AdminService, AuditService }: any) => {
    AdminService?.on('replay', (req: cds.Request) => {
      const data = req.data as any;
      return answer(req, () => replay({ target: data.target, campaign: data.campaign, statuses: data.statuses, ids: data.ids, user: req.user.id }));
    });
    AuditService?.on('replay', 'SurveyInvitations', (req: cds.Request) => {
      const invitationId = (req.params[0] as any)?.ID ?? req.params[0];
      return answer(req, () => replayOne(String(invitationId), req.user.id));
    });
  });
}
