/** Fully qualified names of the database entities, for CQL in plain modules. */
import cds from '@sap/cds';

export const CAMPAIGNS = 'surveybridge.Campaigns';
export const INVITATIONS = 'surveybridge.SurveyInvitations';
export const LINKS = 'surveybridge.SurveyLinks';
export const SCORES = 'surveybridge.ScoreResponses';
export const ROUND_TRIPS = 'surveybridge.RoundTrips';
export const ITEMS = 'surveybridge.RoundTripItems';
export const BATCHES = 'surveybridge.WorkBatches';

/** Returns the database table of an entity, for plain SQL that runs unchanged on SQLite and SAP HANA. */
export function tableOf(entity: string): string {
  return entity.replace(/\./g, '_');
}

/** Returns the user that CAP writes into modifiedBy, for plain SQL that skips CAP's managed fields. */
export function modifiedByOf(): string {
  return cds.context?.user?.id ?? 'anonymous';
}
