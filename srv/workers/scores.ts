/**
 * Writes stored scores to the Emarsys contacts of one batch. Score and category go into the campaign's
 * field ids with PUT /contact, never with create_if_not_exists, at most 1,000 contacts a call. Each
 * response gets its own outcome from the per-contact errors of the reply.
 */
import cds from '@sap/cds';
import { bridgeConfig } from '../lib/config';
import * as emarsys from '../upstream/emarsys';
import { UpstreamError } from '../upstream/http';
import { checkpointBatch, finishBatch, openBatch } from './batches';
import { INVITATIONS, ITEMS, SCORES } from '../lib/entities';

const LOG = cds.log('score-worker');

/** Emarsys per-contact reply codes and the score status each one leads to. */
const ITEM_STATUS: Record<string, string> = { '2008': 'contactNotFound', '2010': 'contactAmbiguous', '2007': 'invalidValue' };

interface ScoreOutcome {
  responseId: string;
  invitationId?: string;
  status: string;
  code?: string;
  message?: string;
}

async function applyOutcomes(roundTripId: string | undefined, outcomes: ScoreOutcome[]): Promise<void> {
  if (!outcomes.length) return;
  const now = new Date().toISOString();
  await cds.tx(async () => {
    // Stored scores share two UPDATEs; each failure keeps its own message.
    const storedOutcomes = outcomes.filter(outcome => outcome.status === 'stored');
    if (storedOutcomes.length) {
      await UPDATE(SCORES).set({ status: 'stored', storedAt: now, lastError: null })
        .where({ responseId: { in: storedOutcomes.map(outcome => outcome.responseId) } });
      const invitationIds = storedOutcomes.map(outcome => outcome.invitationId).filter((id): id is string => Boolean(id));
      if (invitationIds.length) {
        await UPDATE(INVITATIONS).set({ status: 'scoreStored', scoreStoredAt: now, lastError: null }).where({ ID: { in: invitationIds } });
      }
    }
    for (const outcome of outcomes.filter(candidate => candidate.status !== 'stored')) {
      await UPDATE(SCORES).set({ status: outcome.status, storedAt: null, lastError: outcome.message ?? null })
        .where({ responseId: outcome.responseId });
      if (outcome.invitationId) {
        await UPDATE(INVITATIONS).set({ lastError: `Score write failed: ${outcome.message ?? outcome.status}` }).where({ ID: outcome.invitationId });
      }
    }
    const items = outcomes.filter(outcome => outcome.invitationId && roundTripId).map(outcome => ({
      ID: cds.utils.uuid(), roundTrip_ID: roundTripId, invitation_ID: outcome.invitationId,
      outcome: outcome.status === 'stored' ? 'scoreStored' : outcome.status, code: outcome.code, message: outcome.message?.slice(0, 500)
    }));
    if (items.length) await INSERT.into(ITEMS).entries(items);
  });
}

/** Splits scores into chunks with at most one response per contact key, so per-contact errors stay unambiguous. */
function chunksOf(scores: any[], size: number): any[][] {
  const chunks: any[][] = [];
  for (const score of scores) {
    let chunk = chunks.find(candidate => candidate.length < size && !candidate.some(other => other.contactKey === score.contactKey));
    if (!chunk) chunks.push((chunk = []));
    chunk.push(score);
  }
  return chunks;
}

/** Returns the scores of `chunk` whose contact already has the same score and category. */
async function alreadyWritten(campaign: any, chunk: any[], batchId: string): Promise<any[]> {
  const fields = [campaign.keyFieldId, campaign.scoreFieldId, campaign.categoryFieldId];
  const contacts = await emarsys.getContactData(campaign.keyFieldId, chunk.map(score => score.contactKey), fields, { batchId });
  const byKey = new Map(contacts.map(contact => [String(contact[campaign.keyFieldId]), contact]));
  return chunk.filter(score => {
    const contact = byKey.get(score.contactKey);
    return contact && String(contact[campaign.scoreFieldId]) === String(score.score) && contact[campaign.categoryFieldId] === score.npsCategory;
  });
}

export async function processScoreBatch(batchId: string): Promise<void> {
  const opened = await openBatch(batchId, bridgeConfig().scores.leaseMs);
  if (!opened) return;
  const { batch, campaign } = opened;
  const scores = await cds.tx(() =>
    SELECT.from(SCORES, (score: any) => {
      score.responseId, score.score, score.npsCategory, score.invitation_ID, score.invitation((invitation: any) => invitation.contactKey);
    }).where({ batch_ID: batchId, status: 'pending' })
  );
  const pending = (scores as any[]).map(score => ({ ...score, contactKey: score.invitation?.contactKey }));
  const { maxBatchAttempts } = bridgeConfig().scores;
  if (batch.attempts > maxBatchAttempts) {
    const reason = `Gave up after ${maxBatchAttempts} attempts: ${batch.lastError ?? 'unknown error'}`;
    LOG.error('Score batch failed for good', { batch: batchId, reason });
    await applyOutcomes(undefined, pending.map(score => ({ responseId: score.responseId, invitationId: score.invitation_ID, status: 'failed', message: reason })));
    await finishBatch(batchId, 'failed', reason);
    return;
  }
  LOG.info('Processing score batch', { batch: batchId, campaign: campaign.code, size: pending.length, attempt: batch.attempts });
  try {
    for (const chunk of chunksOf(pending, bridgeConfig().upstream.emarsysMaxBatch)) {
      // A run that died after its PUT but before storing the outcome left written fields behind: read
      // them first, so a resumed run writes no field twice.
      if (batch.attempts > 1) {
        const written = await alreadyWritten(campaign, chunk, batchId);
        if (written.length) {
          LOG.info(`${written.length} scores were already on their contacts; not writing them again`, { batch: batchId });
          await applyOutcomes(undefined, written.map(score => ({ responseId: score.responseId, invitationId: score.invitation_ID, status: 'stored' })));
          chunk.splice(0, chunk.length, ...chunk.filter(score => !written.includes(score)));
          if (!chunk.length) continue;
        }
      }
      const contacts = chunk.map(score => ({
        [campaign.keyFieldId]: score.contactKey,
        [campaign.scoreFieldId]: String(score.score),
        [campaign.categoryFieldId]: score.npsCategory
      }));
      let result: emarsys.BatchResult;
      try {
        result = await emarsys.updateContacts(campaign.keyFieldId, contacts, { batchId });
      } catch (error) {
        if (error instanceof UpstreamError && !error.retryable) {
          await applyOutcomes(error.roundTripId, chunk.map(score => ({
            responseId: score.responseId, invitationId: score.invitation_ID, status: 'failed', code: error.code, message: error.message
          })));
          continue;
        }
        throw error;
      }
      await applyOutcomes(result.roundTripId, chunk.map(score => {
        const error = result.errors[score.contactKey];
        if (!error) return { responseId: score.responseId, invitationId: score.invitation_ID, status: 'stored' };
        return {
          responseId: score.responseId, invitationId: score.invitation_ID, status: ITEM_STATUS[error.code] ?? 'failed',
          code: error.code, message: `Emarsys ${error.code}: ${error.text}`
        };
      }));
    }
  } catch (error: any) {
    const message = String(error?.message ?? error).slice(0, 1000);
    await checkpointBatch(batchId, { lastError: message, leaseOwner: null }, 0);
    LOG.warn('Score batch will be retried', { batch: batchId, error: message });
    throw error;
  }
  await finishBatch(batchId, 'done');
  LOG.info('Score batch done', { batch: batchId });
}
