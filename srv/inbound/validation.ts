/** Input checks for the inbound actions. Each failure names the field and the fix. */

export class InputError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly target?: string) {
    super(message);
  }
}

/** ASCII control characters; no contact field or id legitimately contains one. */
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

const EMAIL = /^[^\s@"(),:;<>[\]\\]+@[^\s@"(),:;<>[\]\\]+\.[^\s@"(),:;<>[\]\\]+$/;

export interface CampaignKeySettings {
  code: string;
  keyFieldId: string;
  contactKeyProperty: string;
}

export interface WebhookContact {
  contactKey: string;
  firstName?: string;
  lastName?: string;
  language?: string;
}

/** Reads the campaign code that the Emarsys preset sends as additional data. */
export function campaignCodeOf(body: Record<string, unknown>): string {
  const code = body.campaign;
  if (code === undefined || code === null || code === '') {
    throw new InputError(400, 'MISSING_CAMPAIGN', "Field 'campaign' is missing; add it to the Webhook Node Preset as additional data with the campaign code", 'campaign');
  }
  if (typeof code !== 'string' || code.length > 40 || CONTROL_CHARACTERS.test(code)) {
    throw new InputError(400, 'INVALID_CAMPAIGN', "Field 'campaign' must be a campaign code of at most 40 characters", 'campaign');
  }
  return code.trim();
}

function optionalText(body: Record<string, unknown>, names: string[], maxLength: number): string | undefined {
  for (const name of names) {
    const value = body[name];
    if (value === undefined || value === null || value === '') continue;
    if (typeof value !== 'string') {
      throw new InputError(400, 'INVALID_FIELD', `Field '${name}' must be a string, not ${Array.isArray(value) ? 'an array' : typeof value}`, name);
    }
    if (value.length > maxLength) {
      throw new InputError(400, 'INVALID_FIELD', `Field '${name}' is longer than ${maxLength} characters; shorten it`, name);
    }
    if (CONTROL_CHARACTERS.test(value)) {
      throw new InputError(400, 'INVALID_FIELD', `Field '${name}' contains control characters; send plain text`, name);
    }
    return value.trim();
  }
  return undefined;
}

/**
 * Reads the contact from a Webhook node body: the key from the campaign's contact key property and
 * optional names and language. Keys the preset adds beyond these are ignored.
 */
export function webhookContactOf(body: Record<string, unknown>, campaign: CampaignKeySettings): WebhookContact {
  const property = campaign.contactKeyProperty;
  const raw = body[property];
  if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) {
    throw new InputError(400, 'MISSING_CONTACT_KEY',
      `Field '${property}' is missing; campaign ${campaign.code} takes the contact key from '${property}', so select that contact field in the Webhook Node Preset`, property);
  }
  if (typeof raw !== 'string' && !(typeof raw === 'number' && Number.isSafeInteger(raw))) {
    throw new InputError(400, 'INVALID_CONTACT_KEY', `Field '${property}' must be a string or a whole number, not ${Array.isArray(raw) ? 'an array' : typeof raw}`, property);
  }
  const contactKey = String(raw).trim();
  if (contactKey.length > 255) {
    throw new InputError(400, 'INVALID_CONTACT_KEY', `Field '${property}' is longer than 255 characters; send the Emarsys key value itself`, property);
  }
  if (campaign.keyFieldId === '3' && !EMAIL.test(contactKey)) {
    throw new InputError(400, 'INVALID_CONTACT_KEY', `Field '${property}' must be an email address because the campaign's Emarsys key field is 3 (email)`, property);
  }
  if (CONTROL_CHARACTERS.test(contactKey)) {
    throw new InputError(400, 'INVALID_CONTACT_KEY', `Field '${property}' contains control characters; send the plain key value`, property);
  }
  if (campaign.keyFieldId === 'id' && !/^\d+$/.test(contactKey)) {
    throw new InputError(400, 'INVALID_CONTACT_KEY', `Field '${property}' must be the numeric Emarsys contact id because the campaign's key field is 'id'`, property);
  }
  return {
    contactKey,
    firstName: optionalText(body, ['first_name', 'firstName', '1'], 100),
    lastName: optionalText(body, ['last_name', 'lastName', '2'], 100),
    language: optionalText(body, ['language', 'lang', '35'], 10)
  };
}
