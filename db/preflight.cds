namespace surveybridge;

using { cuid } from '@sap/cds/common';
using { surveybridge.Campaigns } from './schema';

/**
 * One activation of a campaign through the activate action, with the preflight findings it saw.
 * Activations that errors blocked are not stored, because a failed check changes no data.
 */
entity CampaignActivations : cuid {
  campaign : Association to Campaigns not null;
  at       : Timestamp not null;
  /** User id of the admin who activated the campaign. */
  ![by]    : String(255) not null;
  /** True when the admin activated the campaign despite error findings. */
  override : Boolean not null default false;
  /** Why the admin overrode the errors; set whenever override is true. */
  reason   : String(1000);
  errors   : Integer not null default 0;
  warnings : Integer not null default 0;
  /** The findings of the preflight run, as a JSON array of {severity, check, found, fix}. */
  findings : LargeString;
}
