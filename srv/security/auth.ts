/**
 * CAP authentication middleware (`cds.requires.auth.impl`). Two routes accept the vendor callers' own
 * credentials: POST /inbound/generateLink an HS256 JWT from an Emarsys Webhook Node Preset, and
 * POST /inbound/ingestScore Basic auth or an API-key header from a Qualtrics Web Service task. Every
 * other request goes to CAP's built-in strategy of the configured kind: XSUAA in production, mocked
 * users in development and tests.
 */
import cds from '@sap/cds';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import {
  DEFAULT_API_KEY_HEADER, basicCredentialsOf, inboundCallerCredentials, isSharedSecretJwt, secretMatches, usableSecrets,
  verifyWebhookJwt, webhookTokenOf, type CheckResult, type RejectionReason
} from './inbound-callers';

const LOG = cds.log('inbound-auth');

const WEBHOOK_ROUTE = '/inbound/generateLink';
const SCORE_ROUTE = '/inbound/ingestScore';

/** Users that the vendor credentials represent. Their roles match the @requires of the two actions. */
const WEBHOOK_USER = { id: 'emarsys-webhook', roles: ['WebhookCaller'] };
const WORKFLOW_USER = { id: 'qualtrics-workflow', roles: ['ScoreCaller'] };

/** Built-in kinds that validate bearer tokens. For these, CAP's `auth` logger prints rejected tokens. */
const TOKEN_KINDS = new Set(['xsuaa', 'jwt', 'ias', 'xsuaa-auth', 'jwt-auth', 'ias-auth']);

/** Minimum interval between two log lines for the same caller and reason. Repeats in between are counted. */
const REJECTION_LOG_INTERVAL_MS = 60_000;

type Outcome = { user: typeof WEBHOOK_USER } | { rejected: RejectionReason; challenge: string } | undefined;

/** Logs rejected credentials by caller and reason, with the number of repeats since the last line. */
class RejectionLog {
  private readonly seen = new Map<string, { loggedAt: number; count: number }>();

  record(caller: string, reason: string): void {
    if (!LOG._warn) return;
    const key = `${caller}|${reason}`;
    const now = Date.now();
    const entry = this.seen.get(key);
    if (entry && now - entry.loggedAt < REJECTION_LOG_INTERVAL_MS) {
      entry.count++;
      return;
    }
    LOG.warn(`Rejected ${caller} credentials: ${reason}`, { repeatsSinceLastLog: entry?.count ?? 0 });
    this.seen.set(key, { loggedAt: now, count: 0 });
  }
}

const rejections = new RejectionLog();

function routeOf(req: Request): string | undefined {
  if (req.method !== 'POST') return undefined;
  const path = req.originalUrl.split('?')[0].replace(/\/+$/, '');
  return path === WEBHOOK_ROUTE || path === SCORE_ROUTE ? path : undefined;
}

function outcomeOf(result: CheckResult, user: typeof WEBHOOK_USER, challenge: string): Outcome {
  return result.accepted ? { user } : { rejected: result.reason, challenge };
}

/** Checks an HS256 JWT on the webhook route. Returns undefined when the request carries none. */
function checkWebhook(req: Request): Outcome {
  const settings = inboundCallerCredentials().emarsysWebhook;
  if (!settings) return undefined;
  const secrets = usableSecrets(settings.jwtSecret, 'emarsysWebhook.jwtSecret');
  if (!secrets.length) return undefined;
  const token = webhookTokenOf(req.headers, settings);
  if (!token || !isSharedSecretJwt(token)) return undefined;
  return outcomeOf(verifyWebhookJwt(token, settings, secrets), WEBHOOK_USER, 'Bearer realm="Survey Bridge"');
}

/** Checks the API-key header or the configured Basic user on the score route. Returns undefined when neither is sent. */
function checkWorkflow(req: Request): Outcome {
  const settings = inboundCallerCredentials().qualtricsWorkflow;
  if (!settings) return undefined;
  const keys = usableSecrets(settings.apiKey, 'qualtricsWorkflow.apiKey');
  const header = (settings.apiKeyHeader ?? DEFAULT_API_KEY_HEADER).toLowerCase();
  const presentedKey = req.headers[header];
  if (keys.length && typeof presentedKey === 'string') {
    return outcomeOf(secretMatches(presentedKey, keys) ? { accepted: true } : { accepted: false, reason: 'wrong API key' },
      WORKFLOW_USER, 'Basic realm="Survey Bridge"');
  }
  const passwords = usableSecrets(settings.password, 'qualtricsWorkflow.password');
  const basic = basicCredentialsOf(req.headers.authorization);
  // Basic credentials of other users, such as the mocked users in development, go to the built-in strategy.
  if (!settings.username || !passwords.length || !basic || !secretMatches(basic.username, [settings.username])) return undefined;
  return outcomeOf(secretMatches(basic.password, passwords) ? { accepted: true } : { accepted: false, reason: 'wrong password' },
    WORKFLOW_USER, 'Basic realm="Survey Bridge"');
}

function rejectCall(res: Response, caller: string, reason: RejectionReason, challenge: string): void {
  rejections.record(caller, reason);
  res.set('WWW-Authenticate', challenge).status(401).json({
    error: {
      code: 'UNAUTHORIZED',
      message: `The ${caller} credentials are invalid (${reason}). Check the secret configured for this caller.`
    }
  });
}

/**
 * Factory called by CAP with the merged `cds.requires.auth` options. It builds the built-in strategy
 * of `options.kind` as the fallback, so the same file serves development and production.
 */
export default function surveyBridgeAuth(options: Record<string, any>): RequestHandler {
  const builtIn: RequestHandler = (cds as any).middlewares.auth({ ...options, impl: undefined });
  const tokenKind = TOKEN_KINDS.has(options.kind);
  if (tokenKind) {
    // CAP's `auth` logger warns with the rejected credential itself (the raw token or base64 user:password).
    // Capping it at error keeps credentials out of the logs. Rejections are logged below without them.
    cds.log('auth', 'error');
  }

  return function authenticate(req: Request, res: Response, next: NextFunction) {
    const route = routeOf(req);
    let outcome: Outcome;
    if (route === WEBHOOK_ROUTE) outcome = checkWebhook(req);
    else if (route === SCORE_ROUTE) outcome = checkWorkflow(req);
    if (outcome && 'user' in outcome) {
      const user = new cds.User({ id: outcome.user.id, roles: outcome.user.roles, attr: {} });
      cds.context!.user = user;
      (req as any).user = user;
      return next();
    }
    if (outcome) {
      return rejectCall(res, route === WEBHOOK_ROUTE ? 'Emarsys webhook' : 'Qualtrics workflow', outcome.rejected, outcome.challenge);
    }
    if (!tokenKind) return builtIn(req, res, next);
    builtIn(req, res, (error?: unknown) => {
      if (error === 401 || (error as any)?.status === 401) rejections.record('bearer token', 'failed XSUAA validation');
      next(error);
    });
  };
}
