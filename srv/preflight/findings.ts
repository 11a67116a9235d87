/** Preflight findings, and the conversion of failed upstream calls into findings. */
import type { CampaignRow } from '../inbound/intake';
import { UpstreamError } from '../upstream/http';

export type Severity = 'error' | 'warning' | 'info';

/** One result of a preflight check, in the shape of the CDS type AuditService.Finding. */
export interface Finding {
  severity: Severity;
  /** Name of the check, such as `emarsys.event` or `qualtrics.survey`. */
  check: string;
  /** Result of the check, naming the values involved. */
  found: string;
  /** Action for the admin, empty when none is needed. */
  fix: string;
}

/** The campaign settings that the preflight checks, as stored in surveybridge.Campaigns. */
export type PreflightCampaign = Pick<CampaignRow, 'code' | 'surveyId' | 'directoryId' | 'mailingListId' | 'linkValidityDays'
  | 'externalEventId' | 'keyFieldId' | 'scoreFieldId' | 'categoryFieldId'>;

export function error(check: string, found: string, fix: string): Finding {
  return { severity: 'error', check, found, fix };
}

export function warning(check: string, found: string, fix: string): Finding {
  return { severity: 'warning', check, found, fix };
}

export function info(check: string, found: string, fix = ''): Finding {
  return { severity: 'info', check, found, fix };
}

const SYSTEM_NAMES = { emarsys: 'Emarsys', qualtrics: 'Qualtrics' } as const;

/**
 * Converts a failed upstream call into an error finding. `callDescription` names the call at the start
 * of a sentence, such as "Reading external event 4711". Other errors are rethrown, because they are bugs.
 */
export function failureFinding(check: string, callDescription: string, failure: unknown): Finding {
  if (!(failure instanceof UpstreamError)) throw failure;
  const system = SYSTEM_NAMES[failure.system] ?? failure.system;
  const found = `${callDescription} failed: ${failure.message}`;
  if (failure.operation === 'destination') {
    return error(check, found, `Create or complete the BTP destination '${failure.system}' as the README describes.`);
  }
  if (failure.operation === 'token') {
    return error(check, found, `Check the client id, client secret and token URL of the destination '${failure.system}'.`);
  }
  if (failure.status === 401) {
    return error(check, found, `Check the credentials of the destination '${failure.system}', because ${system} rejected them.`);
  }
  if (failure.status === 403) {
    return error(check, found, `Grant the ${system} API user or client the permission for this call.`);
  }
  if (failure.status === undefined) {
    return error(check, found, `Check the URL of the destination '${failure.system}' and the network path to ${system}, then run the preflight again.`);
  }
  if (failure.retryable) {
    return error(check, found, `${system} failed temporarily. Run the preflight again.`);
  }
  return error(check, found, `Open the ${system} round trip of this call in the audit trail for the full reply.`);
}

/** Returns true when a failed call shows that the system rejected the credentials, so no further call can succeed. */
export function isCredentialFailure(failure: unknown): boolean {
  if (!(failure instanceof UpstreamError)) return false;
  return failure.operation === 'destination' || failure.operation === 'token' || failure.status === 401;
}
