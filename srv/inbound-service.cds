using { surveybridge as db } from '../db/schema';

/**
 * Endpoints called by the two vendors. Each action takes the caller's JSON body as it arrives, so
 * keys added by an Emarsys preset or a Qualtrics task never make a call fail.
 */
@protocol: 'rest'
@path: '/inbound'
@requires: ['WebhookCaller', 'ScoreCaller']
service InboundService {

  type InvitationReceipt {
    invitationId : UUID;
    status       : db.InvitationStatus;
    repeated     : Boolean;
  }

  type ScoreReceipt {
    responseId   : String;
    status       : db.ScoreStatus;
    invitationId : UUID;
    score        : Integer;
    npsCategory  : db.NpsCategory;
    repeated     : Boolean;
  }

  /** Called by an Emarsys Automation Center Webhook node, once per contact. */
  @requires: 'WebhookCaller'
  action generateLink(body : Map) returns InvitationReceipt;

  /** Called by a Qualtrics workflow Web Service task when a survey response arrives. */
  @requires: 'ScoreCaller'
  action ingestScore(body : Map) returns ScoreReceipt;
}
