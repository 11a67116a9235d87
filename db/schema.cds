namespace surveybridge;

using { cuid, managed } from '@sap/cds/common';

/** Where an invitation stands; the final states end the invitation flow for its cycle. */
type InvitationStatus : String(30) enum {
  received;               // stored, waiting for its micro-batch
  linkIssued;             // Qualtrics returned a personal link
  suppressedUnsubscribed; // Qualtrics flags the contact as unsubscribed: final
  suppressedFrequency;    // Qualtrics contact frequency rules exceeded: final
  suppressedFatigue;      // invited too recently by Survey Bridge (cooldown): final, no upstream call
  linkNotFound;           // the distribution listed no link for the contact: final
  eventTriggered;         // Emarsys accepted the external event: final for the invitation flow
  contactNotFound;        // Emarsys has no contact for the key value (2008): final
  failed;                 // a final upstream error, or retries used up: final
  responded;              // the contact answered the survey
  scoreStored;            // score and category are on the Emarsys contact
}

/** Where a survey answer stands on its way to the Emarsys contact. */
type ScoreStatus : String(30) enum {
  pending;          // valid score waiting for its write-back batch
  stored;           // Emarsys wrote score and category
  invalid;          // the answer is not a whole number 0 to 10
  unmatched;        // no invitation matches the response
  contactNotFound;  // Emarsys 2008
  contactAmbiguous; // Emarsys 2010
  invalidValue;     // Emarsys 2007
  failed;           // a final upstream error, or retries used up
}

type NpsCategory : String(10) enum { detractor; passive; promoter; }

/** Survey campaign configuration; changes apply without a redeploy. */
entity Campaigns : cuid, managed {
  code               : String(40) not null @mandatory;
  name               : String(120);
  surveyId           : String(40) not null @mandatory;
  directoryId        : String(40) not null @mandatory;
  mailingListId      : String(40) not null @mandatory;
  linkValidityDays   : Integer not null default 30 @assert.range: [1, 365];
  externalEventId    : String(20) not null @mandatory;
  keyFieldId         : String(20) not null default '3';
  scoreFieldId       : String(20) not null @mandatory;
  categoryFieldId    : String(20) not null @mandatory;
  contactKeyProperty : String(60) not null default 'email';
  /** Days after an invitation in which the same contact is not invited again by this campaign; 0 turns it off. */
  fatigueCooldownDays : Integer not null default 0 @assert.range: [0, 3650];
  active             : Boolean not null default true;
  invitations        : Association to many SurveyInvitations on invitations.campaign = $self;
}

annotate Campaigns with @assert.unique: { code: [code] };

/** One contact invited in one campaign cycle, with the correlation ids of both vendors. */
entity SurveyInvitations : cuid, managed {
  campaign            : Association to Campaigns not null;
  cycle               : Integer not null default 1;
  contactKey          : String(255) not null;
  firstName           : String(100);
  lastName            : String(100);
  language            : String(10);
  status              : InvitationStatus not null default 'received';
  lastError           : String(1000);
  batch               : Association to WorkBatches;
  qualtricsContactId  : String(40);
  qualtricsLookupId   : String(40);
  transactionId       : String(40);
  transactionBatchId  : String(40);
  distributionId      : String(40);
  surveyLink          : String(1000);
  linkExpiresAt       : Timestamp;
  /** End of the cycle: the link expiry once known, before that receivedAt plus the link validity. */
  cycleEndsAt         : Timestamp not null;
  triggerId           : String(100);
  /** How often an administrator sent the invitation through the flow again. */
  replays             : Integer not null default 0;
  emarsysContactId    : String(40);
  receivedAt          : Timestamp not null;
  linkIssuedAt        : Timestamp;
  eventTriggeredAt    : Timestamp;
  finishedAt          : Timestamp;
  respondedAt         : Timestamp;
  scoreStoredAt       : Timestamp;
  responseId          : String(60);
  score               : Integer;
  npsCategory         : NpsCategory;
  roundTrips          : Association to many RoundTripItems on roundTrips.invitation = $self;
  links               : Association to many SurveyLinks on links.invitation = $self;
}

// The unique index starts with contactKey, so it also serves the lookup of a contact across campaigns.
annotate SurveyInvitations with @assert.unique: { contactCycle: [contactKey, campaign, cycle] };

/** Every personal link issued for an invitation; an invitation whose link expired before sending keeps both. */
@assert.unique: { linkPerDistribution: [invitation, distributionId] }
entity SurveyLinks : cuid {
  invitation     : Association to SurveyInvitations not null;
  distributionId : String(40);
  surveyLink     : String(1000);
  expiresAt      : Timestamp;
  issuedAt       : Timestamp not null;
  /** Qualtrics ids of the contact and the transaction that the link belongs to. */
  qualtricsContactId : String(40);
  transactionId      : String(40);
  status         : String(20) enum { issued; sent; expiredUnsent; } not null default 'issued';
}

/** A micro-batch claimed by one worker run; its checkpoints let a restarted run resume. */
entity WorkBatches : cuid, managed {
  /** What the batch holds: invitations to link and trigger, or scores to write back. */
  contents                : String(20) enum { invitations; scores; } not null;
  campaign                : Association to Campaigns not null;
  size                    : Integer not null;
  status                  : String(20) enum { open; done; failed; } not null default 'open';
  contactsSyncedAt        : Timestamp;
  transactionBatchId      : String(40);
  distributionRequestedAt : Timestamp;
  distributionId          : String(40);
  linksFetchedAt          : Timestamp;
  importRequestedAt       : Timestamp;
  attempts                : Integer not null default 0;
  lastError               : String(1000);
  /** The worker instance that runs the batch, and until when its claim holds. */
  leaseOwner              : String(100);
  leaseUntil              : Timestamp;
  finishedAt              : Timestamp;
}

/** A Qualtrics answer sent by a workflow; the response id makes repeated deliveries harmless. */
entity ScoreResponses : managed {
  key responseId : String(60);
  surveyId       : String(40);
  campaign       : Association to Campaigns;
  invitation     : Association to SurveyInvitations;
  contactRef     : String(255);
  rawScore       : String(100);
  score          : Integer;
  npsCategory    : NpsCategory;
  status         : ScoreStatus not null;
  lastError      : String(1000);
  batch          : Association to WorkBatches;
  receivedAt     : Timestamp not null;
  storedAt       : Timestamp;
}

/** One HTTP exchange, inbound or outbound. Paths carry no secrets and no link tokens. */
entity RoundTrips : cuid {
  at                : Timestamp not null;
  direction         : String(10) enum { inbound; outbound; } not null;
  system            : String(20) enum { emarsys; qualtrics; } not null;
  operation         : String(40) not null;
  method            : String(10) not null;
  path              : String(500);
  httpStatus        : Integer;
  upstreamCode      : String(40);
  upstreamRequestId : String(100);
  attempt           : Integer not null default 1;
  durationMs        : Integer;
  itemCount         : Integer;
  error             : String(1000);
  batch             : Association to WorkBatches;
  invitation        : Association to SurveyInvitations;
  items             : Composition of many RoundTripItems on items.roundTrip = $self;
}

/** The outcome of one invitation inside a batched round trip. */
entity RoundTripItems : cuid {
  roundTrip  : Association to RoundTrips not null;
  invitation : Association to SurveyInvitations not null;
  outcome    : String(30) not null;
  code       : String(40);
  message    : String(500);
}

/**
 * Request budget of one upstream system in the current time slice. All app instances that share the
 * database draw from the same row, so the budget holds across instances.
 */
entity RateBudgets {
  key system     : String(20);
      sliceStart : Timestamp not null;
      used       : Integer not null default 0;
}
