/**
 * Kill-and-restart run: two Survey Bridge instances share one SQLite file while a campaign of N
 * contacts flows through both flows. Instances are killed with SIGKILL at random moments and right
 * after they send a distribution request or a trigger, then started again. The run ends when every
 * accepted call is final and prints one JSON line:
 * accepted, final, lost, duplicateTriggers, duplicateWrites, restarts.
 *
 *   npm run chaos -- --contacts 10000 --respond-share 0.2
 */
import { parseArgs } from 'node:util';
import { DatabaseSync } from 'node:sqlite';
import path from 'node:path';
import { startEmarsysSandbox } from '../sandbox/emarsys';
import { startQualtricsSandbox } from '../sandbox/qualtrics';
import { sandboxDestinations } from '../sandbox/destinations';
import { ROOT, deployDatabase, freePort, startService, type ServiceProcess } from './lib/service-process';
import { endProgress, printTable, progress } from './lib/progress';

const { values: args } = parseArgs({
  options: {
    contacts: { type: 'string', default: '10000' },
    'respond-share': { type: 'string', default: '0.2' },
    'latency-ms': { type: 'string', default: '10' },
    'kill-every-ms': { type: 'string', default: '4000' },
    'timeout-minutes': { type: 'string', default: '20' }
  }
});

const CONTACTS = Number(args.contacts);
const RESPOND_SHARE = Number(args['respond-share']);
const KILL_EVERY_MS = Number(args['kill-every-ms']);
const DATABASE = '.run/chaos.sqlite';
const LOG_FILE = '.run/chaos-service.log';
const WEBHOOK_AUTH = `Basic ${Buffer.from('emarsys-webhook:webhook').toString('base64')}`;
const WORKFLOW_AUTH = `Basic ${Buffer.from('qualtrics-workflow:workflow').toString('base64')}`;
const FINAL_STATUSES = new Set(['suppressedUnsubscribed', 'suppressedFrequency', 'suppressedFatigue', 'linkNotFound', 'eventTriggered',
  'contactNotFound', 'failed', 'responded', 'scoreStored']);

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

interface Instance {
  name: string;
  port: number;
  process?: ServiceProcess;
  starting?: Promise<void>;
}

async function main(): Promise<void> {
  const started = Date.now();
  console.log(`Chaos run: ${CONTACTS} contacts, two instances on ${DATABASE}, SIGKILL about every ${KILL_EVERY_MS} ms`);
  const emarsys = await startEmarsysSandbox({ faults: { latencyMs: Number(args['latency-ms']) } });
  const qualtrics = await startQualtricsSandbox({ faults: { latencyMs: Number(args['latency-ms']) } });
  const emails = Array.from({ length: CONTACTS }, (_, index) => `chaos${String(index).padStart(6, '0')}@example.org`);
  emails.forEach((email, index) => {
    if (index % 40 !== 3) emarsys.addContact({ '3': email });
    if (index % 50 === 7) qualtrics.seedContact({ extRef: email, email, unsubscribed: true });
  });

  await deployDatabase(DATABASE, LOG_FILE);
  const destinations = JSON.stringify(sandboxDestinations(emarsys, qualtrics));
  const settings = {
    bridge: { invitations: { batchSize: 500, flushAgeMs: 500, leaseMs: 5_000 }, scores: { batchSize: 1000, flushAgeMs: 500, leaseMs: 5_000 } },
    cds: { requires: { queue: { timeout: '6s' } } }
  };
  const instances: Instance[] = [{ name: 'A', port: await freePort() }, { name: 'B', port: await freePort() }];
  const start = (instance: Instance) => {
    instance.starting = startService({ database: DATABASE, port: instance.port, destinations, logFile: LOG_FILE, ...settings })
      .then(process => {
        instance.process = process;
        instance.starting = undefined;
      });
    return instance.starting;
  };
  await Promise.all(instances.map(start));

  let kills = 0;
  let restarts = 0;
  let stopping = false;
  const kill = async (instance: Instance, reason: string) => {
    if (stopping || !instance.process || instance.starting) return;
    const victim = instance.process;
    instance.process = undefined;
    kills++;
    await victim.stop('SIGKILL');
    progress(`killed instance ${instance.name} (${reason})`);
    await sleep(300 + Math.random() * 1200);
    if (stopping) return;
    await start(instance);
    restarts++;
  };
  const randomInstance = () => instances[Math.floor(Math.random() * instances.length)];
  const killer = setInterval(() => void kill(randomInstance(), 'timer'), KILL_EVERY_MS);
  // Kills right after a link request or a trigger reached the stand-ins hit the windows between an
  // upstream call and the status update that records it.
  let observedDistributions = 0;
  let observedTriggers = 0;
  const targeted = setInterval(() => {
    const distributions = qualtrics.calls.count(call => call.operation === 'distributionCreate');
    const triggers = emarsys.calls.count(call => call.operation === 'triggerBatch');
    if (distributions > observedDistributions && Math.random() < 0.3) void kill(randomInstance(), 'after a distribution request');
    else if (triggers > observedTriggers && Math.random() < 0.3) void kill(randomInstance(), 'after a trigger');
    observedDistributions = distributions;
    observedTriggers = triggers;
  }, 20);

  // The workflow reaches whichever instance is up; Qualtrics retries refused connections and 5xx.
  const liveUrl = () => instances.find(instance => instance.process)?.process?.url ?? `http://127.0.0.1:${instances[0].port}`;
  const respondents: Promise<unknown>[] = [];
  const sentScores = new Map<string, number>();
  emarsys.on('mail', mail => {
    if (Math.random() >= RESPOND_SHARE) return;
    const score = Math.floor(Math.random() * 11);
    qualtrics.setWorkflow({ url: `${liveUrl()}/inbound/ingestScore`, headers: { authorization: WORKFLOW_AUTH }, retryForMs: 15 * 60_000 });
    sentScores.set(mail.externalId, score);
    respondents.push(qualtrics.respond(String(mail.data.survey_url), { nps: score }));
  });

  // Intake: an Emarsys program redelivers a webhook call until it is acknowledged.
  const accepted = new Map<string, string>();
  let attempts = 0;
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < emails.length) {
      const email = emails[next++];
      for (;;) {
        attempts++;
        try {
          const response = await fetch(`${liveUrl()}/inbound/generateLink`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: WEBHOOK_AUTH },
            body: JSON.stringify({ campaign: 'NPS-SANDBOX', email })
          });
          const body = (await response.json()) as { invitationId?: string };
          if (response.status === 202 && body.invitationId) {
            accepted.set(email, body.invitationId);
            break;
          }
        } catch {
          // The instance was killed mid-request; the call is sent again.
        }
        await sleep(100);
      }
      if (accepted.size % 500 === 0) progress(`accepted ${accepted.size}/${CONTACTS} webhook calls, kills ${kills}`);
    }
  }));

  const db = new DatabaseSync(path.join(ROOT, DATABASE), { readOnly: true, timeout: 10_000 } as any);
  const deadline = Date.now() + Number(args['timeout-minutes']) * 60_000;
  let finalCount = 0;
  let pendingScores = 0;
  for (;;) {
    const rows = db.prepare('select ID, status from surveybridge_SurveyInvitations').all() as Array<{ ID: string; status: string }>;
    const statusById = new Map(rows.map(row => [row.ID, row.status]));
    finalCount = [...accepted.values()].filter(id => FINAL_STATUSES.has(statusById.get(id) ?? '')).length;
    pendingScores = (db.prepare("select count(1) as count from surveybridge_ScoreResponses where status = 'pending'").get() as any).count;
    progress(`final ${finalCount}/${accepted.size}, mails ${emarsys.mails.length}, answers ${sentScores.size}, pending scores ${pendingScores}, kills ${kills}`);
    const respondentsDone = (await Promise.race([Promise.all(respondents).then(() => true), sleep(0).then(() => false)]));
    if (finalCount === accepted.size && pendingScores === 0 && respondentsDone) break;
    if (Date.now() > deadline) break;
    await sleep(1000);
  }
  stopping = true;
  clearInterval(killer);
  clearInterval(targeted);
  endProgress();

  const stored = new Set((db.prepare('select ID from surveybridge_SurveyInvitations').all() as Array<{ ID: string }>).map(row => row.ID));
  const lost = [...accepted.values()].filter(id => !stored.has(id)).length;
  const mailsPerTrigger = new Map<string, number>();
  for (const mail of emarsys.mails) mailsPerTrigger.set(String(mail.triggerId), (mailsPerTrigger.get(String(mail.triggerId)) ?? 0) + 1);
  const duplicateTriggers = [...mailsPerTrigger.values()].filter(count => count > 1).length;
  const writesPerContact = new Map<string, number>();
  for (const update of emarsys.contactUpdates) writesPerContact.set(update.contactId, (writesPerContact.get(update.contactId) ?? 0) + 1);
  const duplicateWrites = [...writesPerContact.values()].filter(count => count > 1).length;
  const scoreStatuses = Object.fromEntries((db.prepare('select status, count(1) as count from surveybridge_ScoreResponses group by status').all() as any[])
    .map(row => [row.status, row.count]));
  const summary = {
    contacts: CONTACTS,
    webhookAttempts: attempts,
    accepted: accepted.size,
    final: finalCount,
    lost,
    duplicateTriggers,
    triggerRedeliveries: emarsys.duplicateTriggers(),
    duplicateWrites,
    answers: sentScores.size,
    scores: scoreStatuses,
    pendingScores,
    kills,
    restarts,
    elapsedSeconds: Math.round((Date.now() - started) / 100) / 10
  };
  printTable('Chaos run', [
    ['webhook attempts', attempts], ['accepted', summary.accepted], ['final', summary.final], ['lost', lost],
    ['contacts mailed twice', duplicateTriggers], ['trigger_ids redelivered (no second mail)', summary.triggerRedeliveries],
    ['contacts with a second field write', duplicateWrites], ['answers', summary.answers], ['kills', kills], ['restarts', restarts]
  ]);
  // An instance that is still starting after a kill is waited for, so no server outlives the run.
  await Promise.all(instances.map(async instance => {
    await instance.starting?.catch(() => undefined);
    await instance.process?.stop('SIGTERM');
  }));
  await emarsys.close();
  await qualtrics.close();
  console.log(JSON.stringify(summary));
  const ok = lost === 0 && finalCount === accepted.size && duplicateTriggers === 0 && duplicateWrites === 0 && pendingScores === 0;
  process.exit(ok ? 0 : 1);
}

main().catch(error => {
  endProgress();
  console.error(error);
  process.exit(1);
});
