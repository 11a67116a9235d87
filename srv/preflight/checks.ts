/**
 * Campaign preflight: checks a campaign's settings against Emarsys and Qualtrics before it goes live.
 * Every upstream call goes through callUpstream, so each one is a RoundTrips row. The checks write
 * nothing else, and an upstream failure becomes an error finding instead of an exception.
 */
import cds from '@sap/cds';
import { checkCampaignSettings } from './campaign-checks';
import { checkEmarsys } from './emarsys-checks';
import { checkQualtrics } from './qualtrics-checks';
import type { Finding, PreflightCampaign } from './findings';

export type { Finding, PreflightCampaign, Severity } from './findings';

const LOG = cds.log('preflight');

/**
 * Runs every check and returns the findings: campaign settings first, then Emarsys, then Qualtrics.
 * The two systems are checked in parallel. The caller must not hold a database transaction, because
 * each round trip is recorded in a transaction of its own.
 */
export async function runPreflight(campaign: PreflightCampaign): Promise<Finding[]> {
  const started = Date.now();
  const [emarsys, qualtrics] = await Promise.all([checkEmarsys(campaign), checkQualtrics(campaign)]);
  const findings = [...checkCampaignSettings(campaign), ...emarsys, ...qualtrics];
  const errors = findings.filter(finding => finding.severity === 'error').length;
  const warnings = findings.filter(finding => finding.severity === 'warning').length;
  LOG.info(`Preflight of campaign ${campaign.code}: ${errors} errors, ${warnings} warnings`, { durationMs: Date.now() - started });
  return findings;
}
