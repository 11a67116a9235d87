/** Fully qualified names of the database entities, for CQL in plain modules. */
export const CAMPAIGNS = 'surveybridge.Campaigns';
export const INVITATIONS = 'surveybridge.SurveyInvitations';
export const LINKS = 'surveybridge.SurveyLinks';
export const SCORES = 'surveybridge.ScoreResponses';
export const ROUND_TRIPS = 'surveybridge.RoundTrips';
export const ITEMS = 'surveybridge.RoundTripItems';
export const BATCHES = 'surveybridge.WorkBatches';
