/**
 * Erasure of one contact's personal data. Rows stay, with their statuses, scores and timestamps, so
 * counts per campaign and status remain right. Whatever identifies the contact is removed or replaced.
 */
import cds from '@sap/cds';
import { BATCHES, INVITATIONS, ITEMS, LINKS, ROUND_TRIPS, SCORES } from '../lib/entities';

const LOG = cds.log('erase');

/** Replaces the contact key in free texts such as Emarsys error messages. */
const ERASED_MARK = '(erased)';

/** Invitation statuses with work still ahead. An erased invitation in one of them is stopped. */
const OPEN_STATUSES = new Set(['received', 'linkIssued']);

/** Elements cleared on every invitation of the contact, and named in the audit log. */
const CLEARED_ELEMENTS = ['firstName', 'lastName', 'language', 'surveyLink', 'qualtricsContactId', 'qualtricsLookupId', 'emarsysContactId'];

export interface ErasureResult {
  invitations: number;
  surveyLinks: number;
  scoreResponses: number;
  roundTripItems: number;
  roundTrips: number;
  workBatches: number;
}

/** Returns the pseudonymous key of an erased invitation. It is unique per row, so the contact-cycle constraint still holds. */
export function erasedKeyOf(invitationId: string): string {
  return `erased:${invitationId}`;
}

function scrubbed(text: string | null | undefined, contactKey: string): string | null | undefined {
  return text?.includes(contactKey) ? text.split(contactKey).join(ERASED_MARK) : text;
}

/**
 * Replaces the contact key in a text column. LIKE finds candidate rows and `includes` confirms them,
 * because `_` and `%` in the key act as wildcards.
 */
async function scrubColumn(entity: string, key: string, column: string, contactKey: string): Promise<number> {
  const rows = (await SELECT.from(entity).columns(key, column).where({ [column]: { like: `%${contactKey}%` } })) as any[];
  let changed = 0;
  for (const row of rows) {
    if (!String(row[column] ?? '').includes(contactKey)) continue;
    await UPDATE(entity).set({ [column]: scrubbed(row[column], contactKey) }).where({ [key]: row[key] });
    changed++;
  }
  return changed;
}

async function eraseInvitations(contactKey: string, invitations: any[], now: string): Promise<void> {
  for (const invitation of invitations) {
    const changes: Record<string, unknown> = Object.fromEntries(CLEARED_ELEMENTS.map(name => [name, null]));
    changes.contactKey = erasedKeyOf(invitation.ID);
    changes.lastError = scrubbed(invitation.lastError, contactKey);
    if (OPEN_STATUSES.has(invitation.status)) {
      // Without a contact key the workers could only fail upstream, so the invitation ends here.
      Object.assign(changes, { status: 'failed', finishedAt: now, lastError: 'Personal data erased on request before the invitation finished' });
    }
    await UPDATE(INVITATIONS).set(changes).where({ ID: invitation.ID });
  }
}

async function eraseScoreResponses(contactKey: string, invitationIds: string[]): Promise<number> {
  // contactRef contains the extRef (the contact key) or the invitation ID, as the Qualtrics workflow sent it.
  const references = [contactKey, ...invitationIds];
  const query = SELECT.from(SCORES).columns('responseId', 'status', 'lastError');
  const scores = (await (invitationIds.length
    ? query.where`contactRef in ${references} or invitation_ID in ${invitationIds}`
    : query.where({ contactRef: contactKey }))) as any[];
  for (const score of scores) {
    const changes: Record<string, unknown> = { contactRef: null, lastError: scrubbed(score.lastError, contactKey) };
    if (score.status === 'pending') Object.assign(changes, { status: 'failed', lastError: 'Personal data erased on request before the score was stored' });
    await UPDATE(SCORES).set(changes).where({ responseId: score.responseId });
  }
  return scores.length;
}

/** Sends one PersonalDataModified entry per invitation. Old values are left out, so the log keeps no erased data. */
async function logErasure(contactKey: string, invitations: any[]): Promise<void> {
  if (!invitations.length) return;
  const audit = await cds.connect.to('audit-log');
  for (const invitation of invitations) {
    await audit.emit('PersonalDataModified', {
      data_subject: { type: INVITATIONS, role: 'Contact', id: { contactKey } },
      object: { type: INVITATIONS, id: { ID: invitation.ID } },
      attributes: [
        { name: 'contactKey', new: erasedKeyOf(invitation.ID) },
        ...CLEARED_ELEMENTS.map(name => ({ name, new: null })),
        { name: 'lastError' }
      ]
    });
  }
}

/**
 * Erases a contact's personal data in the current transaction and returns how many rows of each kind
 * changed. A contact without rows gives zeros, so repeating an erasure is harmless.
 *
 * NOTE: free texts are searched for the key only in the exact spelling the webhook sent. The search
 * uses LIKE, which reads the whole RoundTrips table.
 */
export async function eraseContact(contactKey: string): Promise<ErasureResult> {
  const now = new Date().toISOString();
  const invitations = (await SELECT.from(INVITATIONS).columns('ID', 'status', 'lastError').where({ contactKey })) as any[];
  const invitationIds = invitations.map(invitation => invitation.ID as string);

  await eraseInvitations(contactKey, invitations, now);
  const surveyLinks = invitationIds.length
    ? Number(await UPDATE(LINKS).set({ surveyLink: null, qualtricsContactId: null }).where({ invitation_ID: { in: invitationIds } }))
    : 0;
  const scoreResponses = await eraseScoreResponses(contactKey, invitationIds);
  const roundTripItems = await scrubColumn(ITEMS, 'ID', 'message', contactKey);
  const roundTrips = await scrubColumn(ROUND_TRIPS, 'ID', 'error', contactKey);
  const workBatches = await scrubColumn(BATCHES, 'ID', 'lastError', contactKey);
  await logErasure(contactKey, invitations);

  const result = { invitations: invitations.length, surveyLinks, scoreResponses, roundTripItems, roundTrips, workBatches };
  LOG.info('Contact personal data erased', result);
  return result;
}
