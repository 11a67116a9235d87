/**
 * Durable intake of inbound calls with group commit: calls that arrive together are written in one
 * transaction, and each caller gets its response only after that transaction committed. One SQLite
 * commit per call would cap intake at a few hundred calls per second; one per group does not.
 */
import cds from '@sap/cds';
import { bridgeConfig } from '../lib/config';
import { newRoundTrip } from '../upstream/round-trips';
import { writeScores, type ScoreRequest } from './scores';
import { INVITATIONS, ROUND_TRIPS } from '../lib/entities';

const LOG = cds.log('intake');

/** Statuses after which a repeated webhook call starts a new cycle instead of reusing the invitation. */
export const RESTARTABLE_STATUSES = new Set(['failed', 'linkNotFound', 'contactNotFound']);

export interface CampaignRow {
  ID: string;
  code: string;
  active: boolean;
  surveyId: string;
  directoryId: string;
  mailingListId: string;
  linkValidityDays: number;
  externalEventId: string;
  keyFieldId: string;
  scoreFieldId: string;
  categoryFieldId: string;
  contactKeyProperty: string;
  fatigueCooldownDays?: number;
}

export interface InvitationRequest {
  campaign: CampaignRow;
  contactKey: string;
  firstName?: string;
  lastName?: string;
  language?: string;
  durationMs: number;
}

export interface InvitationReceipt {
  invitationId: string;
  status: string;
  repeated: boolean;
}

interface Job {
  work: (tx: GroupWork) => void;
  resolve: (value: any) => void;
  reject: (error: unknown) => void;
}

/** Work that one group transaction collects before it writes. */
export class GroupWork {
  readonly invitationRequests: Array<{ request: InvitationRequest; done: (receipt: InvitationReceipt) => void }> = [];
  readonly scoreRequests: ScoreRequest[] = [];
  readonly roundTrips: Record<string, unknown>[] = [];
  readonly extra: Array<() => Promise<void>> = [];
}

/** Checks whether a stored invitation still covers a repeated call for the same contact and campaign. */
export function isCurrentInvitation(row: { status: string; cycleEndsAt: string | Date }, now: number, marginMs: number): boolean {
  if (RESTARTABLE_STATUSES.has(row.status)) return false;
  // The margin keeps links that expire soon from being reused; a fatigue suppression has no link.
  const margin = row.status === 'suppressedFatigue' ? 0 : marginMs;
  return new Date(row.cycleEndsAt).getTime() - margin > now;
}

class GroupCommitter {
  private queue: Job[] = [];
  private running = false;

  submit<T>(work: (group: GroupWork) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve, reject });
      if (!this.running) {
        this.running = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length) {
        const jobs = this.queue.splice(0, bridgeConfig().intake.maxGroupSize);
        await this.commitGroup(jobs);
      }
    } finally {
      this.running = false;
    }
  }

  private async commitGroup(jobs: Job[]): Promise<void> {
    // A unique-key conflict means another instance inserted the same contact cycle meanwhile; the
    // second try reads that row and reuses it.
    for (let attempt = 1; ; attempt++) {
      const group = new GroupWork();
      try {
        for (const job of jobs) job.work(group);
        await cds.tx(() => writeGroup(group));
        for (const job of jobs) job.resolve(undefined);
        return;
      } catch (error: any) {
        if (attempt < 3 && /UNIQUE|unique constraint/i.test(String(error?.message))) {
          LOG.warn('Intake group hit a concurrent insert; retrying', { calls: jobs.length, attempt });
          continue;
        }
        LOG.error('Intake group failed', { calls: jobs.length }, error);
        for (const job of jobs) job.reject(error);
        return;
      }
    }
  }
}

/** Writes one group: invitations, scores, extra writes and all round trips. */
async function writeGroup(group: GroupWork): Promise<void> {
  if (group.invitationRequests.length) await writeInvitations(group);
  if (group.scoreRequests.length) await writeScores(group.scoreRequests, group.roundTrips);
  for (const write of group.extra) await write();
  if (group.roundTrips.length) await INSERT.into(ROUND_TRIPS).entries(group.roundTrips);
}

/** Statuses of an invitation that counts for the fatigue cooldown: the contact was or is being invited. */
const INVITING_STATUSES = new Set(['received', 'linkIssued', 'eventTriggered', 'responded', 'scoreStored']);

const DAY_MS = 86_400_000;

interface InvitationRow {
  ID: string;
  campaign_ID: string;
  contactKey: string;
  cycle: number;
  status: string;
  cycleEndsAt: string;
  receivedAt: string;
}

/**
 * Finds the invitation that makes a new one too early: the newest inviting invitation of the contact
 * inside the campaign's cooldown, or inside the global cooldown in any campaign.
 */
export function fatigueBlocker(rows: InvitationRow[], campaign: CampaignRow, now: number, globalCooldownDays: number): InvitationRow | undefined {
  let blocker: InvitationRow | undefined;
  for (const row of rows) {
    if (!INVITING_STATUSES.has(row.status)) continue;
    const age = now - new Date(row.receivedAt).getTime();
    const sameCampaign = row.campaign_ID === campaign.ID;
    const inCampaignCooldown = sameCampaign && age < (campaign.fatigueCooldownDays ?? 0) * DAY_MS;
    const inGlobalCooldown = age < globalCooldownDays * DAY_MS;
    if ((inCampaignCooldown || inGlobalCooldown) && (!blocker || blocker.receivedAt < row.receivedAt)) blocker = row;
  }
  return blocker;
}

/**
 * Reads every invitation of the group's contacts, returns the current one for a repeated call, and
 * otherwise creates a new cycle: `received`, or `suppressedFatigue` inside a cooldown.
 */
async function writeInvitations(group: GroupWork): Promise<void> {
  const now = Date.now();
  const nowIso = new Date(now).toISOString();
  const { linkExpiryMarginMs } = bridgeConfig().invitations;
  const { globalCooldownDays } = bridgeConfig().fatigue;

  const keys = [...new Set(group.invitationRequests.map(({ request }) => request.contactKey))];
  const rowsByKey = new Map<string, InvitationRow[]>();
  const found = (await SELECT.from(INVITATIONS)
    .columns('ID', 'campaign_ID', 'contactKey', 'cycle', 'status', 'cycleEndsAt', 'receivedAt')
    .where({ contactKey: { in: keys } })) as InvitationRow[];
  for (const row of found) rowsByKey.set(row.contactKey, [...(rowsByKey.get(row.contactKey) ?? []), row]);

  const inserts: any[] = [];
  for (const { request, done } of group.invitationRequests) {
    const { campaign } = request;
    const rows = rowsByKey.get(request.contactKey) ?? [];
    const latest = rows.filter(row => row.campaign_ID === campaign.ID).reduce<InvitationRow | undefined>(
      (newest, row) => (!newest || newest.cycle < row.cycle ? row : newest), undefined);
    let receipt: InvitationReceipt;
    // The margin never exceeds half the validity, so a freshly issued link always counts as current.
    const marginMs = Math.min(linkExpiryMarginMs, (campaign.linkValidityDays * DAY_MS) / 2);
    if (latest && isCurrentInvitation(latest, now, marginMs)) {
      receipt = { invitationId: latest.ID, status: latest.status, repeated: true };
    } else {
      const blocker = fatigueBlocker(rows, campaign, now, globalCooldownDays);
      const row: InvitationRow & Record<string, unknown> = {
        ID: cds.utils.uuid(),
        campaign_ID: campaign.ID,
        cycle: (latest?.cycle ?? 0) + 1,
        contactKey: request.contactKey,
        firstName: request.firstName,
        lastName: request.lastName,
        language: request.language,
        status: 'received',
        receivedAt: nowIso,
        cycleEndsAt: new Date(now + campaign.linkValidityDays * DAY_MS).toISOString()
      };
      if (blocker) {
        const cooldownDays = Math.max(blocker.campaign_ID === campaign.ID ? campaign.fatigueCooldownDays ?? 0 : 0, globalCooldownDays);
        // The suppressed invitation stays current until the cooldown ends, so repeated calls reuse it.
        row.cycleEndsAt = new Date(new Date(blocker.receivedAt).getTime() + cooldownDays * DAY_MS).toISOString();
        row.status = 'suppressedFatigue';
        row.finishedAt = nowIso;
        row.lastError = `Contact was invited on ${blocker.receivedAt.slice(0, 10)} (invitation ${blocker.ID}); the ${cooldownDays}-day cooldown runs until ${String(row.cycleEndsAt).slice(0, 10)}`;
      }
      inserts.push(row);
      rowsByKey.set(request.contactKey, [...rows, row]);
      receipt = { invitationId: row.ID, status: row.status, repeated: false };
    }
    group.roundTrips.push(newRoundTrip({
      direction: 'inbound', system: 'emarsys', operation: 'generateLink', method: 'POST',
      path: '/inbound/generateLink', httpStatus: 202, durationMs: request.durationMs, itemCount: 1,
      invitation_ID: receipt.invitationId
    }));
    done(receipt);
  }
  if (inserts.length) await INSERT.into(INVITATIONS).entries(inserts);
}

const committer = new GroupCommitter();

/** Stores the invitation (or finds the current one) together with the inbound round trip. */
export async function acceptInvitation(request: InvitationRequest): Promise<InvitationReceipt> {
  let receipt: InvitationReceipt | undefined;
  await committer.submit<void>(group => group.invitationRequests.push({ request, done: value => (receipt = value) }));
  return receipt!;
}

/** Stores a survey response's score with its round trip; `request.done` receives the outcome before the commit resolves. */
export function acceptScore(request: ScoreRequest): Promise<void> {
  return committer.submit<void>(group => group.scoreRequests.push(request));
}

/** Records the inbound round trip of a rejected call; nothing else is written for it. */
export function recordRejectedCall(system: 'emarsys' | 'qualtrics', operation: string, httpStatus: number, error: string,
  durationMs?: number): Promise<void> {
  return committer.submit<void>(group => {
    group.roundTrips.push(newRoundTrip({
      direction: 'inbound', system, operation, method: 'POST', path: `/inbound/${operation}`,
      httpStatus, durationMs, itemCount: 1, error
    }));
  });
}

/** Adds arbitrary writes to the next group transaction; the promise settles after the commit. */
export function commitWithGroup(write: () => Promise<void>, roundTrip?: Record<string, unknown>): Promise<void> {
  return committer.submit<void>(group => {
    group.extra.push(write);
    if (roundTrip) group.roundTrips.push(roundTrip);
  });
}

const campaignCache = new Map<string, { row: CampaignRow | undefined; at: number }>();

/** Reads a campaign by code, cached briefly so request validation costs no query per call. */
export async function campaignByCode(code: string): Promise<CampaignRow | undefined> {
  const cached = campaignCache.get(code);
  if (cached && Date.now() - cached.at < bridgeConfig().intake.campaignCacheMs) return cached.row;
  const row = (await cds.tx(() => SELECT.one.from('surveybridge.Campaigns').where({ code }))) as CampaignRow | undefined;
  campaignCache.set(code, { row, at: Date.now() });
  return row;
}

export function clearCampaignCache(): void {
  campaignCache.clear();
}
