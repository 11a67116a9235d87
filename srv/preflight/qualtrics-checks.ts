/** Preflight checks against Qualtrics: token and datacenter, survey, directory and mailing list. */
import { getQualtrics } from '../upstream/qualtrics';
import { UpstreamError } from '../upstream/http';
import { error, failureFinding, info, isCredentialFailure, warning, type Finding, type PreflightCampaign } from './findings';

/** Preflight calls are not retried, because the admin waits for the reply and can run the preflight again. */
const CALL = { retry: false };

/** Qualtrics proxies a request sent to another datacenter and names the brand's own host in meta.notice. */
const NOTICE_HOST = /use this host instead:\s*([A-Za-z0-9.-]+)/i;

/** Deduplication settings of an XM Directory, as GET directories/{id} returns them. */
interface DeduplicationCriteria {
  email?: boolean;
  firstName?: boolean;
  lastName?: boolean;
  externalDataReference?: boolean;
  phone?: boolean;
}

/** Joins names as "a", "a and b" or "a, b and c". */
function listOf(names: string[]): string {
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

function isNotFound(failure: unknown): boolean {
  return failure instanceof UpstreamError && failure.status === 404;
}

function noticeOf(body: any): string | undefined {
  const notice = body?.meta?.notice;
  return typeof notice === 'string' && notice.trim() ? notice.trim() : undefined;
}

function datacenterFinding(notice: string): Finding {
  const host = NOTICE_HOST.exec(notice)?.[1];
  const fix = host
    ? `Set the URL of the destination 'qualtrics' to https://${host}/API/v3/ so requests go to the brand's datacenter directly.`
    : `Set the URL of the destination 'qualtrics' to the datacenter that the notice names.`;
  return warning('qualtrics.datacenter', `Qualtrics proxied the request to another datacenter: "${notice}"`, fix);
}

/** Calls whoami and returns the findings and whether further calls can succeed. */
async function checkCredentials(): Promise<{ findings: Finding[]; usable: boolean }> {
  const check = 'qualtrics.credentials';
  try {
    const body = await getQualtrics('preflightWhoami', 'whoami', CALL);
    const user = body?.result ?? {};
    const findings = [info(check, `Qualtrics accepted the credentials of user ${user.userName ?? user.userId ?? 'unknown'} in brand ${user.brandId ?? 'unknown'}, datacenter ${user.datacenter ?? 'unknown'}.`)];
    const notice = noticeOf(body);
    if (notice) findings.push(datacenterFinding(notice));
    return { findings, usable: true };
  } catch (failure) {
    const finding = failureFinding(check, 'Checking the Qualtrics credentials with GET whoami', failure);
    if (isCredentialFailure(failure)) finding.fix += ' The other Qualtrics checks run once the credentials work.';
    const notice = failure instanceof UpstreamError ? noticeOf(failure.body) : undefined;
    const findings = notice ? [finding, datacenterFinding(notice)] : [finding];
    return { findings, usable: !isCredentialFailure(failure) };
  }
}

/** Checks that the survey exists and is active, because Qualtrics creates no distribution for an inactive survey. */
async function checkSurvey(surveyId: string): Promise<Finding> {
  const check = 'qualtrics.survey';
  let survey: any;
  try {
    survey = (await getQualtrics('preflightSurvey', `surveys/${encodeURIComponent(surveyId)}`, CALL))?.result ?? {};
  } catch (failure) {
    if (isNotFound(failure)) {
      return error(check, `Survey ${surveyId} does not exist in Qualtrics, or the API user cannot see it.`,
        'Set surveyId to the survey id (SV_...) shown under Account Settings > Qualtrics IDs, and share the survey with the API user.');
    }
    return failureFinding(check, `Reading survey ${surveyId}`, failure);
  }
  if (survey.isActive !== true) {
    return error(check, `Survey ${surveyId} '${survey.name ?? ''}' is not active, so Qualtrics creates no distribution links for it.`,
      'Publish and activate the survey in Qualtrics.');
  }
  return info(check, `Survey ${surveyId} '${survey.name ?? ''}' exists and is active.`);
}

/**
 * Checks the deduplication criteria against the import: Survey Bridge always sends extRef (the contact
 * key), sends email only when the key field is 3 (email), sends names only when the webhook has them,
 * and never sends a phone number.
 * NOTE: how Qualtrics combines several criteria is not documented. This assumes that a contact matches
 * only when every enabled field is present and equal, as the sandbox does.
 */
function checkDeduplication(directoryId: string, criteria: DeduplicationCriteria | undefined, keyFieldId: string): Finding {
  const check = 'qualtrics.deduplication';
  const fix = 'Set the directory to deduplicate by External Data Reference only, in the deduplication settings of the XM Directory.';
  if (!criteria || typeof criteria !== 'object') {
    return warning(check, `Qualtrics returned no deduplication criteria for directory ${directoryId}.`, fix);
  }
  const enabled = Object.entries(criteria).filter(([, on]) => on === true).map(([name]) => name);
  if (enabled.length === 0) {
    return error(check, `Directory ${directoryId} has deduplication off, so every invitation import creates another contact.`, fix);
  }
  if (!criteria.externalDataReference) {
    return error(check, `Directory ${directoryId} deduplicates by ${listOf(enabled)} but not by externalDataReference, the contact key that Survey Bridge sends as extRef, so contacts get duplicated.`, fix);
  }
  const neverSent = enabled.filter(name => name === 'phone' || (name === 'email' && keyFieldId !== '3'));
  if (neverSent.length) {
    return error(check, `Directory ${directoryId} also deduplicates by ${listOf(neverSent)}, which Survey Bridge does not send, so every import creates another contact.`, fix);
  }
  const optional = enabled.filter(name => name === 'firstName' || name === 'lastName');
  if (optional.length) {
    return warning(check, `Directory ${directoryId} also deduplicates by ${listOf(optional)}, so a contact whose name is missing or changed in Emarsys is created again.`, fix);
  }
  return info(check, `Directory ${directoryId} deduplicates by ${listOf(enabled)}, which matches the extRef that Survey Bridge sends.`);
}

/** Checks the directory, its deduplication criteria and the mailing list inside it. */
async function checkDirectory(campaign: PreflightCampaign): Promise<Finding[]> {
  const { directoryId, mailingListId } = campaign;
  let directory: any;
  try {
    directory = (await getQualtrics('preflightDirectory', `directories/${encodeURIComponent(directoryId)}`, CALL))?.result ?? {};
  } catch (failure) {
    if (isNotFound(failure)) {
      return [error('qualtrics.directory', `Directory ${directoryId} does not exist in Qualtrics, so the mailing list was not checked.`,
        'Set directoryId to the XM Directory id (POOL_...) shown under Account Settings > Qualtrics IDs.')];
    }
    return [failureFinding('qualtrics.directory', `Reading directory ${directoryId}`, failure)];
  }
  const findings = [
    info('qualtrics.directory', `Directory ${directoryId} '${directory.name ?? ''}' exists.`),
    checkDeduplication(directoryId, directory.deduplicationCriteria, campaign.keyFieldId)
  ];
  const listPath = `directories/${encodeURIComponent(directoryId)}/mailinglists/${encodeURIComponent(mailingListId)}`;
  try {
    const list = (await getQualtrics('preflightMailingList', listPath, CALL))?.result ?? {};
    findings.push(info('qualtrics.mailingList', `Mailing list ${mailingListId} '${list.name ?? ''}' exists in directory ${directoryId}.`));
  } catch (failure) {
    if (isNotFound(failure)) {
      findings.push(error('qualtrics.mailingList', `Mailing list ${mailingListId} does not exist in directory ${directoryId}.`,
        'Set mailingListId to a mailing list (CG_...) of that directory.'));
    } else {
      findings.push(failureFinding('qualtrics.mailingList', `Reading mailing list ${mailingListId}`, failure));
    }
  }
  return findings;
}

/** Runs the Qualtrics checks. When Qualtrics rejects the credentials, only those findings are returned. */
export async function checkQualtrics(campaign: PreflightCampaign): Promise<Finding[]> {
  const credentials = await checkCredentials();
  if (!credentials.usable) return credentials.findings;
  const [survey, directory] = await Promise.all([checkSurvey(campaign.surveyId), checkDirectory(campaign)]);
  return [...credentials.findings, survey, ...directory];
}
