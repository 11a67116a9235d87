/**
 * Builds the deployable app with `npm run build` and starts gen/srv as Cloud Foundry would: NODE_ENV
 * production and a VCAP_SERVICES binding. The XSUAA binding points at an HTTPS stand-in on loopback
 * that publishes the key of a test RSA key pair, so @sap/xssec validates tokens signed here exactly as
 * it validates real XSUAA tokens. A SQLite file, deployed with the seed data as the HDI deployer
 * would deploy it, replaces HANA.
 */
import { execFileSync, execSync, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import jwt from 'jsonwebtoken';

const ROOT = path.join(__dirname, '..');
const GEN_SRV = path.join(ROOT, 'gen', 'srv');
const XSAPPNAME = 'survey-bridge!t1';
const CLIENT_ID = 'sb-survey-bridge!t1';
const KEY_ID = 'test-key';
const BROKEN_ZONE = 'zone-with-failing-keys';
const WEBHOOK_SECRET = 'built-server-webhook-secret-0123456789ab';

let workDir: string;
let databaseFile: string;
let jwks: https.Server;
let jwksUrl: string;
let signingKey: KeyObject;
let server: ChildProcess;
let baseUrl: string;
const serverOutput: string[] = [];

function makeTlsCertificate(dir: string): { key: string; cert: string } {
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', path.join(dir, 'tls-key.pem'), '-out', path.join(dir, 'tls-cert.pem')
  ], { stdio: 'ignore' });
  return { key: fs.readFileSync(path.join(dir, 'tls-key.pem'), 'utf8'), cert: fs.readFileSync(path.join(dir, 'tls-cert.pem'), 'utf8') };
}

/** Serves the token keys that XSUAA publishes at /token_keys; the broken zone gets a 500 instead. */
function startJwks(tls: { key: string; cert: string }, publicKey: KeyObject): Promise<https.Server> {
  const published = { ...publicKey.export({ format: 'jwk' }), kid: KEY_ID, alg: 'RS256', use: 'sig' };
  const jwksServer = https.createServer(tls, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    if (url.pathname !== '/token_keys') return void res.writeHead(404).end();
    if (url.searchParams.get('zid') === BROKEN_ZONE) return void res.writeHead(500).end('key store unavailable');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [published] }));
  });
  return new Promise(resolve => jwksServer.listen(0, '127.0.0.1', () => resolve(jwksServer)));
}

/** Signs a client-credentials token like XSUAA issues it to a technical client of this app. */
function xsuaaToken(scopes: string[], options: { key?: KeyObject; zid?: string; expiresIn?: number; audience?: string[] } = {}): string {
  const now = Math.floor(Date.now() / 1000);
  return jwt.sign({
    jti: 'test', sub: 'sb-caller!t1', client_id: 'sb-caller!t1', cid: 'sb-caller!t1', azp: 'sb-caller!t1', grant_type: 'client_credentials',
    scope: scopes, aud: options.audience ?? [XSAPPNAME, 'sb-caller!t1'], zid: options.zid ?? 'test-zone', iss: `${jwksUrl}/oauth/token`,
    iat: now, exp: now + (options.expiresIn ?? 600)
  }, (options.key ?? signingKey).export({ format: 'pem', type: 'pkcs1' }) as string, { algorithm: 'RS256', keyid: KEY_ID });
}

function vcapServices(): string {
  return JSON.stringify({
    xsuaa: [{
      label: 'xsuaa', name: 'survey-bridge-auth', tags: ['xsuaa'], plan: 'application',
      credentials: { clientid: CLIENT_ID, clientsecret: 'built-server-client-secret', xsappname: XSAPPNAME, uaadomain: jwksUrl, url: jwksUrl,
        identityzone: 'test-zone', tenantid: 'test-zone', tenantmode: 'dedicated' }
    }],
    'user-provided': [{
      label: 'user-provided', name: 'survey-bridge-inbound-callers', tags: [],
      credentials: { emarsysWebhook: { jwtSecret: WEBHOOK_SECRET } }
    }]
  });
}

/** Starts gen/srv like `npm start` on Cloud Foundry and resolves with its URL once it listens. */
function startBuiltServer(caFile: string): Promise<string> {
  const child = spawn(process.execPath, [require.resolve('@sap/cds/bin/serve.js', { paths: [ROOT] })], {
    cwd: GEN_SRV,
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME,
      NODE_ENV: 'production', PORT: '0', NODE_EXTRA_CA_CERTS: caFile, NODE_OPTIONS: '--disable-warning=ExperimentalWarning',
      VCAP_SERVICES: vcapServices(),
      cds_requires_db: JSON.stringify({ kind: 'sqlite', credentials: { url: databaseFile } }),
      'cds.requires.audit-log.kind': 'audit-log-to-console',
      cds_surveyBridge_workers: 'false'
    },
    stdio: ['ignore', 'pipe', 'pipe']
  });
  server = child;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gen/srv did not start:\n${serverOutput.join('')}`)), 30_000);
    const collect = (chunk: Buffer) => {
      serverOutput.push(chunk.toString());
      const port = /server listening on \{ url: 'http:\/\/localhost:(\d+)' \}/.exec(serverOutput.join(''))?.[1];
      if (port) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${port}`);
      }
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    child.once('exit', code => reject(new Error(`gen/srv exited with ${code}:\n${serverOutput.join('')}`)));
  });
}

async function call(method: string, pathname: string, token?: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${baseUrl}${pathname}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body)
  });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

const scope = (role: string) => `${XSAPPNAME}.${role}`;

beforeAll(async () => {
  execSync('npm run build', { cwd: ROOT, stdio: 'ignore' });
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'survey-bridge-built-'));
  databaseFile = path.join(workDir, 'survey-bridge.sqlite');
  execSync(`npx cds deploy --to sqlite:${databaseFile}`, { cwd: ROOT, stdio: 'ignore' });
  const tls = makeTlsCertificate(workDir);
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  signingKey = pair.privateKey;
  jwks = await startJwks(tls, pair.publicKey);
  jwksUrl = `https://127.0.0.1:${(jwks.address() as AddressInfo).port}`;
  baseUrl = await startBuiltServer(path.join(workDir, 'tls-cert.pem'));
}, 120_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise(resolve => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  await new Promise(resolve => jwks?.close(resolve));
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

describe('build output', () => {
  test('gen/srv holds compiled JavaScript only', () => {
    const files = fs.readdirSync(path.join(GEN_SRV, 'srv'), { recursive: true }) as string[];
    expect(files.filter(file => file.endsWith('.ts') && !file.endsWith('.d.ts'))).toEqual([]);
    expect(files).toContain(path.join('security', 'auth.js'));
    expect(files).toContain('server.js');
  });

  test('gen/srv pins Node.js 22', () => {
    expect(JSON.parse(fs.readFileSync(path.join(GEN_SRV, 'package.json'), 'utf8')).engines.node).toBe('^22');
  });

  test('gen/db holds HDI artifacts', () => {
    expect(fs.existsSync(path.join(ROOT, 'gen', 'db', 'src', 'gen', 'surveybridge.SurveyInvitations.hdbtable'))).toBe(true);
  });
});

describe('built server without a token', () => {
  test('health answers 200', async () => {
    const response = await call('GET', '/health');
    expect(response.status).toBe(200);
  });

  test.each([
    ['POST', '/inbound/generateLink'], ['POST', '/inbound/ingestScore'], ['GET', '/audit/SurveyInvitations'], ['POST', '/admin/purgeExpired']
  ])('%s %s answers 401', async (method, pathname) => {
    const response = await call(method, pathname, undefined, method === 'POST' ? {} : undefined);
    expect(response.status).toBe(401);
  });
});

describe('built server with XSUAA tokens', () => {
  test('WebhookCaller scope may call generateLink', async () => {
    const response = await call('POST', '/inbound/generateLink', xsuaaToken([scope('WebhookCaller')]), { campaign: 'NPS-SANDBOX', email: 'built@example.org' });
    expect(response.status).toBe(202);
  });

  test('ScoreCaller scope may call ingestScore', async () => {
    const response = await call('POST', '/inbound/ingestScore', xsuaaToken([scope('ScoreCaller')]), { responseId: 'R_Built0000001', extRef: 'built@example.org', nps: '7' });
    expect(response.status).toBe(202);
  });

  test('AuditViewer scope may read invitations', async () => {
    const response = await call('GET', '/audit/SurveyInvitations', xsuaaToken([scope('AuditViewer')]));
    expect(response.status).toBe(200);
    expect(JSON.parse(response.text).value.length).toBeGreaterThan(0);
  });

  test('Admin scope may run the purge', async () => {
    const response = await call('POST', '/admin/purgeExpired', xsuaaToken([scope('Admin')]), {});
    expect(response.status).toBe(200);
  });

  test('WebhookCaller scope cannot read the audit trail', async () => {
    const response = await call('GET', '/audit/SurveyInvitations', xsuaaToken([scope('WebhookCaller')]));
    expect(response.status).toBe(403);
  });

  test('AuditViewer scope cannot call generateLink', async () => {
    const response = await call('POST', '/inbound/generateLink', xsuaaToken([scope('AuditViewer')]), { campaign: 'NPS-SANDBOX', email: 'viewer@example.org' });
    expect(response.status).toBe(403);
  });

  test('token without scopes gets 403', async () => {
    const response = await call('POST', '/inbound/generateLink', xsuaaToken([]), { campaign: 'NPS-SANDBOX', email: 'none@example.org' });
    expect(response.status).toBe(403);
  });

  test('scope of another app gets 403', async () => {
    const token = xsuaaToken(['other-app!t9.WebhookCaller'], { audience: [XSAPPNAME, 'other-app!t9'] });
    const response = await call('POST', '/inbound/generateLink', token, { campaign: 'NPS-SANDBOX', email: 'foreign@example.org' });
    expect(response.status).toBe(403);
  });

  test('token signed with another key gets 401', async () => {
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const response = await call('GET', '/audit/SurveyInvitations', xsuaaToken([scope('AuditViewer')], { key: stranger }));
    expect(response.status).toBe(401);
  });

  test('expired token gets 401', async () => {
    const response = await call('GET', '/audit/SurveyInvitations', xsuaaToken([scope('AuditViewer')], { expiresIn: -600 }));
    expect(response.status).toBe(401);
  });

  test('failing key store answers 500 without details', async () => {
    const response = await call('GET', '/audit/SurveyInvitations', xsuaaToken([scope('AuditViewer')], { zid: BROKEN_ZONE }));
    expect(response.status).toBe(500);
    expect(response.text).not.toContain('key store unavailable');
    expect(response.text).not.toMatch(/\bat .+\.js:\d+/);
  });
});

describe('built server with inbound caller secrets', () => {
  test('webhook JWT from the user-provided service is accepted', async () => {
    const token = jwt.sign({ sub: 'emarsys' }, WEBHOOK_SECRET, { algorithm: 'HS256', expiresIn: 300 });
    const response = await call('POST', '/inbound/generateLink', token, { campaign: 'NPS-SANDBOX', email: 'preset@example.org' });
    expect(response.status).toBe(202);
  });
});

describe('built server responses and logs', () => {
  test('responses carry HSTS', async () => {
    const response = await call('GET', '/health');
    expect(response.headers.get('strict-transport-security')).toMatch(/^max-age=\d+/);
  });

  test('error bodies carry no stack', async () => {
    const response = await fetch(`${baseUrl}/audit/Campaigns`, {
      method: 'POST', headers: { authorization: `Bearer ${xsuaaToken([scope('Admin')])}`, 'content-type': 'application/json' }, body: '{"code": '
    });
    const text = await response.text();
    expect(response.status).toBe(400);
    expect(text).not.toMatch(/\bat .+\.js:\d+/);
  });

  test('rejected credentials never reach the log', async () => {
    const forged = xsuaaToken([scope('Admin')], { key: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey });
    const basic = Buffer.from('emarsys-webhook:some-password-value').toString('base64');
    const failing = xsuaaToken([scope('AuditViewer')], { zid: BROKEN_ZONE });
    await call('GET', '/audit/SurveyInvitations', forged);
    await call('GET', '/audit/SurveyInvitations', undefined, undefined, { authorization: `Basic ${basic}` });
    await call('GET', '/audit/SurveyInvitations', failing);
    await new Promise(resolve => setTimeout(resolve, 300));
    const log = serverOutput.join('');
    expect(log).toContain('Rejected bearer token credentials');
    for (const secret of [forged, forged.split('.')[2], basic, failing, WEBHOOK_SECRET]) expect(log).not.toContain(secret);
  });
});
