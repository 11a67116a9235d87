/**
 * Micro-batching: claims waiting rows of one campaign into a WorkBatch and queues a message for it in
 * the same transaction, so a batch exists exactly when its message does. Leases keep two instances
 * from running one batch at the same time.
 */
import cds from '@sap/cds';
import os from 'node:os';

const LOG = cds.log('batches');

export const WORK_BATCHES = 'surveybridge.WorkBatches';

/** Identifies this process in batch leases. */
export const WORKER_ID = `${os.hostname()}:${process.pid}:${cds.utils.uuid().slice(0, 8)}`;

export interface BatchSource {
  contents: 'invitations' | 'scores';
  /** Entity whose rows are claimed, and its key column. */
  entity: string;
  key: string;
  /** Condition of a waiting row, besides `batch_ID is null`. */
  waiting: Record<string, unknown>;
  /** Column that orders waiting rows and gives their age. */
  ageColumn: string;
  batchSize: number;
  flushAgeMs: number;
  /** Queues the batch's message; called inside the claiming transaction. */
  enqueue: (batchId: string) => Promise<void>;
}

/** Claims every batch that is due (full, or its oldest row old enough) and returns how many rows were claimed. */
export async function claimDueBatches(source: BatchSource): Promise<number> {
  const due = await cds.tx(() =>
    SELECT.from(source.entity)
      .columns('campaign_ID', 'count(1) as waiting', `min(${source.ageColumn}) as oldest`)
      .where({ ...source.waiting, batch_ID: null })
      .groupBy('campaign_ID')
  );
  let claimed = 0;
  const now = Date.now();
  for (const row of due as any[]) {
    let waiting = Number(row.waiting);
    const oldEnough = now - new Date(row.oldest).getTime() >= source.flushAgeMs;
    while (waiting >= source.batchSize || (waiting > 0 && oldEnough)) {
      const size = await claimOne(source, row.campaign_ID);
      if (size === 0) break;
      claimed += size;
      waiting -= size;
    }
  }
  return claimed;
}

async function claimOne(source: BatchSource, campaignId: string): Promise<number> {
  const batchId = cds.utils.uuid();
  return cds.tx(async () => {
    const ids = await SELECT.from(source.entity)
      .columns(source.key)
      .where({ ...source.waiting, batch_ID: null, campaign_ID: campaignId })
      .orderBy(source.ageColumn)
      .limit(source.batchSize);
    if (!ids.length) return 0;
    await INSERT.into(WORK_BATCHES).entries({ ID: batchId, contents: source.contents, campaign_ID: campaignId, size: ids.length });
    // `batch_ID is null` is checked again, so a row that another instance claimed meanwhile is not taken twice.
    const affected = await UPDATE(source.entity)
      .set({ batch_ID: batchId })
      .where({ [source.key]: { in: ids.map((row: any) => row[source.key]) }, batch_ID: null });
    if (affected !== ids.length) await UPDATE(WORK_BATCHES).set({ size: affected }).where({ ID: batchId });
    await source.enqueue(batchId);
    LOG.info(`Claimed ${source.contents} batch`, { batch: batchId, campaign: campaignId, size: affected });
    return affected;
  });
}

export class BatchBusyError extends Error {}

/**
 * Takes the lease of a batch for `leaseMs`; throws BatchBusyError while another instance holds it.
 * Returns the batch row, or undefined when the batch no longer exists.
 */
export async function leaseBatch(batchId: string, leaseMs: number): Promise<any> {
  return cds.tx(async () => {
    const now = new Date();
    const until = new Date(now.getTime() + leaseMs).toISOString();
    const affected = await UPDATE(WORK_BATCHES)
      .set({ leaseOwner: WORKER_ID, leaseUntil: until, attempts: { '+=': 1 } })
      .where`ID = ${batchId} and (leaseOwner is null or leaseOwner = ${WORKER_ID} or leaseUntil < ${now.toISOString()})`;
    const batch = await SELECT.one.from(WORK_BATCHES).where({ ID: batchId });
    if (batch && !affected) throw new BatchBusyError(`Batch ${batchId} is being processed by ${batch.leaseOwner}`);
    return batch;
  });
}

/**
 * Leases an open batch and reads its campaign. Returns undefined when the batch is gone or final;
 * throws BatchBusyError while another instance runs it, so the queue tries again later.
 */
export async function openBatch(batchId: string, leaseMs: number): Promise<{ batch: any; campaign: any } | undefined> {
  let batch: any;
  try {
    batch = await leaseBatch(batchId, leaseMs);
  } catch (error) {
    if (error instanceof BatchBusyError) LOG.info(error.message, { batch: batchId });
    throw error;
  }
  if (!batch || batch.status !== 'open') return undefined;
  const campaign = await cds.tx(() => SELECT.one.from('surveybridge.Campaigns').where({ ID: batch.campaign_ID }));
  return { batch, campaign };
}

/** Extends the lease and stores checkpoint fields of a batch, inside the caller's transaction. */
export async function writeCheckpoint(batchId: string, fields: Record<string, unknown>, leaseMs: number): Promise<void> {
  const leaseUntil = new Date(Date.now() + leaseMs).toISOString();
  await UPDATE(WORK_BATCHES).set({ ...fields, leaseUntil }).where({ ID: batchId });
}

/** Extends the lease and stores checkpoint fields of a batch in a transaction of its own. */
export async function checkpointBatch(batchId: string, fields: Record<string, unknown>, leaseMs: number): Promise<void> {
  await cds.tx(() => writeCheckpoint(batchId, fields, leaseMs));
}

export async function finishBatch(batchId: string, status: 'done' | 'failed', lastError?: string): Promise<void> {
  await cds.tx(() =>
    UPDATE(WORK_BATCHES)
      .set({ status, lastError, leaseOwner: null, leaseUntil: null, finishedAt: new Date().toISOString() })
      .where({ ID: batchId })
  );
}
