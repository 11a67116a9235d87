/** Checks of the campaign settings themselves, which need no upstream call. */
import cds from '@sap/cds';
import { bridgeConfig } from '../lib/config';
import { error, info, type Finding, type PreflightCampaign } from './findings';

const LOG = cds.log('preflight');

const DAY_MS = 86_400_000;

/**
 * Default of `cds.surveyBridge.preflight.maxLinkValidityDays`.
 * NOTE: Qualtrics documents no maximum lifetime for individual links, and its UI proposes 60 days. This
 * default is an assumption, so set the setting once the tenant's maximum is known.
 */
export const DEFAULT_MAX_LINK_VALIDITY_DAYS = 365;

/** Emarsys field and event ids are whole numbers, sent as strings. */
const NUMERIC_ID = /^\d{1,10}$/;

/** Key ids that name the Emarsys internal contact id instead of a field. */
const INTERNAL_KEY_IDS = new Set(['id', 'uid']);

export function isNumericId(value: unknown): value is string {
  return typeof value === 'string' && NUMERIC_ID.test(value);
}

export function isInternalKeyId(value: unknown): boolean {
  return typeof value === 'string' && INTERNAL_KEY_IDS.has(value);
}

/** Reads the maximum link validity from `cds.surveyBridge.preflight`, falling back to the default. */
export function maxLinkValidityDays(): number {
  const configured = (cds.env as any).surveyBridge?.preflight?.maxLinkValidityDays;
  if (configured === undefined) return DEFAULT_MAX_LINK_VALIDITY_DAYS;
  const value = Number(configured);
  if (Number.isInteger(value) && value > 0) return value;
  LOG.warn(`Invalid cds.surveyBridge.preflight.maxLinkValidityDays ${JSON.stringify(configured)}, so the default ${DEFAULT_MAX_LINK_VALIDITY_DAYS} applies. Set a whole number of days above 0.`);
  return DEFAULT_MAX_LINK_VALIDITY_DAYS;
}

function checkLinkValidity(campaign: PreflightCampaign): Finding {
  const check = 'campaign.linkValidity';
  const days = Number(campaign.linkValidityDays);
  const max = maxLinkValidityDays();
  if (!Number.isInteger(days) || days < 1) {
    return error(check, `Link validity ${JSON.stringify(campaign.linkValidityDays)} is not a whole number of days above 0.`,
      `Set linkValidityDays to a value from 1 to ${max}.`);
  }
  if (days > max) {
    return error(check, `Link validity of ${days} days exceeds the maximum of ${max} days.`,
      `Set linkValidityDays to ${max} or less, or raise cds.surveyBridge.preflight.maxLinkValidityDays if the Qualtrics tenant accepts longer link lifetimes.`);
  }
  const { linkExpiryMarginMs } = bridgeConfig().invitations;
  if (days * DAY_MS <= linkExpiryMarginMs) {
    const marginHours = Math.round(linkExpiryMarginMs / 3_600_000);
    return error(check, `Links valid for ${days} days expire within the expiry margin of ${marginHours} hours, so Survey Bridge would discard every link before mailing it.`,
      `Set linkValidityDays above ${marginHours / 24} days, or lower cds.surveyBridge.invitations.linkExpiryMarginMs.`);
  }
  return info(check, `Links are valid for ${days} days, within the maximum of ${max} days.`);
}

function checkFieldId(check: string, label: string, value: unknown, allowInternal: boolean): Finding | undefined {
  if (isNumericId(value) || (allowInternal && isInternalKeyId(value))) return undefined;
  const expected = allowInternal ? `a numeric Emarsys field id such as '3', or 'id' or 'uid'` : 'a numeric Emarsys field id';
  return error(check, `${label} ${JSON.stringify(value)} is not ${expected}.`,
    `Copy the field id from the Emarsys field list (Management > Field Editor).`);
}

/** Key, score and category field must differ, so one write never overwrites another value. */
function checkDistinctFields(campaign: PreflightCampaign): Finding | undefined {
  const { keyFieldId, scoreFieldId, categoryFieldId } = campaign;
  const clashes: string[] = [];
  if (scoreFieldId === categoryFieldId) clashes.push(`score and category field are both ${scoreFieldId}`);
  if (keyFieldId === scoreFieldId) clashes.push(`key and score field are both ${keyFieldId}`);
  if (keyFieldId === categoryFieldId) clashes.push(`key and category field are both ${keyFieldId}`);
  if (clashes.length === 0) return undefined;
  return error('campaign.fieldRoles', `The ${clashes.join(', and the ')}.`,
    'Use a separate Emarsys field for the contact key, the score and the category.');
}

/** Checks the campaign settings and returns the findings, with one info finding for the link validity. */
export function checkCampaignSettings(campaign: PreflightCampaign): Finding[] {
  const findings: Array<Finding | undefined> = [
    checkLinkValidity(campaign),
    checkFieldId('campaign.keyFieldId', 'Key field id', campaign.keyFieldId, true),
    checkFieldId('campaign.scoreFieldId', 'Score field id', campaign.scoreFieldId, false),
    checkFieldId('campaign.categoryFieldId', 'Category field id', campaign.categoryFieldId, false),
    isNumericId(campaign.externalEventId) ? undefined : error('campaign.externalEventId',
      `External event id ${JSON.stringify(campaign.externalEventId)} is not a numeric Emarsys event id.`,
      'Copy the event id from the Emarsys external event list (Management > External Events).'),
    checkDistinctFields(campaign)
  ];
  return findings.filter((finding): finding is Finding => finding !== undefined);
}
