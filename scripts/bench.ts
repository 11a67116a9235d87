/**
 * The benchmark: Survey Bridge against the per-contact pattern of an Integration Suite flow, both run
 * against the local Emarsys and Qualtrics stand-ins with the same latency and rate limits.
 *
 * It measures upstream calls per contact and completion time for campaigns of 1,000, 10,000 and
 * 100,000 contacts. It loads webhook and score intake with autocannon and compares them with a plain
 * one-INSERT-per-request CAP action. It also counts Emarsys calls per stored score and samples the
 * service's RSS. It prints progress and a table with the targets, and ends with one JSON line.
 * BENCHMARKS.md records the figures and findings.
 *
 *   npm run bench                      full run (about 10 minutes on 2 cores)
 *   npm run bench -- --quick           1k and 10k campaigns, short intake runs, small baseline
 *   npm run bench -- --skip-100k --profile
 *
 * Exits with 1 when a run fails or an acknowledged call is missing from the SQLite file. A missed
 * performance target shows as MISS in the table and in `targetsMissed` and does not change the exit code.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { ROOT } from './lib/service-process';
import { endProgress } from './lib/progress';
import { runCampaign, type CampaignResult } from './bench/campaign';
import { runScoreIntake, runWebhookIntake, type ScoreIntakeResult, type WebhookIntakeResult } from './bench/intake';
import { runPlainInsert, type PlainInsertResult } from './bench/plain-insert';
import { fitBaseline, runBaseline, type BaselineModel, type BaselineRun } from './bench/baseline';
import { printProfile, summarizeProfile, type ProfileSummary } from './bench/profile';
import { formatNumber, machineInfo, printRows, rounded, type Row } from './bench/report';
import type { CpuShare } from './bench/rss';
import type { LoadResult } from './bench/load';
import { buildService, joinNodeOptions, productionNodeOptions, type ServiceRuntime } from './bench/runtime';

const HELP = `Usage: npm run bench -- [options]

  --quick                      1k and 10k campaigns, 10 s intake runs, baseline of 50, 100 and 200 contacts
  --skip-100k                  leave out the 100,000-contact campaign
  --skip-campaigns             leave out every campaign (and so score intake)
  --skip-intake                leave out webhook intake and the plain-insert reference
  --skip-scores                leave out score intake and write-back
  --skip-baseline              leave out the per-contact baseline
  --profile                    add CPU-profiled runs (webhook intake and a 10,000-contact campaign) and print their hot functions
  --sizes LIST                 campaign sizes, comma-separated (default 1000,10000,100000)
  --baseline-sizes LIST        baseline sizes (default 100,300,1000)
  --baseline-cap-seconds S     wall time cap per baseline size (default 240)
  --baseline-concurrency N     webhook calls the baseline flow handles at once (default 16)
  --latency-ms MS              stand-in latency per call (default 80)
  --connections N              autocannon connections (default 32)
  --duration S                 seconds per measured intake run (default 30)
  --warmup S                   seconds of the same load before each intake run, not measured (default 5)
  --batch-size N               sets cds.surveyBridge.invitations.batchSize (default: the product default)
  --timeout-minutes M          wait per campaign until every invitation is final (default 15)
  --source                     run the TypeScript sources through tsx instead of the build from npm run build
  --instances N                service instances per campaign on one SQLite file, webhooks split between them (default 1);
                               SQLite takes one writer at a time, so more than one instance measures lock contention
  --service-node-options=TEXT  Node.js options for the service in place of mta.yaml's, such as --service-node-options=--max-old-space-size=192`;

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'skip-100k': { type: 'boolean', default: false },
    'skip-campaigns': { type: 'boolean', default: false },
    'skip-intake': { type: 'boolean', default: false },
    'skip-scores': { type: 'boolean', default: false },
    'skip-baseline': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    sizes: { type: 'string' },
    'baseline-sizes': { type: 'string' },
    'baseline-cap-seconds': { type: 'string' },
    'baseline-concurrency': { type: 'string', default: '16' },
    'latency-ms': { type: 'string', default: '80' },
    connections: { type: 'string', default: '32' },
    duration: { type: 'string' },
    warmup: { type: 'string', default: '5' },
    'batch-size': { type: 'string' },
    'timeout-minutes': { type: 'string', default: '15' },
    'service-node-options': { type: 'string' },
    instances: { type: 'string', default: '1' },
    source: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false }
  }
});

if (args.help) {
  console.log(HELP);
  process.exit(0);
}

function positiveNumber(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!(value > 0) || !Number.isFinite(value)) throw new Error(`--${name} must be a positive number, got '${text}'`);
  return value;
}

function sizeList(name: string, text: string | undefined, fallback: number[]): number[] {
  if (text === undefined) return fallback;
  const sizes = text.split(',').map(part => Number(part.trim()));
  if (!sizes.length || sizes.some(size => !Number.isInteger(size) || size < 1)) throw new Error(`--${name} must list whole numbers above 0, got '${text}'`);
  return sizes;
}

const QUICK = args.quick;
let SIZES = sizeList('sizes', args.sizes, QUICK ? [1_000, 10_000] : [1_000, 10_000, 100_000]);
if (args['skip-100k']) SIZES = SIZES.filter(size => size !== 100_000);
if (args['skip-campaigns']) SIZES = [];
const BASELINE_SIZES = sizeList('baseline-sizes', args['baseline-sizes'], QUICK ? [50, 100, 200] : [100, 300, 1_000]);
const BASELINE_CAP_SECONDS = positiveNumber('baseline-cap-seconds', args['baseline-cap-seconds'], QUICK ? 60 : 240);
const BASELINE_CONCURRENCY = positiveNumber('baseline-concurrency', args['baseline-concurrency'], 16);
const LATENCY_MS = positiveNumber('latency-ms', args['latency-ms'], 80);
const CONNECTIONS = positiveNumber('connections', args.connections, 32);
const DURATION_SECONDS = positiveNumber('duration', args.duration, QUICK ? 10 : 30);
const WARMUP_SECONDS = args.warmup === '0' ? 0 : positiveNumber('warmup', args.warmup, 5);
const TIMEOUT_MS = positiveNumber('timeout-minutes', args['timeout-minutes'], 15) * 60_000;
const BRIDGE: Record<string, unknown> = args['batch-size'] ? { invitations: { batchSize: positiveNumber('batch-size', args['batch-size'], 500) } } : {};
const PROFILE_DIR = path.join(ROOT, '.run', 'bench-profiles');
const INSTANCES = positiveNumber('instances', args.instances, 1);
if (!Number.isInteger(INSTANCES)) throw new Error(`--instances must be a whole number, got '${args.instances}'`);
/** The service as it ships: gen/srv with mta.yaml's Node.js options, unless --source or --service-node-options is given. */
const RUNTIME: ServiceRuntime = {
  built: !args.source,
  nodeOptions: args['service-node-options'] ?? productionNodeOptions()
};

/** Targets of the benchmark. The table marks each figure pass or MISS against them. */
const TARGET = {
  callsPerContact: 0.03,
  baselineCallsPerContact: 4,
  completionSeconds100k: 120,
  /** Time per contact at the largest size divided by time per contact at 10,000, where 1 means linear growth. */
  growthRatio: 1.2,
  intakeRps: 1_200,
  intakeP99Ms: 100,
  scoreCallsPerStored: 0.01,
  peakRssMb100k: 250
};

function labelOf(size: number): string {
  return size % 1_000 === 0 ? `${size / 1_000}k` : String(size);
}

function phase(title: string): void {
  endProgress();
  console.log(`\n== ${title}`);
}

function cpuRow(cpu: CpuShare | undefined): Row[] {
  if (!cpu) return [];
  return [{ figure: '  CPU: service / benchmark / other processes', value: `${cpu.service.toFixed(0)} / ${cpu.bench.toFixed(0)} / ${cpu.other.toFixed(0)} s` }];
}

/** Share of the machine's CPU time that other processes may take before a phase is flagged as disturbed. */
const OTHER_CPU_WARNING_SHARE = 0.1;

function otherShare(cpu: CpuShare): number {
  return cpu.other / (cpu.wallSeconds * machineInfo().cores);
}

function cpuLine(cpu: CpuShare): string {
  const cores = machineInfo().cores;
  const line = `CPU seconds in ${cpu.wallSeconds.toFixed(0)} s: service ${cpu.service.toFixed(1)}, benchmark process ${cpu.bench.toFixed(1)}, ` +
    `other processes ${cpu.other.toFixed(1)} (${cores} cores)`;
  const share = otherShare(cpu);
  if (share <= OTHER_CPU_WARNING_SHARE) return line;
  return `${line}\n  WARNING: other processes took ${Math.round(share * 100)} % of the machine's CPU time during this phase, so its figures are lower than on an idle machine`;
}

function loadLine(name: string, load: LoadResult): string {
  const cpu = load.cpu ? `\n  ${cpuLine(load.cpu)}` : '';
  return `${name}: ${formatNumber(load.rps)} req/s, p50 ${load.p50Ms} ms, p99 ${load.p99Ms} ms, ${load.responses} responses ` +
    `${JSON.stringify(load.statusCounts)}, ${load.errors} connection errors${cpu}`;
}

async function main(): Promise<void> {
  const machine = machineInfo();
  const startedAt = new Date();
  console.log(`Survey Bridge benchmark, ${startedAt.toISOString()}`);
  console.log(`Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGb} GB RAM, ${machine.platform}, Node.js ${machine.node}`);
  const loadAtStart = os.loadavg();
  console.log(`Load average at start: ${loadAtStart.map(value => value.toFixed(2)).join(' ')} (other processes share the cores; see the CPU lines per phase)`);
  console.log(`Stand-ins: ${LATENCY_MS} ms per call, Emarsys 1,000 requests/min per API user, Qualtrics 3,000 requests/min per brand`);
  console.log(`Campaigns: ${SIZES.map(labelOf).join(', ') || 'none'}; autocannon ${CONNECTIONS} connections; intake runs ${DURATION_SECONDS} s; ` +
    `service settings ${Object.keys(BRIDGE).length ? JSON.stringify(BRIDGE) : 'product defaults'}`);
  console.log(`Service: ${RUNTIME.built ? 'gen/srv from npm run build (JavaScript)' : 'TypeScript sources through tsx'}, ` +
    `Node.js options ${RUNTIME.nodeOptions ? `'${RUNTIME.nodeOptions}'` : 'none'}${args['service-node-options'] === undefined ? ' (from mta.yaml)' : ''}, ` +
    `${INSTANCES} instance${INSTANCES === 1 ? '' : 's'} per campaign`);
  fs.mkdirSync(path.join(ROOT, '.run'), { recursive: true });
  if (RUNTIME.built) {
    phase('Build: npm run build');
    await buildService();
    endProgress();
    console.log('  gen/srv built');
  }

  let intake: WebhookIntakeResult | undefined;
  let plain: PlainInsertResult | undefined;
  if (!args['skip-intake']) {
    phase(`Webhook intake: ${CONNECTIONS} connections for ${DURATION_SECONDS} s after ${WARMUP_SECONDS} s warm-up on a fresh service, workers off, then SIGKILL`);
    intake = await runWebhookIntake({ connections: CONNECTIONS, durationSeconds: DURATION_SECONDS, warmupSeconds: WARMUP_SECONDS, ...RUNTIME });
    endProgress();
    console.log(loadLine('  webhook intake', intake.load));
    console.log(`  acknowledged ${intake.acknowledged} invitations, ${intake.found} in the SQLite file after SIGKILL, ${intake.missing} missing (journal mode ${intake.journalMode})`);

    phase(`Plain insert: generated CAP project, one INSERT per request, ${CONNECTIONS} connections for ${DURATION_SECONDS} s after ${WARMUP_SECONDS} s warm-up`);
    plain = await runPlainInsert({ connections: CONNECTIONS, durationSeconds: DURATION_SECONDS, warmupSeconds: WARMUP_SECONDS, nodeOptions: RUNTIME.nodeOptions });
    endProgress();
    console.log(loadLine('  plain insert', plain.load));
  }

  const campaigns = new Map<number, CampaignResult>();
  const largest = Math.max(0, ...SIZES);
  for (const size of SIZES) {
    const keepStandIns = !args['skip-scores'] && size === largest;
    phase(`Survey Bridge campaign of ${formatNumber(size)} contacts (${LATENCY_MS} ms per upstream call)`);
    const result = await runCampaign({
      contacts: size, label: labelOf(size), latencyMs: LATENCY_MS, connections: CONNECTIONS, bridge: BRIDGE, timeoutMs: TIMEOUT_MS, keepStandIns,
      nodeOptions: RUNTIME.nodeOptions, built: RUNTIME.built, instances: INSTANCES
    });
    campaigns.set(size, result);
    endProgress();
    console.log(`  ${result.invited} events triggered of ${result.accepted} accepted (${JSON.stringify(result.statuses)}), ${result.unfinished} unfinished`);
    console.log(`  ${result.upstreamCalls} upstream calls = ${result.callsPerContact.toFixed(4)} per contact, ${result.rateLimited} rejected with 429: ${JSON.stringify(result.callsByOperation)}`);
    console.log(`  completion ${result.completionSeconds.toFixed(1)} s (webhooks fed in ${result.feedSeconds.toFixed(1)} s at ${formatNumber(result.webhookRps)} req/s, p99 ${result.webhookP99Ms} ms)`);
    console.log(`  peak RSS ${result.peakRssMb.toFixed(0)} MB, by quarter of the run ${result.rssMbByQuartile.map(mb => mb.toFixed(0)).join(' / ')} MB`);
    console.log(`  ${cpuLine(result.cpu)}`);
  }

  let scores: ScoreIntakeResult | undefined;
  const scoreCampaign = campaigns.get(largest);
  if (scoreCampaign?.emarsys) {
    phase(`Score intake on the ${scoreCampaign.label} campaign's database: ${CONNECTIONS} connections for ${DURATION_SECONDS} s after ${WARMUP_SECONDS} s warm-up, ` +
      'first with workers on (write-back), then on a fresh service with workers off, then SIGKILL');
    try {
      scores = await runScoreIntake(scoreCampaign, {
        connections: CONNECTIONS, durationSeconds: DURATION_SECONDS, warmupSeconds: WARMUP_SECONDS, bridge: BRIDGE, timeoutMs: TIMEOUT_MS, ...RUNTIME
      });
    } finally {
      await scoreCampaign.emarsys.close();
      await scoreCampaign.qualtrics!.close();
    }
    endProgress();
    console.log(loadLine('  score intake with write-back', scores.loadWithWriteBack));
    console.log(loadLine('  score intake, workers off', scores.load));
    console.log(`  ${scores.stored} scores stored in Emarsys with ${scores.emarsysCalls} Emarsys calls ${JSON.stringify(scores.emarsysCallsByOperation)}, ` +
      `write-back finished ${formatNumber(scores.writeBackSeconds, 1)} s after the load; ${scores.missing} acknowledged survey responses missing after SIGKILL`);
  }

  const baselineRuns: BaselineRun[] = [];
  let model: BaselineModel | undefined;
  const baselineOptions = { latencyMs: LATENCY_MS, concurrency: BASELINE_CONCURRENCY, capSeconds: BASELINE_CAP_SECONDS };
  if (!args['skip-baseline']) {
    for (const size of BASELINE_SIZES) {
      phase(`Baseline (per-contact flow, ${BASELINE_CONCURRENCY} webhook calls at a time) for ${formatNumber(size)} contacts, cap ${BASELINE_CAP_SECONDS} s`);
      const run = await runBaseline(size, baselineOptions);
      baselineRuns.push(run);
      endProgress();
      console.log(`  ${run.completed}/${run.contacts} contacts in ${run.seconds.toFixed(1)} s${run.capped ? ' (stopped at the cap)' : ''}, ${run.failed} failed`);
      console.log(`  ${run.callsPerContact.toFixed(2)} calls per contact (${run.successfulCallsPerContact.toFixed(2)} without 429 responses, ` +
        `${run.linkPagesPerContact.toFixed(2)} link pages), ${run.rateLimited} rejected with 429, ${run.loggedCalls} calls logged: ${JSON.stringify(run.callsByOperation)}`);
    }
    if (baselineRuns.filter(run => run.completed > 0).length >= 2) model = fitBaseline(baselineRuns, baselineOptions);
  }

  const profiles: Record<string, ProfileSummary> = {};
  if (args.profile) {
    fs.rmSync(PROFILE_DIR, { recursive: true, force: true });
    fs.mkdirSync(PROFILE_DIR, { recursive: true });
    const profileOptions = (name: string) => `--cpu-prof --cpu-prof-dir=${PROFILE_DIR} --cpu-prof-name=${name}.cpuprofile`;
    phase(`Profile: webhook intake with --cpu-prof, ${CONNECTIONS} connections for ${DURATION_SECONDS} s`);
    const profiledIntake = await runWebhookIntake({
      connections: CONNECTIONS, durationSeconds: DURATION_SECONDS, warmupSeconds: WARMUP_SECONDS, label: 'intake-profile',
      built: RUNTIME.built, nodeOptions: joinNodeOptions(RUNTIME.nodeOptions, profileOptions('intake'))
    });
    endProgress();
    console.log(loadLine('  profiled webhook intake', profiledIntake.load));
    profiles.intake = summarizeProfile(path.join(PROFILE_DIR, 'intake.cpuprofile'));
    printProfile('Webhook intake profile', profiles.intake);

    const profileSize = Math.min(10_000, largest || 10_000);
    phase(`Profile: campaign of ${formatNumber(profileSize)} contacts with --cpu-prof`);
    const profiledCampaign = await runCampaign({
      contacts: profileSize, label: `${labelOf(profileSize)}-profile`, latencyMs: LATENCY_MS, connections: CONNECTIONS, bridge: BRIDGE,
      timeoutMs: TIMEOUT_MS, built: RUNTIME.built, nodeOptions: joinNodeOptions(RUNTIME.nodeOptions, profileOptions('campaign'))
    });
    endProgress();
    console.log(`  completion ${profiledCampaign.completionSeconds.toFixed(1)} s with the profiler on`);
    profiles.campaign = summarizeProfile(path.join(PROFILE_DIR, 'campaign.cpuprofile'));
    printProfile(`Campaign of ${formatNumber(profileSize)} contacts profile`, profiles.campaign);
  }

  // ---- summary
  const summary: Record<string, unknown> = {};
  const missed: string[] = [];
  const check = (key: string, met: boolean | undefined) => {
    if (met === false) missed.push(key);
    return met;
  };

  const callRows: Row[] = [];
  const timeRows: Row[] = [];
  const memoryRows: Row[] = [];
  for (const [size, result] of campaigns) {
    const label = labelOf(size);
    summary[`callsPerContact${label}`] = rounded(result.callsPerContact, 4);
    summary[`completionSeconds${label}`] = rounded(result.completionSeconds, 1);
    const callTarget = size >= 10_000 ? result.callsPerContact <= TARGET.callsPerContact : undefined;
    callRows.push({
      figure: `Survey Bridge, ${label} contacts (${result.upstreamCalls} calls)`, value: result.callsPerContact.toFixed(4),
      target: size >= 10_000 ? `<= ${TARGET.callsPerContact}` : '', met: check(`callsPerContact${label}`, callTarget)
    });
    const completionTarget = size === 100_000 ? result.completionSeconds <= TARGET.completionSeconds100k : undefined;
    timeRows.push({
      figure: `Survey Bridge, ${label} contacts`, value: `${result.completionSeconds.toFixed(1)} s`,
      target: size === 100_000 ? `<= ${TARGET.completionSeconds100k} s` : '', met: check(`completionSeconds${label}`, completionTarget)
    });
    timeRows.push({ figure: `  per 1,000 contacts`, value: `${((result.completionSeconds / size) * 1_000).toFixed(2)} s` });
    timeRows.push(...cpuRow(result.cpu));
    summary[`cpuSeconds${label}`] = { service: rounded(result.cpu.service, 1), bench: rounded(result.cpu.bench, 1), other: rounded(result.cpu.other, 1) };
    if (result.unfinished) missed.push(`unfinished${label}`);
  }
  const tenK = campaigns.get(10_000);
  const biggest = campaigns.get(largest);
  if (tenK && biggest && largest > 10_000) {
    const ratio = (biggest.completionSeconds / largest) / (tenK.completionSeconds / 10_000);
    summary.completionGrowthRatio = rounded(ratio, 2);
    timeRows.push({
      figure: `time per contact, ${labelOf(largest)} over 10k`, value: ratio.toFixed(2), target: `<= ${TARGET.growthRatio} (linear)`,
      met: check('completionGrowthRatio', ratio <= TARGET.growthRatio)
    });
  }
  const hundredK = campaigns.get(100_000);
  if (hundredK) {
    summary.peakRssMb100k = rounded(hundredK.peakRssMb, 0);
    summary.rssMbByQuartile = hundredK.rssMbByQuartile.map(mb => rounded(mb, 0));
    memoryRows.push({ figure: 'peak RSS, 100k campaign', value: `${hundredK.peakRssMb.toFixed(0)} MB`, target: `<= ${TARGET.peakRssMb100k} MB`,
      met: check('peakRssMb100k', hundredK.peakRssMb <= TARGET.peakRssMb100k) });
    memoryRows.push({ figure: '  highest RSS per quarter of the run', value: hundredK.rssMbByQuartile.map(mb => mb.toFixed(0)).join(' / ') + ' MB' });
  } else if (biggest) {
    summary[`peakRssMb${biggest.label}`] = rounded(biggest.peakRssMb, 0);
    summary.rssMbByQuartile = biggest.rssMbByQuartile.map(mb => rounded(mb, 0));
    memoryRows.push({ figure: `peak RSS, ${biggest.label} campaign`, value: `${biggest.peakRssMb.toFixed(0)} MB` });
    memoryRows.push({ figure: '  highest RSS per quarter of the run', value: biggest.rssMbByQuartile.map(mb => mb.toFixed(0)).join(' / ') + ' MB' });
  }

  for (const run of baselineRuns) {
    callRows.push({ figure: `baseline, ${run.completed} contacts measured${run.capped ? ' (capped)' : ''}`, value: run.successfulCallsPerContact.toFixed(2) });
    timeRows.push({ figure: `baseline, ${run.completed} contacts measured${run.capped ? ' (capped)' : ''}`, value: `${run.seconds.toFixed(1)} s` });
  }
  if (model) {
    const measured10k = baselineRuns.find(run => run.completed === 10_000);
    const calls10k = measured10k ? measured10k.successfulCallsPerContact : model.callsPerContact(10_000);
    summary.baselineCallsPerContact10k = rounded(calls10k, 1);
    summary.baselineCallsPerContact100k = rounded(model.callsPerContact(100_000), 1);
    summary.baselineExtrapolated = !measured10k;
    summary.baselineCompletionSeconds10k = rounded(model.completionSeconds(10_000), 0);
    summary.baselineCompletionSeconds100k = rounded(model.completionSeconds(100_000), 0);
    summary.baselineModel = { intercept: rounded(model.intercept, 3), slopePerContact: rounded(model.slope, 5) };
    const suffix = measured10k ? '' : ' (extrapolated)';
    callRows.push({ figure: `baseline, 10k contacts${suffix}`, value: calls10k.toFixed(1), target: `>= ${TARGET.baselineCallsPerContact}`,
      met: check('baselineCallsPerContact10k', calls10k >= TARGET.baselineCallsPerContact) });
    callRows.push({ figure: `baseline, 100k contacts (extrapolated)`, value: model.callsPerContact(100_000).toFixed(1) });
    for (const run of baselineRuns) {
      timeRows.push({ figure: `  model at ${run.completed} contacts (check)`, value: `${model.completionSeconds(run.completed).toFixed(1)} s` });
    }
    timeRows.push({ figure: 'baseline, 10k contacts (extrapolated)', value: `${formatNumber(model.completionSeconds(10_000))} s` });
    timeRows.push({ figure: 'baseline, 100k contacts (extrapolated)', value: `${formatNumber(model.completionSeconds(100_000))} s` });
  }
  summary.baselineMeasured = baselineRuns.map(run => ({
    contacts: run.contacts, completed: run.completed, capped: run.capped, seconds: rounded(run.seconds, 1),
    callsPerContact: rounded(run.callsPerContact, 2), successfulCallsPerContact: rounded(run.successfulCallsPerContact, 2), rateLimited: run.rateLimited
  }));

  const intakeRows: Row[] = [];
  /** Rows of one intake run: throughput and p99 against the targets, durability after SIGKILL, CPU. */
  const intakeFigures = (figure: string, keyPrefix: string, load: LoadResult, found: number, acknowledged: number, missing: number): Row[] => [
    { figure, value: `${formatNumber(load.rps)} req/s`, target: `>= ${formatNumber(TARGET.intakeRps)} req/s`, met: check(`${keyPrefix}Rps`, load.rps >= TARGET.intakeRps) },
    { figure: '  p99 latency', value: `${load.p99Ms} ms`, target: `<= ${TARGET.intakeP99Ms} ms`, met: check(`${keyPrefix}P99Ms`, load.p99Ms <= TARGET.intakeP99Ms) },
    { figure: '  202s in the file after SIGKILL', value: `${found}/${acknowledged}`, target: 'all', met: check(`${keyPrefix}Durable`, missing === 0) },
    ...cpuRow(load.cpu)
  ];
  if (intake) {
    summary.intakeRps = rounded(intake.load.rps, 0);
    summary.intakeP99Ms = intake.load.p99Ms;
    summary.intakeAcknowledged = intake.acknowledged;
    summary.intakeMissingAfterKill = intake.missing;
    intakeRows.push(...intakeFigures('webhook intake (workers off)', 'intake', intake.load, intake.found, intake.acknowledged, intake.missing));
  }
  if (plain) {
    summary.plainInsertRps = rounded(plain.load.rps, 0);
    summary.plainInsertP99Ms = plain.load.p99Ms;
    intakeRows.push({ figure: 'plain one-INSERT action', value: `${formatNumber(plain.load.rps)} req/s` });
    intakeRows.push({ figure: '  p99 latency', value: `${plain.load.p99Ms} ms` });
    intakeRows.push(...cpuRow(plain.load.cpu));
    if (intake) {
      summary.intakeVsPlainInsert = rounded(intake.load.rps / plain.load.rps, 2);
      intakeRows.push({ figure: 'webhook intake / plain insert', value: `${(intake.load.rps / plain.load.rps).toFixed(2)} x` });
    }
  }
  for (const [size, result] of campaigns) {
    intakeRows.push({ figure: `webhooks during the ${labelOf(size)} campaign (workers on)`, value: `${formatNumber(result.webhookRps)} req/s, p99 ${result.webhookP99Ms} ms` });
  }
  if (scores) {
    summary.scoreIntakeRps = rounded(scores.load.rps, 0);
    summary.scoreIntakeP99Ms = scores.load.p99Ms;
    summary.scoreIntakeRpsWithWriteBack = rounded(scores.loadWithWriteBack.rps, 0);
    summary.scoreIntakeP99MsWithWriteBack = scores.loadWithWriteBack.p99Ms;
    summary.scoreCallsPerStored = rounded(scores.callsPerStored, 4);
    summary.scoresStored = scores.stored;
    summary.scoreMissingAfterKill = scores.missing;
    intakeRows.push(...intakeFigures('score intake (workers off)', 'scoreIntake', scores.load, scores.found, scores.acknowledged, scores.missing));
    intakeRows.push({ figure: 'score intake during write-back (workers on)', value: `${formatNumber(scores.loadWithWriteBack.rps)} req/s, p99 ${scores.loadWithWriteBack.p99Ms} ms` });
    intakeRows.push({ figure: `Emarsys calls per stored score (${scores.stored} stored)`, value: scores.callsPerStored.toFixed(4), target: `<= ${TARGET.scoreCallsPerStored}`,
      met: check('scoreCallsPerStored', scores.callsPerStored <= TARGET.scoreCallsPerStored) });
  }
  if (Object.keys(profiles).length) {
    summary.profileTop = Object.fromEntries(Object.entries(profiles).map(([name, profile]) => [name, profile.topFunctions.slice(0, 5).map(entry => `${entry.percent}% ${entry.name}`)]));
  }

  endProgress();
  printRows('Upstream calls per invited contact', callRows);
  printRows('Completion, first webhook to last event triggered', timeRows);
  printRows('Intake and write-back', intakeRows);
  printRows('Memory of the service', memoryRows);

  const phaseCpu: Array<[string, CpuShare | undefined]> = [
    ['webhookIntake', intake?.load.cpu], ['plainInsert', plain?.load.cpu],
    ...[...campaigns.values()].map(result => [`campaign${result.label}`, result.cpu] as [string, CpuShare]),
    ['scoreIntakeWithWriteBack', scores?.loadWithWriteBack.cpu], ['scoreIntake', scores?.load.cpu]
  ];
  summary.disturbedPhases = phaseCpu.filter(([, cpu]) => cpu && otherShare(cpu) > OTHER_CPU_WARNING_SHARE).map(([name]) => name);
  summary.targetsMissed = missed;
  summary.machine = machine;
  summary.loadAverageAtStart = loadAtStart.map(value => rounded(value, 2));
  summary.startedAt = startedAt.toISOString();
  summary.elapsedSeconds = rounded((Date.now() - startedAt.getTime()) / 1000, 0);
  console.log(`\n${missed.length ? `Targets missed: ${missed.join(', ')}` : 'Every target met.'}`);
  console.log(JSON.stringify(summary));
  const lost = (intake?.missing ?? 0) + (scores?.missing ?? 0);
  process.exit(lost > 0 ? 1 : 0);
}

main().catch(error => {
  endProgress();
  console.error(error);
  process.exit(1);
});
