using { surveybridge as db } from '../db/schema';

/** Read access to the audit trail, and campaign administration. */
@path: '/audit'
@requires: ['AuditViewer', 'Admin']
service AuditService {
  @readonly entity SurveyInvitations as projection on db.SurveyInvitations;
  @readonly entity RoundTrips as projection on db.RoundTrips;
  @readonly entity RoundTripItems as projection on db.RoundTripItems;
  @readonly entity ScoreResponses as projection on db.ScoreResponses;
  @readonly entity WorkBatches as projection on db.WorkBatches;

  @restrict: [
    { grant: 'READ', to: ['AuditViewer', 'Admin'] },
    { grant: ['CREATE', 'UPDATE', 'DELETE'], to: 'Admin' }
  ]
  entity Campaigns as projection on db.Campaigns;
}
