using { AdminService } from './admin-service';

extend service AdminService with {

  type ReplayResult {
    invitations : Integer;
    scores      : Integer;
  }

  /**
   * Sends failed invitations or failed score writes through their flow again. `target` is
   * `invitations` or `scores`; `campaign` (a campaign code), `statuses` and `ids` (invitation IDs or
   * response IDs) narrow the selection. Each replay is recorded as new round trips on the same
   * invitation.
   */
  action replay(target : String(20) not null, campaign : String(40), statuses : many String(30), ids : many String(60)) returns ReplayResult;
}

using { AuditService } from './audit-service';

/** Replay from the audit UI: sends this failed invitation, or its failed score write, through its flow again. */
extend AuditService.SurveyInvitations with actions {
  @requires: 'Admin'
  @restrict: [{ to: 'Admin' }]
  action replay() returns AdminService.ReplayResult;
}
