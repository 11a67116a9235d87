/**
 * Retention of personal data: invitations received longer ago than `cds.surveyBridge.retention.invitationDays`
 * (default 400) are deleted with their survey links, round-trip items and score responses, and so are round trips,
 * unmatched score responses and finished work batches of the same age. The purge runs from CAP's
 * persistent queue on a schedule, so one run happens per schedule slot however many instances run.
 */
import cds from '@sap/cds';
import { BATCHES, INVITATIONS, ITEMS, LINKS, ROUND_TRIPS, SCORES } from '../lib/entities';

const LOG = cds.log('retention');

const DAY_MS = 86_400_000;

export interface RetentionSettings {
  /** Age in days after which an invitation and its trail are deleted. */
  invitationDays: number;
  /** When the purge runs: a cron expression in server time (UTC on Cloud Foundry) or an interval such as '1h'. */
  schedule: string;
  /** Maximum rows of each kind deleted per run, so one run stays well inside the queue's processing timeout. */
  maxRowsPerRun: number;
  /** Rows deleted per transaction. */
  chunkSize: number;
}

const DEFAULTS: RetentionSettings = { invitationDays: 400, schedule: '17 * * * *', maxRowsPerRun: 5_000, chunkSize: 500 };

export function retentionSettings(): RetentionSettings {
  return { ...DEFAULTS, ...((cds.env as any).surveyBridge?.retention ?? {}) };
}

export interface PurgeResult {
  cutoff: string;
  invitations: number;
  scoreResponses: number;
  roundTrips: number;
  workBatches: number;
  /** True when a kind reached maxRowsPerRun, so older rows remain for the next run. */
  more: boolean;
}

/** Deletes chunks of keys that `select` finds, each chunk in a transaction of its own, up to `max` rows. */
async function purgeInChunks(select: (limit: number) => Promise<string[]>, remove: (keys: string[]) => Promise<void>,
  max: number, chunkSize: number): Promise<{ count: number; more: boolean }> {
  let count = 0;
  while (count < max) {
    const keys = await cds.tx(() => select(Math.min(chunkSize, max - count)));
    if (!keys.length) return { count, more: false };
    await cds.tx(() => remove(keys));
    count += keys.length;
  }
  return { count, more: true };
}

async function idsOf(query: any, key = 'ID'): Promise<string[]> {
  return ((await query) as any[]).map(row => row[key] as string);
}

async function removeInvitations(ids: string[]): Promise<void> {
  await DELETE.from(ITEMS).where({ invitation_ID: { in: ids } });
  await DELETE.from(LINKS).where({ invitation_ID: { in: ids } });
  await UPDATE(ROUND_TRIPS).set({ invitation_ID: null }).where({ invitation_ID: { in: ids } });
  await DELETE.from(SCORES).where({ invitation_ID: { in: ids } });
  await DELETE.from(INVITATIONS).where({ ID: { in: ids } });
}

async function removeRoundTrips(ids: string[]): Promise<void> {
  await DELETE.from(ITEMS).where({ roundTrip_ID: { in: ids } });
  await DELETE.from(ROUND_TRIPS).where({ ID: { in: ids } });
}

/**
 * Runs one purge. Tests pass `now` to move the cutoff.
 *
 * NOTE: the purge logs counts only and sends no audit-log entry per deleted row.
 */
export async function purgeExpired(now = Date.now()): Promise<PurgeResult> {
  const { invitationDays, maxRowsPerRun, chunkSize } = retentionSettings();
  const cutoff = new Date(now - invitationDays * DAY_MS).toISOString();

  const invitations = await purgeInChunks(
    limit => idsOf(SELECT.from(INVITATIONS).columns('ID').where({ receivedAt: { '<': cutoff } }).limit(limit)),
    removeInvitations, maxRowsPerRun, chunkSize);
  const scoreResponses = await purgeInChunks(
    limit => idsOf(SELECT.from(SCORES).columns('responseId').where({ receivedAt: { '<': cutoff } }).limit(limit), 'responseId'),
    keys => DELETE.from(SCORES).where({ responseId: { in: keys } }) as any, maxRowsPerRun, chunkSize);
  const roundTrips = await purgeInChunks(
    limit => idsOf(SELECT.from(ROUND_TRIPS).columns('ID').where({ at: { '<': cutoff } }).limit(limit)),
    removeRoundTrips, maxRowsPerRun, chunkSize);
  // A batch still open is left alone whatever its age, because a worker may hold it.
  const workBatches = await purgeInChunks(
    limit => idsOf(SELECT.from(BATCHES).columns('ID').where({ createdAt: { '<': cutoff }, status: { '!=': 'open' } }).limit(limit)),
    keys => DELETE.from(BATCHES).where({ ID: { in: keys } }) as any, maxRowsPerRun, chunkSize);

  const result = {
    cutoff, invitations: invitations.count, scoreResponses: scoreResponses.count, roundTrips: roundTrips.count,
    workBatches: workBatches.count, more: invitations.more || scoreResponses.more || roundTrips.more || workBatches.more
  };
  if (result.invitations || result.scoreResponses || result.roundTrips || result.workBatches) LOG.info('Expired rows purged', result);
  return result;
}
