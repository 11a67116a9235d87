/**
 * The main job: plays an Emarsys program run of N contacts against Survey Bridge and local Emarsys
 * and Qualtrics stand-ins, lets a share of the contacts answer the survey, waits until every
 * invitation and every answer is final, and prints a summary with one JSON line at the end.
 *
 *   npm run demo -- --contacts 1000 --respond-share 0.4 --latency-ms 20 [--keep]
 *
 * Exits with 1 when an invitation is left unfinished or the NPS that Emarsys holds differs from the
 * NPS respondents sent.
 */
import { parseArgs } from 'node:util';
import { startEmarsysSandbox, type MailRecord } from '../sandbox/emarsys';
import { startQualtricsSandbox } from '../sandbox/qualtrics';
import { sandboxDestinations } from '../sandbox/destinations';
import { deployDatabase, freePort, startService } from './lib/service-process';
import { countBy, countOf } from './lib/audit-client';
import { endProgress, printTable, progress } from './lib/progress';

const { values: args } = parseArgs({
  options: {
    contacts: { type: 'string', default: '1000' },
    'respond-share': { type: 'string', default: '0.4' },
    'latency-ms': { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '16' },
    seed: { type: 'string', default: '42' },
    keep: { type: 'boolean', default: false }
  }
});

const CONTACTS = Number(args.contacts);
const RESPOND_SHARE = Number(args['respond-share']);
const LATENCY_MS = Number(args['latency-ms']);
const CONCURRENCY = Number(args.concurrency);
if (!Number.isInteger(CONTACTS) || CONTACTS < 1) throw new Error(`--contacts must be a whole number above 0, got ${args.contacts}`);
if (!(RESPOND_SHARE >= 0 && RESPOND_SHARE <= 1)) throw new Error(`--respond-share must be between 0 and 1, got ${args['respond-share']}`);

const DATABASE = '.run/demo.sqlite';
const LOG_FILE = '.run/demo-service.log';
const CAMPAIGN = 'NPS-SANDBOX';
/** A second campaign that reaches a few contacts again; the global fatigue guard holds them back. */
const FOLLOW_UP_CAMPAIGN = 'NPS-FOLLOWUP';
const GLOBAL_COOLDOWN_DAYS = 30;
const SCORE_FIELD = '10001';
const WEBHOOK_AUTH = `Basic ${Buffer.from('emarsys-webhook:webhook').toString('base64')}`;
const WORKFLOW_AUTH = `Basic ${Buffer.from('qualtrics-workflow:workflow').toString('base64')}`;
/** Relative weights of the answers 0 to 10, shaped like a typical B2C NPS survey. */
const NPS_WEIGHTS = [3, 2, 2, 3, 3, 5, 7, 12, 18, 20, 25];

/** Small deterministic generator (mulberry32), so two runs with the same seed play the same campaign. */
function randomGenerator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

const random = randomGenerator(Number(args.seed));

function weightedScore(): number {
  const total = NPS_WEIGHTS.reduce((sum, weight) => sum + weight, 0);
  let pick = random() * total;
  for (let score = 0; score < NPS_WEIGHTS.length; score++) {
    pick -= NPS_WEIGHTS[score];
    if (pick < 0) return score;
  }
  return 10;
}

/** Net Promoter Score: promoters percent minus detractors percent, one decimal. */
function npsOf(scores: number[]): number {
  if (!scores.length) return 0;
  const promoters = scores.filter(score => score >= 9).length;
  const detractors = scores.filter(score => score <= 6).length;
  return Math.round(((promoters - detractors) / scores.length) * 1000) / 10;
}

interface Contact {
  email: string;
  firstName: string;
  inEmarsys: boolean;
  repeated: boolean;
}

function population(): Contact[] {
  const firstNames = ['Erika', 'Max', 'Lena', 'Jonas', 'Mia', 'Paul', 'Emma', 'Luis'];
  return Array.from({ length: CONTACTS }, (_, index) => ({
    email: `contact${String(index).padStart(6, '0')}@example.org`,
    firstName: firstNames[index % firstNames.length],
    inEmarsys: random() >= 0.03,
    repeated: random() < 0.05
  }));
}

async function callWebhook(serviceUrl: string, contact: Contact, campaign = CAMPAIGN): Promise<number> {
  const response = await fetch(`${serviceUrl}/inbound/generateLink`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: WEBHOOK_AUTH },
    body: JSON.stringify({
      campaign, email: contact.email, first_name: contact.firstName, language: 'en',
      event_time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'), scenario: 'nps_invite'
    })
  });
  await response.arrayBuffer();
  return response.status;
}

async function runPool<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
}

async function main(): Promise<void> {
  const started = Date.now();
  console.log(`Survey Bridge demo: ${CONTACTS} contacts, ${Math.round(RESPOND_SHARE * 100)} % answer, ${LATENCY_MS} ms upstream latency`);
  const emarsys = await startEmarsysSandbox({ faults: { latencyMs: LATENCY_MS } });
  const qualtrics = await startQualtricsSandbox({ faults: { latencyMs: LATENCY_MS } });
  const contacts = population();
  for (const [index, contact] of contacts.entries()) {
    if (contact.inEmarsys) emarsys.addContact({ '3': contact.email, '1': contact.firstName });
    if (index % 50 === 7) qualtrics.seedContact({ extRef: contact.email, email: contact.email, unsubscribed: true });
    else if (index % 100 === 13) qualtrics.seedContact({ extRef: contact.email, email: contact.email, exceededContactFrequency: true });
  }

  progress('Deploying the database and starting the service ...');
  await deployDatabase(DATABASE, LOG_FILE);
  const port = await freePort();
  const service = await startService({
    database: DATABASE, port, logFile: LOG_FILE,
    destinations: JSON.stringify(sandboxDestinations(emarsys, qualtrics)),
    bridge: {
      invitations: { batchSize: 500, flushAgeMs: 1000 }, scores: { batchSize: 1000, flushAgeMs: 1000 },
      fatigue: { globalCooldownDays: GLOBAL_COOLDOWN_DAYS }
    }
  });
  qualtrics.setWorkflow({ url: `${service.url}/inbound/ingestScore`, headers: { authorization: WORKFLOW_AUTH } });

  // Respondents: a share of the mailed contacts open their link and answer; some answer partially,
  // and some answers reach Survey Bridge twice.
  const sentScores: number[] = [];
  const respondents: Promise<void>[] = [];
  let responses = 0;
  let partialAnswers = 0;
  let duplicatesIgnored = 0;
  emarsys.on('mail', (mail: MailRecord) => {
    if (random() >= RESPOND_SHARE) return;
    const partial = random() < 0.05;
    const deliverTwice = random() < 0.05;
    const score = weightedScore();
    const delay = Math.floor(random() * 500);
    respondents.push(new Promise<void>(resolve => setTimeout(resolve, delay)).then(async () => {
      const outcome = await qualtrics.respond(String(mail.data.survey_url), partial ? { partial: true, deliverTwice } : { nps: score, deliverTwice });
      if (!outcome.response) return;
      responses++;
      if (partial) partialAnswers++;
      else sentScores.push(score);
      if (deliverTwice && outcome.deliveries[1]?.status === 200) duplicatesIgnored++;
    }));
  });

  let accepted = 0;
  let rejected = 0;
  const calls = contacts.flatMap(contact => (contact.repeated ? [contact, contact] : [contact]));
  const followUps = contacts.filter((_, index) => index % 33 === 5);
  const ticker = setInterval(async () => {
    try {
      const open = await countOf(service.url, 'SurveyInvitations', "status eq 'received' or status eq 'linkIssued'");
      progress(`webhook calls ${accepted + rejected}/${calls.length + followUps.length}, open invitations ${open}, mails ${emarsys.mails.length}, answers ${responses}`);
    } catch {
      // The next tick shows progress again.
    }
  }, 1000);
  await runPool(calls, CONCURRENCY, async contact => {
    const status = await callWebhook(service.url, contact);
    if (status === 202) accepted++;
    else rejected++;
  });
  await runPool(followUps, CONCURRENCY, async contact => {
    const status = await callWebhook(service.url, contact, FOLLOW_UP_CAMPAIGN);
    if (status === 202) accepted++;
    else rejected++;
  });

  const deadline = Date.now() + Math.max(120_000, CONTACTS * 100);
  let unfinished = Infinity;
  while (Date.now() < deadline) {
    unfinished = await countOf(service.url, 'SurveyInvitations', "status eq 'received' or status eq 'linkIssued'");
    if (unfinished === 0) break;
    await new Promise(resolve => setTimeout(resolve, 500));
  }
  await Promise.all(respondents);
  let pendingScores = Infinity;
  while (Date.now() < deadline) {
    pendingScores = await countOf(service.url, 'ScoreResponses', "status eq 'pending'");
    if (pendingScores === 0) break;
    await new Promise(resolve => setTimeout(resolve, 500));
  }
  clearInterval(ticker);
  endProgress();

  const statuses = await countBy(service.url, 'SurveyInvitations', 'status');
  const scoreStatuses = await countBy(service.url, 'ScoreResponses', 'status');
  const invited = await countOf(service.url, 'SurveyInvitations', `status ne 'suppressedFatigue'`);
  const linksIssued = await countOf(service.url, 'SurveyInvitations', 'linkIssuedAt ne null');
  const eventsTriggered = await countOf(service.url, 'SurveyInvitations', 'eventTriggeredAt ne null');
  const storedScores = [...emarsys.contacts.values()]
    .map(contact => contact.fields[SCORE_FIELD])
    .filter((value): value is string => value !== undefined && value !== null && value !== '')
    .map(Number);
  const upstreamCalls = { emarsys: emarsys.calls.countByOperation(), qualtrics: qualtrics.calls.countByOperation() };
  const summary = {
    invited,
    webhookCalls: calls.length + followUps.length,
    linksIssued,
    eventsTriggered,
    suppressed: (statuses.suppressedUnsubscribed ?? 0) + (statuses.suppressedFrequency ?? 0),
    suppressedFatigue: statuses.suppressedFatigue ?? 0,
    contactNotFound: statuses.contactNotFound ?? 0,
    linkNotFound: statuses.linkNotFound ?? 0,
    failed: statuses.failed ?? 0,
    unfinished,
    responses,
    invalidAnswers: scoreStatuses.invalid ?? 0,
    duplicatesIgnored,
    scoresStored: scoreStatuses.stored ?? 0,
    npsSent: npsOf(sentScores),
    npsStored: npsOf(storedScores),
    duplicateTriggers: emarsys.duplicateTriggers(),
    upstreamCalls,
    elapsedSeconds: Math.round((Date.now() - started) / 100) / 10
  };

  printTable('Invitations', [
    ['webhook calls', summary.webhookCalls], ['invited contacts', summary.invited], ['links issued', summary.linksIssued],
    ['events triggered', summary.eventsTriggered], ['suppressed by Qualtrics', summary.suppressed],
    [`suppressed by the ${GLOBAL_COOLDOWN_DAYS}-day cooldown`, summary.suppressedFatigue], ['not in Emarsys', summary.contactNotFound],
    ['failed', summary.failed], ['unfinished', summary.unfinished]
  ]);
  printTable('Answers', [
    ['responses', summary.responses], ['partial answers', partialAnswers], ['invalid answers stored', summary.invalidAnswers],
    ['duplicate deliveries ignored', summary.duplicatesIgnored], ['scores stored in Emarsys', summary.scoresStored],
    ['NPS sent', summary.npsSent], ['NPS in Emarsys', summary.npsStored]
  ]);
  printTable('Upstream calls', [
    ...Object.entries(upstreamCalls.qualtrics).map(([operation, count]) => [`qualtrics ${operation}`, count] as [string, number]),
    ...Object.entries(upstreamCalls.emarsys).map(([operation, count]) => [`emarsys ${operation}`, count] as [string, number])
  ]);
  console.log(`\nService log: ${LOG_FILE}; database: ${DATABASE}`);

  const problems: string[] = [];
  if (summary.unfinished !== 0) problems.push(`${summary.unfinished} invitations are not final`);
  if (pendingScores !== 0) problems.push(`${pendingScores} scores are still pending`);
  if (summary.npsSent !== summary.npsStored) problems.push(`NPS sent (${summary.npsSent}) differs from NPS in Emarsys (${summary.npsStored})`);
  if (summary.duplicateTriggers !== 0) problems.push(`${summary.duplicateTriggers} trigger_ids reached Emarsys more than once`);
  for (const problem of problems) console.error(`FAILED: ${problem}`);

  if (args.keep) {
    console.log(`\nThe service keeps running at ${service.url} (audit UI: ${service.url}/audit/webapp/index.html, user admin/admin). Press Ctrl+C to stop.`);
    console.log(JSON.stringify(summary));
    await new Promise<void>(resolve => process.once('SIGINT', () => resolve()));
  } else {
    console.log(JSON.stringify(summary));
  }
  await service.stop();
  await emarsys.close();
  await qualtrics.close();
  process.exit(problems.length ? 1 : 0);
}

main().catch(error => {
  endProgress();
  console.error(error);
  process.exit(1);
});
