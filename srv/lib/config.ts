/**
 * Runtime settings under `cds.surveyBridge` in package.json or .cdsrc.json, merged over these defaults.
 * Every duration is in milliseconds unless its name says otherwise.
 */
import cds from '@sap/cds';

export interface BridgeConfig {
  intake: {
    /** Largest number of inbound calls committed in one transaction. */
    maxGroupSize: number;
    /** Largest accepted request body in bytes; larger bodies get 413. */
    maxBodyBytes: number;
    /** How long a campaign read stays cached for request validation. */
    campaignCacheMs: number;
  };
  invitations: {
    /** A campaign's micro-batch is flushed when it contains this many received invitations... */
    batchSize: number;
    /** ...or when its oldest invitation has waited this long. */
    flushAgeMs: number;
    /** How often the batcher looks for invitations to batch. */
    pollMs: number;
    /** A link that expires within this margin is never sent; a fresh one is minted. */
    linkExpiryMarginMs: number;
    /** Worker runs for one batch before its invitations are marked failed. */
    maxBatchAttempts: number;
    /**
     * How long a worker's claim on a batch lasts without a checkpoint. Another instance takes over a
     * batch whose lease ran out, so this bounds the delay after a crash.
     */
    leaseMs: number;
  };
  scores: {
    batchSize: number;
    flushAgeMs: number;
    pollMs: number;
    maxBatchAttempts: number;
    leaseMs: number;
  };
  fatigue: {
    /**
     * Days after any invitation, in any campaign, in which a contact is not invited again; 0 turns the
     * global guard off. Each campaign may set a cooldown of its own in addition.
     */
    globalCooldownDays: number;
  };
  upstream: {
    /** Timeout of one HTTP exchange with Emarsys or Qualtrics. */
    timeoutMs: number;
    /** Attempts per call for transient failures (429, 5xx, network errors, timeouts), the first included. */
    maxAttempts: number;
    /** First backoff delay; each retry doubles it, with full jitter, up to maxBackoffMs. */
    baseBackoffMs: number;
    maxBackoffMs: number;
    /** Emarsys contacts per trigger or contact update call; Emarsys accepts at most 1,000. */
    emarsysMaxBatch: number;
  };
}

const DEFAULTS: BridgeConfig = {
  intake: { maxGroupSize: 256, maxBodyBytes: 64 * 1024, campaignCacheMs: 2_000 },
  invitations: { batchSize: 500, flushAgeMs: 2_000, pollMs: 250, linkExpiryMarginMs: 24 * 3600_000, maxBatchAttempts: 8, leaseMs: 60_000 },
  scores: { batchSize: 1_000, flushAgeMs: 2_000, pollMs: 250, maxBatchAttempts: 8, leaseMs: 60_000 },
  fatigue: { globalCooldownDays: 0 },
  upstream: { timeoutMs: 15_000, maxAttempts: 5, baseBackoffMs: 500, maxBackoffMs: 30_000, emarsysMaxBatch: 1_000 }
};

/** Returns the effective settings; reads cds.env on every call so tests can change them at runtime. */
export function bridgeConfig(): BridgeConfig {
  const custom = ((cds.env as any).surveyBridge ?? {}) as Partial<Record<keyof BridgeConfig, object>>;
  return {
    intake: { ...DEFAULTS.intake, ...custom.intake },
    invitations: { ...DEFAULTS.invitations, ...custom.invitations },
    scores: { ...DEFAULTS.scores, ...custom.scores },
    fatigue: { ...DEFAULTS.fatigue, ...custom.fatigue },
    upstream: { ...DEFAULTS.upstream, ...custom.upstream }
  } as BridgeConfig;
}
