/** Typed calls to the Emarsys Core API (v3 with OAuth2, v2 with WSSE; same paths and payloads). */
import { callUpstream, UpstreamError, type UpstreamResponse } from './http';
import { emarsysAuth } from './auth';

export interface CallContext {
  batchId?: string;
  invitationId?: string;
  retry?: boolean;
}

export interface TriggerContact {
  external_id: string;
  trigger_id?: string;
  data?: Record<string, unknown>;
}

/** Per-contact errors of a batch reply, keyed by the key value: `{ "<external_id>": { "2008": "text" } }`. */
export type ItemErrors = Record<string, { code: string; text: string }>;

export interface BatchResult {
  roundTripId: string;
  errors: ItemErrors;
}

/** Reads `data.errors` of a batch reply; the inner object maps one reply code to its text. */
export function readItemErrors(data: any): ItemErrors {
  const errors: ItemErrors = {};
  const raw = data?.errors;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return errors;
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (value && typeof value === 'object') {
      const [code, text] = Object.entries(value as Record<string, unknown>)[0] ?? ['unknown', ''];
      errors[key] = { code: String(code), text: String(text) };
    } else {
      errors[key] = { code: 'unknown', text: String(value) };
    }
  }
  return errors;
}

function ensureReplyOk(response: UpstreamResponse, operation: string): void {
  const replyCode = response.body?.replyCode;
  if (replyCode !== undefined && Number(replyCode) !== 0) {
    throw new UpstreamError(`emarsys ${operation} returned replyCode ${replyCode}: ${response.body?.replyText ?? ''}`,
      'emarsys', operation, response.status, String(replyCode), false, response.body, response.roundTripId);
  }
}

/** Triggers an external event for up to 1,000 contacts; a repeated trigger_id never mails twice. */
export async function triggerEvent(eventId: string, keyId: string, contacts: TriggerContact[], context: CallContext = {}): Promise<BatchResult> {
  const response = await callUpstream(emarsysAuth, {
    system: 'emarsys', operation: 'triggerEvent', method: 'POST',
    path: `event/${encodeURIComponent(eventId)}/trigger`,
    body: { key_id: keyId, contacts },
    itemCount: contacts.length, ...context
  });
  ensureReplyOk(response, 'triggerEvent');
  return { roundTripId: response.roundTripId, errors: readItemErrors(response.body?.data) };
}

/** Writes fields of existing contacts only: no create_if_not_exists, so unknown keys come back as 2008. */
export async function updateContacts(keyId: string, contacts: Array<Record<string, string | null>>, context: CallContext = {}): Promise<BatchResult> {
  const response = await callUpstream(emarsysAuth, {
    system: 'emarsys', operation: 'updateContacts', method: 'PUT', path: 'contact',
    body: { key_id: keyId, contacts }, itemCount: contacts.length, ...context
  });
  ensureReplyOk(response, 'updateContacts');
  return { roundTripId: response.roundTripId, errors: readItemErrors(response.body?.data) };
}

/** Reads contact fields; `getdata` takes camelCase keyId and keyValues. */
export async function getContactData(keyId: string, keyValues: string[], fields: string[], context: CallContext = {}): Promise<any[]> {
  const response = await callUpstream(emarsysAuth, {
    system: 'emarsys', operation: 'getContactData', method: 'POST', path: 'contact/getdata',
    body: { keyId, keyValues, fields }, itemCount: keyValues.length, ...context
  });
  ensureReplyOk(response, 'getContactData');
  return Array.isArray(response.body?.data?.result) ? response.body.data.result : [];
}

export async function getEmarsys(operation: string, path: string, context: CallContext = {}): Promise<any> {
  const response = await callUpstream(emarsysAuth, { system: 'emarsys', operation, method: 'GET', path, ...context });
  ensureReplyOk(response, operation);
  return response.body?.data;
}
