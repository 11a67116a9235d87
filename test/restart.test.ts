/**
 * Kills the service process with SIGKILL in the middle of an invitation batch and starts it again on
 * the same SQLite file: the batch must finish without a second link and without a second mail.
 */
import { startEmarsysSandbox, type EmarsysSandbox } from '../sandbox/emarsys';
import { startQualtricsSandbox, type QualtricsSandbox } from '../sandbox/qualtrics';
import { sandboxDestinations } from '../sandbox/destinations';
import { countOf } from '../scripts/lib/audit-client';
import { deployDatabase, freePort, startService, type ServiceProcess } from '../scripts/lib/service-process';
import { waitFor } from './support/stack';

const WEBHOOK_AUTH = `Basic ${Buffer.from('emarsys-webhook:webhook').toString('base64')}`;

let emarsys: EmarsysSandbox;
let qualtrics: QualtricsSandbox;
let service: ServiceProcess | undefined;

const SERVICE_SETTINGS = {
  bridge: { invitations: { batchSize: 40, flushAgeMs: 1_000, pollMs: 50, leaseMs: 1_500 }, upstream: { baseBackoffMs: 50 } },
  cds: { requires: { queue: { timeout: '2s' } } }
};

async function start(database: string, port: number): Promise<ServiceProcess> {
  return startService({
    database, port, logFile: `${database}.log`,
    destinations: JSON.stringify(sandboxDestinations(emarsys, qualtrics)), ...SERVICE_SETTINGS
  });
}

async function sendWebhooks(url: string, emails: string[]): Promise<void> {
  await Promise.all(emails.map(async email => {
    const response = await fetch(`${url}/inbound/generateLink`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: WEBHOOK_AUTH },
      body: JSON.stringify({ campaign: 'NPS-SANDBOX', email })
    });
    expect(response.status).toBe(202);
  }));
}

beforeEach(async () => {
  emarsys = await startEmarsysSandbox();
  qualtrics = await startQualtricsSandbox({ faults: { latencyMs: 150 } });
});

afterEach(async () => {
  await service?.stop('SIGKILL');
  await emarsys.close();
  await qualtrics.close();
});

async function killAndResume(database: string, killWhen: () => boolean, what: string): Promise<{ emails: string[]; url: string }> {
  await deployDatabase(database, `${database}.log`);
  const port = await freePort();
  service = await start(database, port);
  const emails = Array.from({ length: 40 }, (_, index) => `restart${index}@example.org`);
  for (const email of emails) emarsys.addContact({ '3': email });
  await sendWebhooks(service.url, emails);
  await waitFor(killWhen, 30_000, what);
  await service.stop('SIGKILL');
  service = await start(database, port);
  await waitFor(async () => (await countOf(service!.url, 'SurveyInvitations', "status eq 'eventTriggered'")) === emails.length, 45_000, 'all invitations triggered after the restart');
  return { emails, url: service.url };
}

function linksPerContact(extRef: string): number {
  const contactIds = [...qualtrics.contacts.values()].filter(contact => contact.extRef === extRef).map(contact => contact.id);
  return [...qualtrics.links.values()].filter(link => contactIds.includes(link.contactId)).length;
}

test('kill after distribution request resumes without a second link', async () => {
  const { emails } = await killAndResume('.run/test-restart-distribution.sqlite',
    () => qualtrics.calls.count(call => call.operation === 'distributionCreate') > 0, 'the distribution request');
  // Webhooks that arrive over a second may fill several batches; each batch owns one distribution.
  const distributionsWithLinks = new Set([...qualtrics.links.values()].map(link => link.distributionId));
  expect(qualtrics.distributions.size).toBe(distributionsWithLinks.size);
  for (const email of emails) expect(linksPerContact(email)).toBe(1);
  for (const email of emails) expect(emarsys.mails.filter(mail => mail.externalId === email)).toHaveLength(1);
}, 90_000);

test('kill after trigger resumes without a second mail', async () => {
  const { emails } = await killAndResume('.run/test-restart-trigger.sqlite',
    () => emarsys.calls.count(call => call.operation === 'triggerBatch') > 0, 'the trigger call');
  expect(emarsys.mails).toHaveLength(emails.length);
  const mailedTriggerIds = new Set(emarsys.mails.map(mail => mail.triggerId));
  expect(mailedTriggerIds.size).toBe(emails.length);
  for (const email of emails) expect(linksPerContact(email)).toBe(1);
}, 90_000);
