using { AuditService } from './audit-service';
using { surveybridge as db } from '../db/preflight';

extend service AuditService with {
  /** One result of a preflight check. */
  type Finding {
    severity : String(10) enum { error; warning; info; };
    /** Name of the check, such as emarsys.event or qualtrics.survey. */
    check    : String(60);
    /** Result of the check, naming the values involved. */
    found    : String(1000);
    /** Action for the admin, empty when none is needed. */
    fix      : String(1000);
  }

  /** Outcome of the activate action. */
  type ActivationResult {
    activation : UUID;
    active     : Boolean;
    /** True when the campaign went live despite error findings. */
    override   : Boolean;
    findings   : many Finding;
  }

  /** Campaign activations with the preflight findings each one saw. */
  @readonly
  entity CampaignActivations as projection on db.CampaignActivations;
}

// The @restrict of Campaigns grants only CRUD events, and CAP rejects bound actions that no @restrict
// grants, so each action carries its own grant next to @requires.
extend AuditService.Campaigns with actions {
  /** Runs every preflight check against Emarsys and Qualtrics and returns the findings. Changes no data. */
  @requires: 'Admin'
  @restrict: [{ to: 'Admin' }]
  action preflight() returns many AuditService.Finding;

  /**
   * Runs the preflight and sets the campaign active. Error findings block activation with 409 unless
   * override is true and a reason is given. Each activation is recorded in CampaignActivations.
   */
  @requires: 'Admin'
  @restrict: [{ to: 'Admin' }]
  action activate(override : Boolean, reason : String(1000)) returns AuditService.ActivationResult;
}
