/**
 * Background work, run through CAP's persisted queue: a message per claimed batch survives a restart
 * and is processed again until the batch is final.
 */
@protocol: 'none'
service WorkerService {
  action processInvitationBatch(batchId : UUID);
  action processScoreBatch(batchId : UUID);
}
