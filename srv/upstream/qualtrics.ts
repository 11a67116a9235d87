/** Typed calls to the Qualtrics API v3: XM Directory, transaction batches, distributions and links. */
import { callUpstream, type UpstreamRequest, type UpstreamResponse } from './http';
import { qualtricsAuth } from './auth';
import type { CallContext } from './emarsys';

export interface ImportContact {
  extRef: string;
  email?: string;
  firstName?: string;
  lastName?: string;
  language?: string;
  embeddedData: Record<string, string>;
  transactionData: Record<string, string>;
}

export interface DistributionLink {
  contactId?: string;
  transactionId?: string | null;
  link?: string | null;
  exceededContactFrequency?: boolean;
  linkExpiration?: string;
  externalDataReference?: string;
  email?: string;
  unsubscribed?: boolean;
}

async function qualtrics(request: Omit<UpstreamRequest, 'system'>): Promise<any> {
  const response = await callUpstream(qualtricsAuth, { system: 'qualtrics', ...request });
  return response.body?.result;
}

/** One page of a collection with the round trip that fetched it. */
export interface Page<T> {
  elements: T[];
  roundTripId: string;
}

/** Creates an empty transaction batch that the contact import then fills. */
export async function createTransactionBatch(directoryId: string, creationDate: string, context: CallContext): Promise<string> {
  const result = await qualtrics({
    operation: 'createTransactionBatch', method: 'POST',
    path: `directories/${directoryId}/transactionbatches`,
    body: { transactionIds: [], creationDate }, ...context
  });
  return result.id;
}

/**
 * Imports contacts into the mailing list in one call, creating or updating them (the directory
 * de-duplicates on extRef) and one transaction each inside `batchId`. Returns the import id.
 */
export async function importTransactionContacts(directoryId: string, mailingListId: string, batchId: string,
  contacts: ImportContact[], context: CallContext): Promise<string> {
  const result = await qualtrics({
    operation: 'importContacts', method: 'POST',
    path: `directories/${directoryId}/mailinglists/${mailingListId}/transactioncontacts`,
    body: { transactionMeta: { batchId, fields: Object.keys(contacts[0]?.transactionData ?? {}) }, contacts },
    itemCount: contacts.length, ...context
  });
  return result.id;
}

export interface ImportStatus {
  percentComplete: number;
  status?: string;
}

export async function getImportStatus(directoryId: string, mailingListId: string, importId: string, context: CallContext): Promise<ImportStatus> {
  const result = await qualtrics({
    operation: 'importStatus', method: 'GET',
    path: `directories/${directoryId}/mailinglists/${mailingListId}/transactioncontacts/${importId}`, ...context
  });
  return { percentComplete: Number(result?.percentComplete ?? 0), status: result?.status };
}

/** Creates an Individual-link distribution for everyone in the transaction batch; no email is sent. */
export async function createBatchDistribution(params: { surveyId: string; mailingListId: string; transactionBatchId: string;
  description: string; expirationDate: string }, context: CallContext): Promise<string> {
  const result = await qualtrics({
    operation: 'createDistribution', method: 'POST', path: 'distributions',
    body: { action: 'CreateTransactionBatchDistribution', linkType: 'Individual', ...params }, ...context
  });
  return result.id;
}

/** Follows `nextPage` through a paged collection, yielding each page. */
async function* pages(operation: string, path: string, query: Record<string, string>, context: CallContext): AsyncGenerator<Page<any>> {
  let nextQuery: Record<string, string> | undefined = query;
  while (nextQuery) {
    const response: UpstreamResponse = await callUpstream(qualtricsAuth, { system: 'qualtrics', operation, method: 'GET', path, query: nextQuery, ...context });
    const result: any = response.body?.result;
    yield { elements: Array.isArray(result?.elements) ? result.elements : [], roundTripId: response.roundTripId };
    nextQuery = undefined;
    if (result?.nextPage) {
      // nextPage is a full URL; only its query string is reused, so the destination URL stays authoritative.
      const next: URL = new URL(result.nextPage);
      nextQuery = Object.fromEntries(next.searchParams.entries());
    }
  }
}

export function listDistributionLinks(distributionId: string, surveyId: string, context: CallContext): AsyncGenerator<Page<DistributionLink>> {
  return pages('listLinks', `distributions/${distributionId}/links`, { surveyId }, context);
}

export function listDistributions(surveyId: string, context: CallContext): AsyncGenerator<Page<any>> {
  return pages('listDistributions', 'distributions', { surveyId }, context);
}

export async function getQualtrics(operation: string, path: string, context: CallContext = {}): Promise<any> {
  const response = await callUpstream(qualtricsAuth, { system: 'qualtrics', operation, method: 'GET', path, ...context });
  return response.body;
}
