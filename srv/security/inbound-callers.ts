/**
 * Credentials of the two vendor callers that cannot fetch an XSUAA token. An Emarsys Webhook Node
 * Preset signs an HS256 JWT with a shared secret, and a Qualtrics Web Service task sends Basic auth or
 * an API-key header. The settings live in `cds.requires.inboundCallers.credentials`. In production the
 * user-provided service `survey-bridge-inbound-callers` fills them, so a new secret needs no code change.
 */
import cds from '@sap/cds';
import { createHash, timingSafeEqual } from 'node:crypto';
import jwt from 'jsonwebtoken';

const LOG = cds.log('inbound-auth');

/** Settings for the JWT that an Emarsys Webhook Node Preset sends. */
export interface WebhookJwtSettings {
  /** Shared secret of the preset. A list accepts the old and the new secret during a rotation. */
  jwtSecret?: string | string[];
  /** Expected `aud` claim, checked only when set. */
  audience?: string;
  /** Expected `iss` claim, checked only when set. */
  issuer?: string;
  /** Request header that carries the JWT, as `Bearer <jwt>` or the bare JWT. Default: authorization. */
  header?: string;
  /** Rejects tokens without an `exp` claim unless set to false. Default: true. */
  requireExpiry?: boolean;
  /** Allowed clock difference for `exp` and `nbf`, in seconds. Default: 60. */
  clockToleranceSeconds?: number;
}

/** Settings for the Basic auth user or API key of a Qualtrics Web Service task. */
export interface WorkflowSettings {
  username?: string;
  password?: string | string[];
  apiKey?: string | string[];
  /** Request header that carries the API key. Default: x-api-key. */
  apiKeyHeader?: string;
}

export interface InboundCallerCredentials {
  emarsysWebhook?: WebhookJwtSettings;
  qualtricsWorkflow?: WorkflowSettings;
}

/** Minimum secret length. A shorter secret is ignored with an error log, so its mechanism stays off. */
export const MIN_SECRET_LENGTH = 32;

export const DEFAULT_API_KEY_HEADER = 'x-api-key';

/** Reads the settings on every call, so a test or a rebinding can change them at runtime. */
export function inboundCallerCredentials(): InboundCallerCredentials {
  return ((cds.env.requires as any)?.inboundCallers?.credentials ?? {}) as InboundCallerCredentials;
}

const reportedWeakSecrets = new Set<string>();

/** Returns the configured secrets that are long enough, and logs the setting name of a rejected one once. */
export function usableSecrets(value: string | string[] | undefined, name: string): string[] {
  const secrets = (Array.isArray(value) ? value : [value]).filter((secret): secret is string => typeof secret === 'string' && secret !== '');
  const usable = secrets.filter(secret => secret.length >= MIN_SECRET_LENGTH);
  if (usable.length < secrets.length && !reportedWeakSecrets.has(name)) {
    reportedWeakSecrets.add(name);
    LOG.error(`Ignoring ${name} because it is shorter than ${MIN_SECRET_LENGTH} characters. Set a longer secret in the inbound callers service.`);
  }
  return usable;
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Compares a presented secret with every expected one in constant time. Both sides are hashed to
 * equal-length digests and the loop never stops early, so the timing does not reveal a match.
 */
export function secretMatches(presented: string, expected: string[]): boolean {
  const presentedDigest = sha256(presented);
  let matched = false;
  for (const candidate of expected) {
    if (timingSafeEqual(presentedDigest, sha256(candidate))) matched = true;
  }
  return matched;
}

/** Reason for a rejected credential, sent in the 401 body and logged in place of the credential. */
export type RejectionReason =
  | 'malformed' | 'signature' | 'expired' | 'missing expiry' | 'not yet valid' | 'audience' | 'issuer'
  | 'wrong password' | 'wrong API key';

export type CheckResult = { accepted: true } | { accepted: false; reason: RejectionReason };

/** Returns the JWT a webhook call carries in the configured header, or undefined when there is none. */
export function webhookTokenOf(headers: Record<string, string | string[] | undefined>, settings: WebhookJwtSettings): string | undefined {
  const raw = headers[(settings.header ?? 'authorization').toLowerCase()];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!value) return undefined;
  const match = /^bearer\s+(\S+)$/i.exec(value.trim());
  return match ? match[1] : value.trim();
}

/** Checks whether a token is an HS256 JWT, the kind a Webhook Node Preset signs. XSUAA signs RS256. */
export function isSharedSecretJwt(token: string): boolean {
  const decoded = jwt.decode(token, { complete: true });
  return decoded?.header?.alg === 'HS256';
}

function reasonOf(error: unknown): RejectionReason {
  if (error instanceof jwt.TokenExpiredError) return 'expired';
  if (error instanceof jwt.NotBeforeError) return 'not yet valid';
  const message = String((error as Error)?.message ?? '');
  if (message.startsWith('jwt audience invalid')) return 'audience';
  if (message.startsWith('jwt issuer invalid')) return 'issuer';
  if (message === 'invalid signature') return 'signature';
  return 'malformed';
}

/** Verifies signature, `exp`, `nbf` and, when configured, `aud` and `iss` of a webhook JWT. */
export function verifyWebhookJwt(token: string, settings: WebhookJwtSettings, secrets: string[]): CheckResult {
  let reason: RejectionReason = 'signature';
  for (const secret of secrets) {
    try {
      const payload = jwt.verify(token, secret, {
        algorithms: ['HS256'],
        audience: settings.audience,
        issuer: settings.issuer,
        clockTolerance: settings.clockToleranceSeconds ?? 60
      });
      if (settings.requireExpiry !== false && (typeof payload !== 'object' || typeof payload.exp !== 'number')) {
        return { accepted: false, reason: 'missing expiry' };
      }
      return { accepted: true };
    } catch (error) {
      reason = reasonOf(error);
      // Only a wrong signature means "try the next secret". Every other failure is final.
      if (reason !== 'signature') return { accepted: false, reason };
    }
  }
  return { accepted: false, reason };
}

/** Splits a Basic authorization header into user and password, or returns undefined for any other scheme. */
export function basicCredentialsOf(authorization: string | undefined): { username: string; password: string } | undefined {
  const match = /^basic\s+(\S+)$/i.exec(authorization?.trim() ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const separator = decoded.indexOf(':');
  if (separator < 0) return undefined;
  return { username: decoded.slice(0, separator), password: decoded.slice(separator + 1) };
}
