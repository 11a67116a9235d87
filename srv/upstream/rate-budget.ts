/**
 * Keeps outbound calls under a per-minute budget per system, shared through the database by every
 * instance. The minute is split into slices of `sliceMs` with an equal share each, which smooths bursts
 * at window boundaries that a plain per-minute counter would allow.
 */
import cds from '@sap/cds';

const LOG = cds.log('rate-budget');

export interface RateBudgetConfig {
  /** Requests per minute; defaults stay below Emarsys' 1,000 per API user and Qualtrics' 3,000 per brand. */
  perMinute: number;
  sliceMs: number;
}

const DEFAULT_BUDGETS: Record<string, RateBudgetConfig> = {
  emarsys: { perMinute: 800, sliceMs: 10_000 },
  qualtrics: { perMinute: 2_000, sliceMs: 10_000 }
};

export function rateBudgetConfig(system: string): RateBudgetConfig {
  const custom = (cds.env as any).surveyBridge?.rateBudgets?.[system];
  return { ...DEFAULT_BUDGETS[system], ...custom };
}

/** Takes one request from the budget of `system`, waiting for the next slice when this one is spent. */
export async function acquireRateBudget(system: string): Promise<void> {
  const { perMinute, sliceMs } = rateBudgetConfig(system);
  if (!perMinute || perMinute <= 0) return;
  const perSlice = Math.max(1, Math.floor((perMinute * sliceMs) / 60_000));
  let waitedMs = 0;
  for (;;) {
    const now = Date.now();
    const sliceStart = new Date(now - (now % sliceMs)).toISOString();
    const taken = await cds.tx(async () => {
      const row = await SELECT.one.from('surveybridge.RateBudgets').where({ system });
      if (!row) {
        await INSERT.into('surveybridge.RateBudgets').entries({ system, sliceStart, used: 1 });
        return true;
      }
      if (new Date(row.sliceStart).getTime() < new Date(sliceStart).getTime()) {
        const affected = await UPDATE('surveybridge.RateBudgets').set({ sliceStart, used: 1 }).where({ system, sliceStart: row.sliceStart });
        return affected > 0;
      }
      const affected = await UPDATE('surveybridge.RateBudgets').set({ used: { '+=': 1 } }).where({ system, sliceStart: row.sliceStart, used: { '<': perSlice } });
      return affected > 0;
    }).catch((error: any) => {
      // Two instances may insert the first row at once; the loser simply tries again.
      if (/UNIQUE|unique constraint/i.test(String(error?.message))) return false;
      throw error;
    });
    if (taken) {
      if (waitedMs > 0) LOG.debug(`${system} budget: waited ${waitedMs} ms`);
      return;
    }
    const wait = sliceMs - (Date.now() % sliceMs) + Math.floor(Math.random() * 50);
    if (waitedMs === 0) LOG.info(`${system} request budget of ${perSlice} per ${sliceMs} ms is spent; waiting ${wait} ms`);
    waitedMs += wait;
    await new Promise(resolve => setTimeout(resolve, wait));
  }
}
