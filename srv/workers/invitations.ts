/**
 * Runs one invitation batch: contacts and a transaction batch in Qualtrics, an Individual-link
 * distribution, the links matched back by extRef, then the Emarsys external event in chunks. Every
 * step stores a checkpoint, so a run that died resumes without a second link or a second mail.
 */
import cds from '@sap/cds';
import { bridgeConfig } from '../lib/config';
import * as qualtrics from '../upstream/qualtrics';
import * as emarsys from '../upstream/emarsys';
import { UpstreamError } from '../upstream/http';
import { checkpointBatch, finishBatch, openBatch, writeCheckpoint } from './batches';
import { INVITATIONS, ITEMS, LINKS, modifiedByOf, tableOf } from '../lib/entities';

const LOG = cds.log('invitation-worker');

/** Imports are polled this often until Qualtrics reports them complete. */
const IMPORT_POLL_MS = 500;

export const FINAL_INVITATION_STATUSES = new Set([
  'suppressedUnsubscribed', 'suppressedFrequency', 'linkNotFound', 'eventTriggered', 'contactNotFound', 'failed'
]);

interface Outcome {
  invitationId: string;
  /** Fields to update, or null for an issued link, whose fields are copied from its SurveyLinks row. */
  set: Record<string, unknown> | null;
  item: { outcome: string; code?: string; message?: string };
}

/** A link as inserted into SurveyLinks. */
interface LinkRow {
  ID: string;
  invitation_ID: string;
  distributionId: string;
  surveyLink: string;
  expiresAt: string | null;
  issuedAt: string;
  qualtricsContactId: string | null;
  transactionId: string | null;
  status: 'issued';
}

const TRIGGER_ID_PREFIX = 'sb-';
const INVITATIONS_TABLE = tableOf(INVITATIONS);
const LINKS_TABLE = tableOf(LINKS);

/** Reads one column of an invitation's issued link from the given distribution. */
function issuedLinkColumn(column: string): string {
  return `(select l.${column} from ${LINKS_TABLE} l where l.invitation_ID = ${INVITATIONS_TABLE}.ID and l.status = 'issued' and l.distributionId = ?)`;
}

/**
 * Moves invitations to `linkIssued` with one statement per page of links. The link, its expiry and
 * the Qualtrics ids are read from the SurveyLinks rows inserted just before, so no invitation needs
 * an UPDATE of its own. The statement is plain SQL with correlated subqueries, which SQLite and SAP
 * HANA both run.
 */
async function markLinksIssued(links: LinkRow[]): Promise<void> {
  if (!links.length) return;
  const { distributionId } = links[0];
  // Every placeholder of the SET clause takes the distribution id.
  const setClause = `update ${INVITATIONS_TABLE} set status = 'linkIssued', distributionId = ?,
      linkIssuedAt = ${issuedLinkColumn('issuedAt')},
      modifiedAt = ${issuedLinkColumn('issuedAt')},
      surveyLink = ${issuedLinkColumn('surveyLink')},
      linkExpiresAt = ${issuedLinkColumn('expiresAt')},
      cycleEndsAt = coalesce(${issuedLinkColumn('expiresAt')}, cycleEndsAt),
      qualtricsContactId = ${issuedLinkColumn('qualtricsContactId')},
      transactionId = ${issuedLinkColumn('transactionId')},
      triggerId = coalesce(triggerId, '${TRIGGER_ID_PREFIX}' || ID)`;
  // The managed field modifiedBy is set here, because plain SQL skips CAP's managed-field handling.
  const sql = `${setClause}, modifiedBy = ? where status = 'received' and ID in (${links.map(() => '?').join(', ')})`;
  const placeholders = setClause.split('?').length - 1;
  const result = await cds.db.run(sql, [
    ...Array<string>(placeholders).fill(distributionId), modifiedByOf(), ...links.map(link => link.invitation_ID)
  ]);
  // Plain SQL returns the driver's result, { changes }, not a number.
  const affected = typeof result === 'number' ? result : result?.changes;
  if (affected !== links.length) {
    // The transaction rolls back, and the batch runs again from its last checkpoint.
    throw new Error(`Link issuance updated ${affected} of ${links.length} invitations of distribution ${distributionId}; the others were no longer in status received`);
  }
}

/** Derives the trigger_id of an invitation; it stays the same across retries, so Emarsys drops a repeated trigger. */
export function triggerIdOf(invitationId: string): string {
  return `${TRIGGER_ID_PREFIX}${invitationId}`;
}

export function distributionDescriptionOf(batchId: string): string {
  return `Survey Bridge batch ${batchId}`;
}

/** Writes that commit together with a set of outcomes. */
interface OutcomeWrites {
  /** Links issued with the outcomes. */
  links?: LinkRow[];
  /** Invitations whose issued link went out to Emarsys. */
  sentIds?: string[];
  /** Checkpoint of the batch, so a restarted run never repeats a step whose outcomes are stored. */
  checkpoint?: { batchId: string; fields?: Record<string, unknown> };
}

/** Writes invitation updates, their round-trip items, links and the batch checkpoint in one transaction. */
async function applyOutcomes(roundTripId: string | undefined, outcomes: Outcome[], writes: OutcomeWrites = {}): Promise<void> {
  const { links = [], sentIds = [], checkpoint } = writes;
  if (!outcomes.length && !checkpoint) return;
  await cds.tx(async () => {
    // Outcomes with the same field values share one UPDATE; a batch of triggers then costs two statements.
    const groups = new Map<string, { set: Record<string, unknown>; ids: string[] }>();
    for (const outcome of outcomes) {
      if (!outcome.set) continue;
      const key = JSON.stringify(outcome.set);
      const group = groups.get(key) ?? { set: outcome.set, ids: [] };
      group.ids.push(outcome.invitationId);
      groups.set(key, group);
    }
    for (const { set, ids } of groups.values()) {
      const { status, ...fields } = set;
      if (status === 'eventTriggered') {
        // A survey response may have arrived first and moved the invitation on to `responded`, so that status stays.
        await UPDATE(INVITATIONS).set(fields).where({ ID: { in: ids } });
        await UPDATE(INVITATIONS).set({ status }).where({ ID: { in: ids }, status: 'linkIssued' });
      } else {
        await UPDATE(INVITATIONS).set(set).where({ ID: { in: ids } });
      }
    }
    if (links.length) {
      await INSERT.into(LINKS).entries(links);
      await markLinksIssued(links);
    }
    if (roundTripId && outcomes.length) {
      await INSERT.into(ITEMS).entries(outcomes.map(outcome => ({
        ID: cds.utils.uuid(), roundTrip_ID: roundTripId, invitation_ID: outcome.invitationId, ...outcome.item
      })));
    }
    if (sentIds.length) await UPDATE(LINKS).set({ status: 'sent' }).where({ invitation_ID: { in: sentIds }, status: 'issued' });
    if (checkpoint) await writeCheckpoint(checkpoint.batchId, checkpoint.fields ?? {}, bridgeConfig().invitations.leaseMs);
  });
}

function failedOutcome(invitationId: string, reason: string, code?: string): Outcome {
  const now = new Date().toISOString();
  return {
    invitationId,
    set: { status: 'failed', lastError: reason.slice(0, 1000), finishedAt: now },
    item: { outcome: 'failed', code, message: reason.slice(0, 500) }
  };
}

/** Columns that the batch steps read. No step needs the rest of an invitation row. */
const BATCH_COLUMNS = ['ID', 'contactKey', 'firstName', 'lastName', 'language', 'triggerId', 'surveyLink', 'linkExpiresAt'];

async function loadInvitations(batchId: string, statuses: string[]): Promise<any[]> {
  return cds.tx(() => SELECT.from(INVITATIONS).columns(...BATCH_COLUMNS).where({ batch_ID: batchId, status: { in: statuses } }).orderBy('receivedAt'));
}

async function waitForImport(campaign: any, importId: string, context: { batchId: string }): Promise<void> {
  const deadline = Date.now() + bridgeConfig().upstream.timeoutMs * 20;
  for (;;) {
    const status = await qualtrics.getImportStatus(campaign.directoryId, campaign.mailingListId, importId, context);
    if (status.percentComplete >= 100) return;
    if (Date.now() > deadline) {
      throw new UpstreamError(`Qualtrics contact import ${importId} did not complete in time`, 'qualtrics', 'importStatus', undefined, undefined, true);
    }
    await new Promise(resolve => setTimeout(resolve, IMPORT_POLL_MS));
  }
}

/** Creates the transaction batch and imports the batch's contacts into it, once per batch. */
async function syncContacts(batch: any, campaign: any): Promise<any> {
  const context = { batchId: batch.ID };
  // An import that was sent but never confirmed may have added transactions to the old transaction
  // batch. A new transaction batch keeps each contact at exactly one link.
  if (batch.importRequestedAt) batch.transactionBatchId = null;
  const invitations = await loadInvitations(batch.ID, ['received']);
  if (!invitations.length) return batch;
  const transactionBatchId = await qualtrics.createTransactionBatch(campaign.directoryId, new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'), context);
  await checkpointBatch(batch.ID, { transactionBatchId, importRequestedAt: new Date().toISOString() }, bridgeConfig().invitations.leaseMs);
  const contacts: qualtrics.ImportContact[] = invitations.map(invitation => ({
    extRef: invitation.contactKey,
    email: campaign.keyFieldId === '3' ? invitation.contactKey : undefined,
    firstName: invitation.firstName ?? undefined,
    lastName: invitation.lastName ?? undefined,
    language: invitation.language ?? undefined,
    embeddedData: { invitationId: invitation.ID, campaign: campaign.code },
    transactionData: { invitationId: invitation.ID }
  }));
  const importId = await qualtrics.importTransactionContacts(campaign.directoryId, campaign.mailingListId, transactionBatchId, contacts, context);
  await waitForImport(campaign, importId, context);
  const contactsSyncedAt = new Date().toISOString();
  await cds.tx(async () => {
    await UPDATE(INVITATIONS).set({ transactionBatchId }).where({ batch_ID: batch.ID });
    await writeCheckpoint(batch.ID, { contactsSyncedAt }, bridgeConfig().invitations.leaseMs);
  });
  return { ...batch, transactionBatchId, contactsSyncedAt };
}

/** Finds the distribution of a batch created by a run that died before storing its id. */
async function findDistribution(batch: any, campaign: any): Promise<string | undefined> {
  const description = distributionDescriptionOf(batch.ID);
  for await (const page of qualtrics.listDistributions(campaign.surveyId, { batchId: batch.ID })) {
    const match = page.elements.find(distribution => distribution.description === description);
    if (match) return match.id;
  }
  return undefined;
}

async function createDistribution(batch: any, campaign: any): Promise<any> {
  let distributionId = batch.distributionRequestedAt ? await findDistribution(batch, campaign) : undefined;
  if (!distributionId) {
    await checkpointBatch(batch.ID, { distributionRequestedAt: new Date().toISOString() }, bridgeConfig().invitations.leaseMs);
    const expirationDate = new Date(Date.now() + campaign.linkValidityDays * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    distributionId = await qualtrics.createBatchDistribution({
      surveyId: campaign.surveyId,
      mailingListId: campaign.mailingListId,
      transactionBatchId: batch.transactionBatchId,
      description: distributionDescriptionOf(batch.ID),
      expirationDate
    }, { batchId: batch.ID });
  }
  await checkpointBatch(batch.ID, { distributionId }, bridgeConfig().invitations.leaseMs);
  return { ...batch, distributionId };
}

/** Pages through the distribution's links and matches each to its invitation by extRef, never by position. */
async function collectLinks(batch: any, campaign: any): Promise<void> {
  const invitations = await loadInvitations(batch.ID, ['received']);
  const byKey = new Map(invitations.map(invitation => [invitation.contactKey, invitation]));
  const { linkExpiryMarginMs } = bridgeConfig().invitations;
  let lastRoundTrip: string | undefined;
  for await (const page of qualtrics.listDistributionLinks(batch.distributionId, campaign.surveyId, { batchId: batch.ID })) {
    const outcomes: Outcome[] = [];
    const links: LinkRow[] = [];
    const now = new Date().toISOString();
    for (const link of page.elements) {
      const invitation = byKey.get(link.externalDataReference ?? '');
      if (!invitation) continue;
      byKey.delete(invitation.contactKey);
      const common = { qualtricsContactId: link.contactId, transactionId: link.transactionId ?? null, distributionId: batch.distributionId };
      if (link.unsubscribed) {
        outcomes.push({ invitationId: invitation.ID, set: { ...common, status: 'suppressedUnsubscribed', finishedAt: now }, item: { outcome: 'suppressedUnsubscribed' } });
      } else if (link.exceededContactFrequency) {
        outcomes.push({ invitationId: invitation.ID, set: { ...common, status: 'suppressedFrequency', finishedAt: now }, item: { outcome: 'suppressedFrequency' } });
      } else if (!link.link) {
        outcomes.push({ invitationId: invitation.ID, set: { ...common, status: 'linkNotFound', finishedAt: now, lastError: 'Qualtrics listed the contact without a link' }, item: { outcome: 'linkNotFound' } });
      } else {
        const expiresAt = link.linkExpiration ? new Date(link.linkExpiration).toISOString() : null;
        if (expiresAt && new Date(expiresAt).getTime() - linkExpiryMarginMs <= Date.now()) {
          LOG.warn('Qualtrics returned a link that expires within the margin', { invitation: invitation.ID, batch: batch.ID });
        }
        outcomes.push({ invitationId: invitation.ID, set: null, item: { outcome: 'linkIssued' } });
        links.push({
          ID: cds.utils.uuid(), invitation_ID: invitation.ID, distributionId: batch.distributionId, surveyLink: link.link,
          expiresAt, issuedAt: now, qualtricsContactId: link.contactId ?? null, transactionId: link.transactionId ?? null, status: 'issued'
        });
      }
    }
    lastRoundTrip = page.roundTripId;
    await applyOutcomes(lastRoundTrip, outcomes, { links, checkpoint: { batchId: batch.ID } });
  }
  const missing = [...byKey.values()].map(invitation => ({
    invitationId: invitation.ID,
    set: { status: 'linkNotFound', finishedAt: new Date().toISOString(), lastError: `Distribution ${batch.distributionId} listed no link for this contact` },
    item: { outcome: 'linkNotFound' }
  }));
  if (missing.length) LOG.warn(`${missing.length} contacts had no link in the distribution`, { batch: batch.ID, distribution: batch.distributionId });
  await applyOutcomes(lastRoundTrip, missing, { checkpoint: { batchId: batch.ID, fields: { linksFetchedAt: new Date().toISOString() } } });
}

/**
 * Triggers the external event for every invitation with a link, in chunks of at most 1,000. A link
 * that expires within the margin is not sent: the invitation goes back to `received` for a fresh one.
 */
async function triggerEvents(batch: any, campaign: any): Promise<void> {
  const { emarsysMaxBatch } = bridgeConfig().upstream;
  // A margin of half the validity at most, so a link minted just now never counts as expiring.
  const linkExpiryMarginMs = Math.min(bridgeConfig().invitations.linkExpiryMarginMs, (campaign.linkValidityDays * 86_400_000) / 2);
  const issued = await loadInvitations(batch.ID, ['linkIssued']);
  const now = Date.now();
  const stale = issued.filter(invitation => invitation.linkExpiresAt && new Date(invitation.linkExpiresAt).getTime() - linkExpiryMarginMs <= now);
  if (stale.length) {
    LOG.warn(`${stale.length} links expire within the margin; minting fresh ones`, { batch: batch.ID });
    const staleIds = stale.map(invitation => invitation.ID);
    await cds.tx(async () => {
      await UPDATE(LINKS).set({ status: 'expiredUnsent' }).where({ invitation_ID: { in: staleIds }, status: 'issued' });
      await UPDATE(INVITATIONS)
        .set({ status: 'received', batch_ID: null, surveyLink: null, linkExpiresAt: null, linkIssuedAt: null,
          lastError: 'Link expired before it was sent; a fresh link was requested' })
        .where({ ID: { in: staleIds } });
    });
  }
  const sendable = issued.filter(invitation => !stale.includes(invitation));
  for (let start = 0; start < sendable.length; start += emarsysMaxBatch) {
    const chunk = sendable.slice(start, start + emarsysMaxBatch);
    const contacts = chunk.map(invitation => ({
      external_id: invitation.contactKey,
      trigger_id: invitation.triggerId ?? triggerIdOf(invitation.ID),
      data: {
        survey_url: invitation.surveyLink,
        survey_expires: invitation.linkExpiresAt,
        ...(invitation.firstName ? { first_name: invitation.firstName } : {}),
        ...(invitation.lastName ? { last_name: invitation.lastName } : {})
      }
    }));
    let result: emarsys.BatchResult;
    try {
      result = await emarsys.triggerEvent(campaign.externalEventId, campaign.keyFieldId, contacts, { batchId: batch.ID });
    } catch (error) {
      if (error instanceof UpstreamError && !error.retryable) {
        await applyOutcomes(error.roundTripId, chunk.map(invitation => failedOutcome(invitation.ID, error.message, error.code)));
        continue;
      }
      throw error;
    }
    const triggeredAt = new Date().toISOString();
    const sentIds: string[] = [];
    const outcomes: Outcome[] = chunk.map(invitation => {
      const error = result.errors[invitation.contactKey];
      if (!error) {
        sentIds.push(invitation.ID);
        return { invitationId: invitation.ID, set: { status: 'eventTriggered', eventTriggeredAt: triggeredAt, finishedAt: triggeredAt, lastError: null }, item: { outcome: 'eventTriggered' } };
      }
      if (error.code === '2008') {
        return { invitationId: invitation.ID, set: { status: 'contactNotFound', finishedAt: triggeredAt, lastError: `Emarsys 2008: ${error.text}` }, item: { outcome: 'contactNotFound', code: '2008', message: error.text } };
      }
      return failedOutcome(invitation.ID, `Emarsys ${error.code}: ${error.text}`, error.code);
    });
    await applyOutcomes(result.roundTripId, outcomes, { sentIds, checkpoint: { batchId: batch.ID } });
  }
}

/** Marks every unfinished invitation of a batch as failed; used when a batch ran out of attempts. */
async function failRemaining(batchId: string, reason: string): Promise<void> {
  const open = await loadInvitations(batchId, ['received', 'linkIssued']);
  await applyOutcomes(undefined, open.map(invitation => failedOutcome(invitation.ID, reason)));
}

export async function processInvitationBatch(batchId: string): Promise<void> {
  const opened = await openBatch(batchId, bridgeConfig().invitations.leaseMs);
  if (!opened) return;
  let { batch } = opened;
  const { campaign } = opened;
  const { maxBatchAttempts } = bridgeConfig().invitations;
  if (batch.attempts > maxBatchAttempts) {
    const reason = `Gave up after ${maxBatchAttempts} attempts: ${batch.lastError ?? 'unknown error'}`;
    LOG.error('Invitation batch failed for good', { batch: batchId, reason });
    await failRemaining(batchId, reason);
    await finishBatch(batchId, 'failed', reason);
    return;
  }
  LOG.info('Processing invitation batch', { batch: batchId, campaign: campaign.code, size: batch.size, attempt: batch.attempts });
  try {
    if (!batch.contactsSyncedAt) batch = await syncContacts(batch, campaign);
    if (!batch.distributionId && batch.transactionBatchId) batch = await createDistribution(batch, campaign);
    if (!batch.linksFetchedAt && batch.distributionId) await collectLinks(batch, campaign);
    await triggerEvents(batch, campaign);
  } catch (error: any) {
    const message = String(error?.message ?? error).slice(0, 1000);
    await checkpointBatch(batchId, { lastError: message, leaseOwner: null, leaseUntil: null }, 0);
    if (error instanceof UpstreamError && !error.retryable) {
      LOG.error('Invitation batch hit a final upstream error', { batch: batchId, operation: error.operation, status: error.status, code: error.code });
      await failRemaining(batchId, message);
      await finishBatch(batchId, 'failed', message);
      return;
    }
    LOG.warn('Invitation batch will be retried', { batch: batchId, error: message });
    throw error;
  }
  await finishBatch(batchId, 'done');
  LOG.info('Invitation batch done', { batch: batchId });
}
