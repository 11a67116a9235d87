/** Preflight checks against Emarsys: credentials, the external event and the contact fields. */
import { getEmarsys } from '../upstream/emarsys';
import { UpstreamError } from '../upstream/http';
import { isInternalKeyId, isNumericId } from './campaign-checks';
import { error, failureFinding, info, isCredentialFailure, warning, type Finding, type PreflightCampaign } from './findings';

/**
 * Preflight calls are not retried, because the admin waits for the reply and can run the preflight
 * again. Retries with backoff would hold the request for up to maxBackoffMs per call.
 */
const CALL = { retry: false };

/** Emarsys reply codes for an event id that does not exist (invalid or unknown event id). */
const UNKNOWN_EVENT_CODES = new Set(['5001', '5004']);

/** Field types that store the category names detractor, passive and promoter. */
const TEXT_FIELD_TYPES = new Set(['shorttext', 'longtext', 'largetext']);

/** Standard Emarsys fields that the API cannot write (interests, engagement, status and source fields). */
const READ_ONLY_FIELD_IDS = new Set(['0', '27', '28', '29', '30', '32', '33', '34', '36', '47', '48']);

/** The standard email field, the key that needs no index request. */
const EMAIL_FIELD_ID = '3';

interface EmarsysField {
  id: number | string;
  name: string;
  application_type: string;
  string_id?: string;
}

/**
 * Calls GET settings, the cheapest authenticated read, and returns the finding and whether further calls
 * can succeed. A 403 still proves the credentials, because Emarsys checks them before the permission.
 */
async function checkCredentials(): Promise<{ finding: Finding; usable: boolean }> {
  const check = 'emarsys.credentials';
  try {
    const settings = await getEmarsys('preflightSettings', 'settings', CALL);
    return { finding: info(check, `Emarsys accepted the credentials for account ${settings?.name ?? '(no name)'} (id ${settings?.id ?? 'unknown'}).`), usable: true };
  } catch (failure) {
    if (failure instanceof UpstreamError && failure.status === 403) {
      return { finding: info(check, 'Emarsys accepted the credentials. The API user may not read the account settings, which Survey Bridge does not need.'), usable: true };
    }
    const finding = failureFinding(check, 'Checking the Emarsys credentials with GET settings', failure);
    if (isCredentialFailure(failure)) finding.fix += ' The other Emarsys checks run once the credentials work.';
    return { finding, usable: !isCredentialFailure(failure) };
  }
}

function countOf(value: unknown): number {
  return Array.isArray(value) ? value.length : 0;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** Checks that the external event exists and that a program or email listens to it. */
async function checkEvent(eventId: string): Promise<Finding[]> {
  let name: string;
  try {
    const event = await getEmarsys('preflightEvent', `event/${encodeURIComponent(eventId)}`, CALL);
    name = String(event?.name ?? eventId);
  } catch (failure) {
    if (failure instanceof UpstreamError && UNKNOWN_EVENT_CODES.has(failure.code ?? '')) {
      return [error('emarsys.event', `External event ${eventId} does not exist in Emarsys (reply code ${failure.code}).`,
        'Create the external event in Emarsys (Management > External Events) or set externalEventId to an existing event id.')];
    }
    return [failureFinding('emarsys.event', `Reading external event ${eventId}`, failure)];
  }
  const found = info('emarsys.event', `External event ${eventId} exists with the name '${name}'.`);
  try {
    const usages = await getEmarsys('preflightEventUsages', `event/${encodeURIComponent(eventId)}/usages`, CALL);
    const programs = countOf(usages?.program_ids);
    const emails = countOf(usages?.email_ids);
    const interactions = countOf(usages?.interactions_program_ids);
    const summary = `${plural(programs, 'Automation Center program')}, ${plural(emails, 'email')} and ${plural(interactions, 'Interactions program')}`;
    if (programs + emails + interactions === 0) {
      // Emarsys accepts a trigger of an unused event without sending mail, or rejects it with 5005.
      return [found, error('emarsys.eventUsage', `External event ${eventId} '${name}' is used by no program and no email, so triggering it mails nothing.`,
        'Use the event as the entry point of an active Automation Center program or of a launched on-event email, then run the preflight again.')];
    }
    return [found, info('emarsys.eventUsage', `External event ${eventId} '${name}' is used by ${summary}.`)];
  } catch (failure) {
    return [found, failureFinding('emarsys.eventUsage', `Reading the usages of external event ${eventId}`, failure)];
  }
}

function describeField(field: EmarsysField): string {
  return `${field.id} '${field.name}' (${field.application_type})`;
}

function checkKeyField(keyFieldId: string, fields: Map<string, EmarsysField>): Finding | undefined {
  const check = 'emarsys.keyField';
  if (isInternalKeyId(keyFieldId)) {
    return info(check, `Contacts are keyed by the Emarsys internal '${keyFieldId}', which needs no field.`);
  }
  if (!isNumericId(keyFieldId)) return undefined;
  const field = fields.get(keyFieldId);
  if (!field) {
    return error(check, `Key field ${keyFieldId} does not exist in Emarsys.`,
      'Set keyFieldId to an existing field that identifies contacts, such as 3 (email).');
  }
  if (keyFieldId !== EMAIL_FIELD_ID) {
    return warning(check, `Key field is ${describeField(field)}. Emarsys finds contacts by a key other than email only when the field is indexed.`,
      'Ask Emarsys support to confirm that the field is indexed, because the preflight cannot check it.');
  }
  return info(check, `Key field is ${describeField(field)}.`);
}

function checkValueField(check: string, role: 'Score' | 'Category', fieldId: string, fields: Map<string, EmarsysField>): Finding | undefined {
  if (!isNumericId(fieldId)) return undefined;
  const field = fields.get(fieldId);
  const setting = role === 'Score' ? 'scoreFieldId' : 'categoryFieldId';
  const expectedField = role === 'Score' ? 'a numeric custom field' : 'a text custom field (shorttext, longtext or largetext)';
  if (!field) {
    return error(check, `${role} field ${fieldId} does not exist in Emarsys.`, `Create ${expectedField} in Emarsys or set ${setting} to an existing one.`);
  }
  if (READ_ONLY_FIELD_IDS.has(fieldId)) {
    return error(check, `${role} field ${describeField(field)} is a read-only standard field.`, `Set ${setting} to ${expectedField}.`);
  }
  const fits = role === 'Score' ? field.application_type === 'numeric' : TEXT_FIELD_TYPES.has(field.application_type);
  if (!fits) {
    const because = role === 'Score'
      ? 'Survey Bridge writes the score as a number, which segments compare as a number only in a numeric field'
      : 'Survey Bridge writes the category as the text detractor, passive or promoter';
    return error(check, `${role} field ${describeField(field)} has the wrong type, because ${because}.`, `Set ${setting} to ${expectedField}.`);
  }
  return info(check, `${role} field is ${describeField(field)}.`);
}

/** Reads the field list once and checks the key, score and category field against it. */
async function checkFields(campaign: PreflightCampaign): Promise<Finding[]> {
  let fields = new Map<string, EmarsysField>();
  if ([campaign.keyFieldId, campaign.scoreFieldId, campaign.categoryFieldId].some(isNumericId)) {
    try {
      const list = await getEmarsys('preflightFields', 'field/translate/en', CALL);
      fields = new Map((Array.isArray(list) ? list as EmarsysField[] : []).map(field => [String(field.id), field]));
    } catch (failure) {
      return [failureFinding('emarsys.fields', 'Reading the Emarsys field list', failure)];
    }
  }
  const findings = [
    checkKeyField(campaign.keyFieldId, fields),
    checkValueField('emarsys.scoreField', 'Score', campaign.scoreFieldId, fields),
    checkValueField('emarsys.categoryField', 'Category', campaign.categoryFieldId, fields)
  ];
  return findings.filter((finding): finding is Finding => finding !== undefined);
}

/** Runs the Emarsys checks. When Emarsys rejects the credentials, only that finding is returned. */
export async function checkEmarsys(campaign: PreflightCampaign): Promise<Finding[]> {
  const credentials = await checkCredentials();
  if (!credentials.usable) return [credentials.finding];
  const [event, fields] = await Promise.all([
    isNumericId(campaign.externalEventId) ? checkEvent(campaign.externalEventId) : Promise.resolve([]),
    checkFields(campaign)
  ]);
  return [credentials.finding, ...event, ...fields];
}
