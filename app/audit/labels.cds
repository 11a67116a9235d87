using { surveybridge as db } from '../../db/schema';

// Field labels on the domain model, so every service projection and the Fiori preview show them.

annotate db.Campaigns with @title: 'Campaign' {
  ID                 @title: 'Campaign ID';
  code               @title: 'Campaign Code';
  name               @title: 'Name';
  surveyId           @title: 'Qualtrics Survey ID';
  directoryId        @title: 'Qualtrics Directory ID';
  mailingListId      @title: 'Qualtrics Mailing List ID';
  linkValidityDays   @title: 'Link Validity (Days)';
  externalEventId    @title: 'Emarsys External Event ID';
  keyFieldId         @title: 'Emarsys Key Field ID';
  scoreFieldId       @title: 'Emarsys Score Field ID';
  categoryFieldId    @title: 'Emarsys Category Field ID';
  contactKeyProperty @title: 'Contact Key Property';
  active             @title: 'Active';
};

annotate db.SurveyInvitations with @title: 'Invitation' {
  ID                 @title: 'Invitation ID';
  campaign           @title: 'Campaign';
  cycle              @title: 'Cycle';
  contactKey         @title: 'Contact';
  firstName          @title: 'First Name';
  lastName           @title: 'Last Name';
  language           @title: 'Language';
  status             @title: 'Status';
  lastError          @title: 'Last Error';
  batch              @title: 'Work Batch';
  qualtricsContactId @title: 'Qualtrics Contact ID';
  qualtricsLookupId  @title: 'Qualtrics Lookup ID';
  transactionId      @title: 'Qualtrics Transaction ID';
  transactionBatchId @title: 'Qualtrics Transaction Batch ID';
  distributionId     @title: 'Qualtrics Distribution ID';
  surveyLink         @title: 'Survey Link';
  linkExpiresAt      @title: 'Link Expires At';
  cycleEndsAt        @title: 'Cycle Ends At';
  triggerId          @title: 'Emarsys Trigger ID';
  emarsysContactId   @title: 'Emarsys Contact ID';
  receivedAt         @title: 'Received At';
  linkIssuedAt       @title: 'Link Issued At';
  eventTriggeredAt   @title: 'Event Triggered At';
  finishedAt         @title: 'Finished At';
  respondedAt        @title: 'Responded At';
  scoreStoredAt      @title: 'Score Stored At';
  responseId         @title: 'Qualtrics Response ID';
  score              @title: 'Score';
  npsCategory        @title: 'NPS Category';
};

annotate db.WorkBatches with @title: 'Work Batch' {
  ID                      @title: 'Batch ID';
  contents                @title: 'Contents';
  campaign                @title: 'Campaign';
  size                    @title: 'Size';
  status                  @title: 'Status';
  contactsSyncedAt        @title: 'Contacts Synced At';
  transactionBatchId      @title: 'Qualtrics Transaction Batch ID';
  distributionRequestedAt @title: 'Distribution Requested At';
  distributionId          @title: 'Qualtrics Distribution ID';
  linksFetchedAt          @title: 'Links Fetched At';
  importRequestedAt       @title: 'Import Requested At';
  attempts                @title: 'Attempts';
  lastError               @title: 'Last Error';
  leaseOwner              @title: 'Lease Owner';
  leaseUntil              @title: 'Lease Until';
  finishedAt              @title: 'Finished At';
};

annotate db.ScoreResponses with @title: 'Score Response' {
  responseId  @title: 'Qualtrics Response ID';
  surveyId    @title: 'Qualtrics Survey ID';
  campaign    @title: 'Campaign';
  invitation  @title: 'Invitation';
  contactRef  @title: 'Contact Reference';
  rawScore    @title: 'Raw Score';
  score       @title: 'Score';
  npsCategory @title: 'NPS Category';
  status      @title: 'Status';
  lastError   @title: 'Last Error';
  batch       @title: 'Work Batch';
  receivedAt  @title: 'Received At';
  storedAt    @title: 'Stored At';
};

annotate db.RoundTrips with @title: 'Round Trip' {
  ID                @title: 'Round Trip ID';
  at                @title: 'At';
  direction         @title: 'Direction';
  system            @title: 'System';
  operation         @title: 'Operation';
  method            @title: 'Method';
  path              @title: 'Path';
  httpStatus        @title: 'HTTP Status';
  upstreamCode      @title: 'Upstream Code';
  upstreamRequestId @title: 'Upstream Request ID';
  attempt           @title: 'Attempt';
  durationMs        @title: 'Duration (ms)';
  itemCount         @title: 'Items';
  error             @title: 'Error';
  batch             @title: 'Work Batch';
  invitation        @title: 'Invitation';
};

annotate db.RoundTripItems with @title: 'Round Trip Item' {
  ID         @title: 'Item ID';
  roundTrip  @title: 'Round Trip';
  invitation @title: 'Invitation';
  outcome    @title: 'Outcome';
  code       @title: 'Code';
  message    @title: 'Message';
};
