/**
 * Intake throughput of the two inbound actions under autocannon load, with proof that every
 * acknowledged call is a row in the SQLite file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { sandboxDestinations } from '../../sandbox/destinations';
import { ROOT, deployDatabase, freePort, startService } from '../lib/service-process';
import { progress } from '../lib/progress';
import { runLoad, type LoadResult } from './load';
import { BenchDatabase, INVITATIONS_TABLE, SCORES_TABLE } from './database';
import { CAMPAIGN, WEBHOOK_AUTH, type CampaignResult } from './campaign';

const WORKFLOW_AUTH = `Basic ${Buffer.from('qualtrics-workflow:workflow').toString('base64')}`;
const SURVEY_ID = 'SV_SANDBOX000001';

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

export interface IntakeOptions {
  connections: number;
  durationSeconds: number;
  /** Seconds of the same load before the measured run, so JIT compilation and lazy loading are done. */
  warmupSeconds: number;
  /** Node.js options for the service, such as mta.yaml's and --cpu-prof. */
  nodeOptions?: string;
  /** Runs the deployable build in gen/srv instead of the TypeScript sources. */
  built?: boolean;
  /** Suffix of the database and log file names. */
  label?: string;
}

export interface WebhookIntakeResult {
  load: LoadResult;
  /** Distinct invitation ids in 202 replies. */
  acknowledged: number;
  /** Acknowledged invitation ids found in the SQLite file after the SIGKILL. */
  found: number;
  missing: number;
  /** SQLite journal mode of the file, `wal` with @cap-js/sqlite on a file. */
  journalMode: string;
}

/**
 * Loads POST /inbound/generateLink of a fresh service with background workers switched off, so the
 * figure is the intake alone. Each request carries a new e-mail address and so creates an invitation.
 * After the run the service gets SIGKILL (SIGTERM when profiling, so the profile is written), and
 * every invitation id that a 202 carried is looked up in the file.
 */
export async function runWebhookIntake(options: IntakeOptions): Promise<WebhookIntakeResult> {
  const label = options.label ?? 'intake';
  const database = `.run/bench-${label}.sqlite`;
  const logFile = `.run/bench-${label}.log`;
  fs.rmSync(path.join(ROOT, logFile), { force: true });
  await deployDatabase(database, logFile);
  const service = await startService({
    database, port: await freePort(), logFile, destinations: '[]', bridge: { workers: false }, nodeOptions: options.nodeOptions, built: options.built
  });
  const acknowledged = new Set<string>();
  let load: LoadResult | undefined;
  try {
    const runTag = Date.now().toString(36);
    for (const [name, seconds] of [['warm-up', options.warmupSeconds], ['webhook intake', options.durationSeconds]] as const) {
      if (!seconds) continue;
      load = await runLoad({
        label: name, url: service.url, path: '/inbound/generateLink', authorization: WEBHOOK_AUTH,
        connections: options.connections, durationSeconds: seconds, servicePid: service.child.pid,
        body: index => JSON.stringify({ campaign: CAMPAIGN, email: `intake-${runTag}-${name === 'warm-up' ? 'w' : 'm'}${index}@example.org` }),
        onResponse: (status, body) => {
          if (status === 202) acknowledged.add(JSON.parse(body).invitationId);
        }
      });
    }
  } finally {
    await service.stop(options.nodeOptions?.includes('--cpu-prof') ? 'SIGTERM' : 'SIGKILL');
  }
  const db = new BenchDatabase(database, { readOnly: false });
  try {
    const stored = new Set(db.column(INVITATIONS_TABLE, 'ID'));
    let found = 0;
    for (const id of acknowledged) if (stored.has(id)) found++;
    return { load: load!, acknowledged: acknowledged.size, found, missing: acknowledged.size - found, journalMode: String(db.pragma('journal_mode')) };
  } finally {
    db.close();
  }
}

export interface ScoreIntakeResult {
  /** The intake alone: workers off, as in the webhook intake run. */
  load: LoadResult;
  /** The same load while the score worker writes the scores back to Emarsys. */
  loadWithWriteBack: LoadResult;
  /** Invitations with a triggered event that the survey responses referred to. */
  invitations: number;
  /** Distinct response ids in 202 replies of both runs. */
  acknowledged: number;
  /** Acknowledged response ids found in the SQLite file after the final SIGKILL. */
  found: number;
  missing: number;
  /** Scores per status once the write-back finished. */
  statuses: Record<string, number>;
  stored: number;
  emarsysCalls: number;
  emarsysCallsByOperation: Record<string, number>;
  callsPerStored: number;
  /** End of the load until no score was pending, in seconds. */
  writeBackSeconds: number;
}

interface ScoreLoadContext {
  serviceUrl: string;
  servicePid: number | undefined;
  invitationIds: string[];
  runTag: string;
  /** Running number of the next survey response. Every run continues the sequence of the one before. */
  next: number;
  acknowledged: Set<string>;
}

/**
 * Sends a warm-up and a measured run of survey responses. Each has a new response id and refers to
 * the next mailed invitation, cycling through them once every invitation got one.
 */
async function loadScores(context: ScoreLoadContext, options: IntakeOptions, label: string): Promise<LoadResult> {
  let load: LoadResult | undefined;
  for (const [name, seconds] of [['warm-up', options.warmupSeconds], [label, options.durationSeconds]] as const) {
    if (!seconds) continue;
    const first = context.next;
    let sent = 0;
    load = await runLoad({
      label: name, url: context.serviceUrl, path: '/inbound/ingestScore', authorization: WORKFLOW_AUTH,
      connections: options.connections, durationSeconds: seconds, servicePid: context.servicePid,
      body: index => {
        sent = Math.max(sent, index + 1);
        const number = first + index;
        const invitationId = context.invitationIds[number % context.invitationIds.length];
        return JSON.stringify({ responseId: `R_${context.runTag}${number}`, invitationId, surveyId: SURVEY_ID, nps: String(number % 11) });
      },
      onResponse: (status, body) => {
        if (status === 202) context.acknowledged.add(JSON.parse(body).responseId);
      }
    });
    context.next += sent;
  }
  return load!;
}

/**
 * Loads POST /inbound/ingestScore on the database of a finished campaign, in two runs on fresh
 * services. The first has workers on, so the score worker writes the scores back to the Emarsys
 * stand-in while the load runs. Its Emarsys calls are counted from its start until no score is
 * pending. The second has workers off and gives the intake figure comparable to the webhook intake.
 * It ends with SIGKILL (SIGTERM when profiling), and every acknowledged response id of both runs is
 * looked up in the file.
 */
export async function runScoreIntake(campaign: CampaignResult, options: IntakeOptions & { bridge: Record<string, unknown>; timeoutMs: number }): Promise<ScoreIntakeResult> {
  const emarsys = campaign.emarsys!;
  const qualtrics = campaign.qualtrics!;
  const readDb = new BenchDatabase(campaign.database);
  const invitationIds = readDb.column(INVITATIONS_TABLE, 'ID', 'eventTriggered');
  readDb.close();
  if (!invitationIds.length) throw new Error(`The ${campaign.label} campaign left no invitation with a triggered event; see ${campaign.logFile}`);

  const logFile = '.run/bench-scores.log';
  fs.rmSync(path.join(ROOT, logFile), { force: true });
  const destinations = JSON.stringify(sandboxDestinations(emarsys, qualtrics));
  const context: ScoreLoadContext = {
    serviceUrl: '', servicePid: undefined, invitationIds, runTag: Date.now().toString(36), next: 0, acknowledged: new Set()
  };

  emarsys.calls.clear();
  qualtrics.calls.clear();
  let service = await startService({
    database: campaign.database, port: await freePort(), logFile, bridge: options.bridge, destinations, nodeOptions: options.nodeOptions, built: options.built
  });
  const db = new BenchDatabase(campaign.database);
  let loadWithWriteBack: LoadResult;
  let statuses: Record<string, number> = {};
  let writeBackSeconds = NaN;
  try {
    Object.assign(context, { serviceUrl: service.url, servicePid: service.child.pid });
    loadWithWriteBack = await loadScores(context, options, 'score intake with write-back');
    const loadEnded = Date.now();
    const deadline = loadEnded + options.timeoutMs;
    for (;;) {
      statuses = db.countByStatus(SCORES_TABLE);
      progress(`  score write-back: pending ${statuses.pending ?? 0}, stored ${statuses.stored ?? 0}, Emarsys calls ${emarsys.calls.entries.length}`);
      if (!statuses.pending || Date.now() > deadline) break;
      await sleep(500);
    }
    if (!statuses.pending) writeBackSeconds = (Date.now() - loadEnded) / 1000;
  } finally {
    db.close();
    await service.stop('SIGTERM');
  }
  const emarsysCalls = emarsys.calls.entries.length;
  const emarsysCallsByOperation = emarsys.calls.countByOperation();

  service = await startService({
    database: campaign.database, port: await freePort(), logFile, bridge: { ...options.bridge, workers: false }, nodeOptions: options.nodeOptions, built: options.built, destinations
  });
  let load: LoadResult;
  try {
    Object.assign(context, { serviceUrl: service.url, servicePid: service.child.pid });
    load = await loadScores(context, options, 'score intake');
  } finally {
    await service.stop(options.nodeOptions?.includes('--cpu-prof') ? 'SIGTERM' : 'SIGKILL');
  }
  const afterKill = new BenchDatabase(campaign.database, { readOnly: false });
  const storedIds = new Set(afterKill.column(SCORES_TABLE, 'responseId'));
  afterKill.close();
  let found = 0;
  for (const id of context.acknowledged) if (storedIds.has(id)) found++;
  const stored = statuses.stored ?? 0;
  return {
    load, loadWithWriteBack, invitations: invitationIds.length,
    acknowledged: context.acknowledged.size, found, missing: context.acknowledged.size - found,
    statuses, stored, emarsysCalls, emarsysCallsByOperation,
    callsPerStored: stored ? emarsysCalls / stored : NaN, writeBackSeconds
  };
}
