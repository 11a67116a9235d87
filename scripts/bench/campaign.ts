/**
 * One Survey Bridge campaign of N contacts against fresh Emarsys and Qualtrics stand-ins: webhooks fed
 * with autocannon over many connections, then a wait until every invitation is final. Upstream calls
 * come from the stand-ins' call logs, the completion time runs from the first webhook to the last
 * successful Emarsys trigger response, and the service's RSS is sampled every 500 ms.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startEmarsysSandbox, type EmarsysSandbox } from '../../sandbox/emarsys';
import { startQualtricsSandbox, type QualtricsSandbox } from '../../sandbox/qualtrics';
import { sandboxDestinations } from '../../sandbox/destinations';
import { ROOT, deployDatabase, freePort, startService, type ServiceProcess } from '../lib/service-process';
import { progress } from '../lib/progress';
import { runLoad } from './load';
import { CpuAccount, RssSampler, type CpuShare } from './rss';
import { BenchDatabase, FINAL_INVITATION_STATUSES, INVITATIONS_TABLE, sumOf } from './database';

export const WEBHOOK_AUTH = `Basic ${Buffer.from('emarsys-webhook:webhook').toString('base64')}`;
export const CAMPAIGN = 'NPS-SANDBOX';
/** Requests per minute that the stand-ins allow: Emarsys per API user, Qualtrics per brand. */
export const EMARSYS_LIMIT_PER_MINUTE = 1_000;
export const QUALTRICS_LIMIT_PER_MINUTE = 3_000;

export interface CampaignOptions {
  contacts: number;
  /** Short name used in file names and progress lines, such as `10k`. */
  label: string;
  latencyMs: number;
  connections: number;
  /** Settings merged into `cds.surveyBridge`. An empty object keeps the product defaults. */
  bridge: Record<string, unknown>;
  timeoutMs: number;
  /** Extra Node.js options for the service, such as --cpu-prof. */
  nodeOptions?: string;
  /** Leaves the stand-ins running and returns them, for the score phase on the same data. */
  keepStandIns?: boolean;
  /**
   * Service instances on the same SQLite file, each with its workers on and its own share of the
   * webhooks, as several Cloud Foundry instances behind the router (default 1).
   */
  instances?: number;
  /** Runs the deployable build in gen/srv instead of the TypeScript sources. */
  built?: boolean;
}

export interface CampaignResult {
  contacts: number;
  label: string;
  database: string;
  logFile: string;
  /** Contacts whose webhook call returned 202. */
  accepted: number;
  /** Webhook calls sent again after autocannon got no 202 for them. */
  webhookResent: number;
  webhookRps: number;
  webhookP99Ms: number;
  /** Invitations per status at the end. */
  statuses: Record<string, number>;
  /** Invitations whose Emarsys event was triggered. */
  invited: number;
  unfinished: number;
  upstreamCalls: number;
  callsByOperation: Record<string, number>;
  /** Upstream calls that a stand-in rejected with 429. */
  rateLimited: number;
  callsPerContact: number;
  /** From the first webhook sent to the last successful Emarsys trigger response, in seconds. */
  completionSeconds: number;
  /** From the first webhook sent to the last webhook response, in seconds. */
  feedSeconds: number;
  instances: number;
  /** Highest RSS of any one instance. */
  peakRssMb: number;
  /** Highest RSS of each instance. */
  peakRssMbByInstance: number[];
  /** Highest RSS of any one instance in each quarter of the run. */
  rssMbByQuartile: number[];
  /** CPU seconds from the first webhook to the end of the wait: service, benchmark process, other processes. */
  cpu: CpuShare;
  emarsys?: EmarsysSandbox;
  qualtrics?: QualtricsSandbox;
}

export function contactEmail(index: number): string {
  return `bench${index}@example.org`;
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/** Sends one webhook call with fetch, for a contact that got no 202 during autocannon's run. */
async function resendWebhook(serviceUrl: string, email: string): Promise<boolean> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const response = await fetch(`${serviceUrl}/inbound/generateLink`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: WEBHOOK_AUTH },
      body: JSON.stringify({ campaign: CAMPAIGN, email })
    });
    await response.arrayBuffer();
    if (response.status === 202) return true;
    await sleep(200);
  }
  return false;
}

/** Returns the time of the last successful Emarsys trigger response, in epoch milliseconds. */
function lastTriggerAnsweredAt(emarsys: EmarsysSandbox): number {
  let last = 0;
  for (const call of emarsys.calls.entries) {
    if ((call.operation === 'triggerBatch' || call.operation === 'trigger') && call.status === 200) last = Math.max(last, call.at + call.ms);
  }
  return last;
}

export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const { contacts, label } = options;
  const emarsys = await startEmarsysSandbox({ faults: { latencyMs: options.latencyMs }, rateLimitPerMinute: EMARSYS_LIMIT_PER_MINUTE });
  const qualtrics = await startQualtricsSandbox({ faults: { latencyMs: options.latencyMs }, rateLimitPerMinute: QUALTRICS_LIMIT_PER_MINUTE });
  for (let index = 0; index < contacts; index++) emarsys.addContact({ '3': contactEmail(index) });

  const database = `.run/bench-campaign-${label}.sqlite`;
  const logFile = `.run/bench-campaign-${label}.log`;
  fs.mkdirSync(path.join(ROOT, '.run'), { recursive: true });
  fs.rmSync(path.join(ROOT, logFile), { force: true });
  await deployDatabase(database, logFile);
  const instanceCount = Math.max(1, Math.min(options.instances ?? 1, contacts));
  const services: ServiceProcess[] = [];
  const stopServices = () => Promise.all(services.map(service => service.stop('SIGTERM')));
  try {
    for (let instance = 0; instance < instanceCount; instance++) {
      services.push(await startService({
        database, port: await freePort(), logFile: instance === 0 ? logFile : logFile.replace(/\.log$/, `-${instance + 1}.log`),
        bridge: options.bridge, nodeOptions: options.nodeOptions, built: options.built, destinations: JSON.stringify(sandboxDestinations(emarsys, qualtrics))
      }));
    }
  } catch (error) {
    await stopServices();
    await emarsys.close();
    await qualtrics.close();
    throw error;
  }
  const samplers = services.map(service => new RssSampler(service.child.pid!));
  const db = new BenchDatabase(database);

  const accepted = new Set<number>();
  const cpuAccount = new CpuAccount(services.map(service => service.child.pid!));
  const started = Date.now();
  const ticker = setInterval(() => {
    const counts = db.countByStatus(INVITATIONS_TABLE);
    const calls = emarsys.calls.entries.length + qualtrics.calls.entries.length;
    const rss = samplers.map(sampler => Math.round(sampler.samples.at(-1)?.mb ?? 0)).join(' + ');
    progress(`  ${label}: webhooks ${accepted.size}/${contacts}, received ${counts.received ?? 0}, linkIssued ${counts.linkIssued ?? 0}, ` +
      `eventTriggered ${counts.eventTriggered ?? 0}, upstream calls ${calls}, RSS ${rss} MB, ${Math.round((Date.now() - started) / 1000)} s`);
  }, 2_000);

  try {
    // Instance k gets the contacts k, k + n, k + 2n, ... and an equal share of the connections.
    const feeds = await Promise.all(services.map((service, instance) => {
      const share = Math.floor((contacts - instance + instanceCount - 1) / instanceCount);
      const contactOf = (index: number) => instance + (index % share) * instanceCount;
      return runLoad({
        label: `${label} webhooks`, url: service.url, path: '/inbound/generateLink', authorization: WEBHOOK_AUTH,
        connections: Math.max(1, Math.min(Math.round(options.connections / instanceCount), share)), amount: share, showProgress: false,
        // A connection that autocannon reopens sends one more request, so numbers past the share wrap
        // around. A repeated call for a contact returns its invitation and creates nothing.
        body: index => JSON.stringify({ campaign: CAMPAIGN, email: contactEmail(contactOf(index)) }),
        onResponse: (status, _body, index) => {
          if (status === 202) accepted.add(contactOf(index));
        }
      });
    }));
    const feedSeconds = (Date.now() - started) / 1000;
    const feed = {
      rps: feeds.reduce((sum, each) => sum + each.rps, 0),
      p99Ms: Math.max(...feeds.map(each => each.p99Ms))
    };
    let webhookResent = 0;
    for (let index = 0; index < contacts; index++) {
      if (accepted.has(index)) continue;
      webhookResent++;
      if (await resendWebhook(services[index % instanceCount].url, contactEmail(index))) accepted.add(index);
    }

    const deadline = started + options.timeoutMs;
    let counts: Record<string, number> = {};
    for (;;) {
      counts = db.countByStatus(INVITATIONS_TABLE);
      if (sumOf(counts, FINAL_INVITATION_STATUSES) >= accepted.size || Date.now() > deadline) break;
      await sleep(250);
    }
    clearInterval(ticker);
    for (const sampler of samplers) sampler.stop();
    const cpu = cpuAccount.read();
    const finishedAt = lastTriggerAnsweredAt(emarsys) || Date.now();
    const callsByOperation: Record<string, number> = {};
    for (const [system, log] of [['emarsys', emarsys.calls], ['qualtrics', qualtrics.calls]] as const) {
      for (const [operation, count] of Object.entries(log.countByOperation())) callsByOperation[`${system} ${operation}`] = count;
    }
    const upstreamCalls = emarsys.calls.entries.length + qualtrics.calls.entries.length;
    const rateLimited = emarsys.calls.count(call => call.status === 429) + qualtrics.calls.count(call => call.status === 429);
    const invited = counts.eventTriggered ?? 0;
    const peakByInstance = samplers.map(sampler => Math.max(0, ...sampler.samples.filter(sample => sample.at >= started).map(sample => sample.mb)));
    return {
      contacts, label, database, logFile,
      accepted: accepted.size, webhookResent, webhookRps: feed.rps, webhookP99Ms: feed.p99Ms,
      statuses: counts, invited,
      unfinished: accepted.size - sumOf(counts, FINAL_INVITATION_STATUSES),
      upstreamCalls, callsByOperation, rateLimited,
      callsPerContact: invited ? upstreamCalls / invited : NaN,
      completionSeconds: (finishedAt - started) / 1000,
      feedSeconds,
      instances: instanceCount,
      peakRssMb: Math.max(0, ...peakByInstance),
      peakRssMbByInstance: peakByInstance,
      rssMbByQuartile: [0, 1, 2, 3].map(quarter => Math.max(...samplers.map(sampler => sampler.peakByQuarter(started, finishedAt)[quarter]))),
      cpu,
      ...(options.keepStandIns ? { emarsys, qualtrics } : {})
    };
  } finally {
    clearInterval(ticker);
    for (const sampler of samplers) sampler.stop();
    db.close();
    await stopServices();
    if (!options.keepStandIns) {
      await emarsys.close();
      await qualtrics.close();
    }
  }
}
