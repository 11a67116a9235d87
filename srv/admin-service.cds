/**
 * Operations for administrators: personal data erasure and the retention purge. Each action has its
 * handler in admin-service.ts and its logic in a module under srv/admin/.
 */
@protocol: 'rest'
@path: '/admin'
@requires: 'Admin'
service AdminService {

  type ErasureResult {
    invitations    : Integer;
    surveyLinks    : Integer;
    scoreResponses : Integer;
    roundTripItems : Integer;
    roundTrips     : Integer;
    workBatches    : Integer;
  }

  type PurgeResult {
    cutoff         : Timestamp;
    invitations    : Integer;
    scoreResponses : Integer;
    roundTrips     : Integer;
    workBatches    : Integer;
    /** True when the run stopped at its row limit and older rows remain for the next run. */
    more           : Boolean;
  }

  /**
   * Removes one contact's personal data from every invitation, score response and round trip, keeping
   * the rows, statuses and scores so counts stay right. `contactKey` is the Emarsys key value the
   * webhook sent, for example the email address.
   */
  action erase(contactKey : String(255) not null) returns ErasureResult;

  /**
   * Deletes invitations and their trail older than the retention period. A task on CAP's queue calls it
   * on the schedule in cds.surveyBridge.retention.schedule.
   */
  action purgeExpired() returns PurgeResult;
}
