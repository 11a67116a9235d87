import cds from '@sap/cds';
import { bridgeConfig } from './lib/config';
import { claimDueBatches } from './workers/batches';
import { processInvitationBatch } from './workers/invitations';
import { processScoreBatch } from './workers/scores';

const LOG = cds.log('workers');

/** Reads the queue timeout: a message in processing for longer counts as abandoned. */
function queueTimeoutMs(): number {
  return (cds.utils as any).ms4(cds.env.requires.queue?.timeout ?? '1h');
}

/**
 * Makes messages of a crashed process eligible again. CAP's queue marks a message `processing` without
 * a lastAttemptTimestamp and re-selects a `processing` message only once that timestamp is older than
 * the queue timeout, so a process killed during a message's first attempt would leave it stuck.
 * NOTE: checked against @sap/cds 10.1 (libx/queue/index.js); drop this when the queue sets the
 * timestamp itself.
 */
async function releaseOrphanedMessages(): Promise<void> {
  const cutoff = new Date(Date.now() - queueTimeoutMs()).toISOString();
  const released = await cds.tx(() =>
    UPDATE('cds.outbox.Messages')
      .set({ lastAttemptTimestamp: { ref: ['timestamp'] } })
      .where({ status: 'processing', lastAttemptTimestamp: null, timestamp: { '<': cutoff } })
  );
  if (released) LOG.warn(`Released ${released} queued messages left in processing by a stopped instance`);
}

/**
 * Handlers of the queued batch messages, and the loops that claim batches. Set
 * `cds.surveyBridge.workers` to false to serve the inbound API without background work.
 */
export default class WorkerService extends cds.Service {
  private timers: NodeJS.Timeout[] = [];
  /** Batch runs and loop ticks in progress; shutdown waits for them. */
  private active = 0;
  private stopped = false;

  async init() {
    this.on('processInvitationBatch', req => this.track(() => processInvitationBatch((req.data as any).batchId)));
    this.on('processScoreBatch', req => this.track(() => processScoreBatch((req.data as any).batchId)));
    await super.init();
    cds.once('served', () => this.start());
    cds.once('shutdown', () => this.stop());
  }

  private start(): void {
    if ((cds.env as any).surveyBridge?.workers === false) {
      LOG.info('Background workers are switched off');
      return;
    }
    const queued = cds.queued(this) as cds.Service & { flush?: () => Promise<void> };
    // Settings are read on every tick, so a changed batch size or age applies without a restart.
    const invitationSource = () => {
      const { batchSize, flushAgeMs } = bridgeConfig().invitations;
      return {
        contents: 'invitations' as const, entity: 'surveybridge.SurveyInvitations', key: 'ID', waiting: { status: 'received' }, ageColumn: 'receivedAt',
        batchSize, flushAgeMs, enqueue: (batchId: string) => queued.send('processInvitationBatch', { batchId })
      };
    };
    const scoreSource = () => {
      const { batchSize, flushAgeMs } = bridgeConfig().scores;
      return {
        contents: 'scores' as const, entity: 'surveybridge.ScoreResponses', key: 'responseId', waiting: { status: 'pending' }, ageColumn: 'receivedAt',
        batchSize: Math.min(batchSize, bridgeConfig().upstream.emarsysMaxBatch), flushAgeMs,
        enqueue: (batchId: string) => queued.send('processScoreBatch', { batchId })
      };
    };
    const { invitations, scores } = bridgeConfig();
    this.loop(invitations.pollMs, () => claimDueBatches(invitationSource()), 'invitation batcher');
    this.loop(scores.pollMs, () => claimDueBatches(scoreSource()), 'score batcher');
    // Messages of a stopped instance, or whose processing timed out, are picked up again here.
    const recoveryIntervalMs = Math.min(15_000, Math.max(1_000, queueTimeoutMs() / 2));
    this.loop(recoveryIntervalMs, async () => {
      await releaseOrphanedMessages();
      await queued.flush?.();
    }, 'queue recovery', true);
    LOG.info('Background workers started', { invitationBatchSize: invitations.batchSize, scoreBatchSize: scores.batchSize });
  }

  /** Runs one piece of background work; after shutdown started, new work is refused and retried later by the queue. */
  private async track<T>(work: () => Promise<T>): Promise<T> {
    if (this.stopped) throw new Error('Survey Bridge is shutting down; the queue runs this batch again later');
    this.active++;
    try {
      return await work();
    } finally {
      this.active--;
    }
  }

  private loop(intervalMs: number, work: () => Promise<unknown>, name: string, runFirst = false): void {
    let running = false;
    const tick = async () => {
      if (running || this.stopped) return;
      running = true;
      try {
        await this.track(work);
      } catch (error) {
        if (!this.stopped) LOG.error(`${name} failed`, error);
      } finally {
        running = false;
      }
    };
    if (runFirst) void tick();
    const timer = setInterval(tick, intervalMs);
    timer.unref();
    this.timers.push(timer);
  }

  /** Stops the loops and waits up to 15 s for batch runs in progress, so none of them outlives the database. */
  private async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    const deadline = Date.now() + 15_000;
    while (this.active > 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50));
    if (this.active > 0) LOG.warn(`Stopping with ${this.active} batch runs still in progress; the queue resumes them on the next start`);
    LOG.info('Background workers stopped');
  }
}
