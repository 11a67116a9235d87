/**
 * Credentials for Emarsys and Qualtrics from BTP destinations, locally from the `destinations`
 * environment variable. Supported destination shapes:
 * - Emarsys API v3: Authentication OAuth2ClientCredentials (clientId, clientSecret, tokenServiceURL).
 * - Emarsys API v2: Authentication BasicAuthentication; User is the API user, Password its secret,
 *   sent as WSSE and never as Basic.
 * - Qualtrics API token: Authentication NoAuthentication with the property URL.headers.X-API-TOKEN.
 * - Qualtrics OAuth: Authentication OAuth2ClientCredentials, with an optional `scope` property.
 */
import cds from '@sap/cds';
import { getDestination, type Destination } from '@sap-cloud-sdk/connectivity';
import { executeHttpRequest } from '@sap-cloud-sdk/http-client';
import { timeout } from '@sap-cloud-sdk/resilience';
import { bridgeConfig } from '../lib/config';
import { recordRoundTrip } from './round-trips';
import { UpstreamError, type Authenticator, type System } from './http';
import { wsseHeader } from './wsse';

const LOG = cds.log('upstream-auth');

interface CachedToken {
  value: string;
  expiresAt: number;
}

const tokens = new Map<string, CachedToken>();

/** Tokens are refreshed this long before `expires_in` runs out. */
const TOKEN_EXPIRY_MARGIN_MS = 60_000;

function property(destination: Destination, name: string): string | undefined {
  const original = (destination.originalProperties ?? {}) as Record<string, any>;
  const value = original[name] ?? (destination as any)[name];
  return value === undefined || value === null ? undefined : String(value);
}

async function resolveDestination(name: string): Promise<Destination> {
  const destination = await getDestination({ destinationName: name, useCache: true });
  if (!destination?.url) {
    throw new UpstreamError(`Destination '${name}' is not configured; create it in the BTP cockpit or set the destinations variable`,
      name as System, 'destination', undefined, undefined, false);
  }
  return destination;
}

function tokenKey(system: System, destination: Destination): string {
  return `${system}|${destination.url}|${destination.clientId ?? ''}`;
}

/**
 * Fetches an OAuth2 client-credentials token, client id and secret in the Basic header as both vendors
 * expect, and records the exchange as a round trip without any credential in it.
 */
async function fetchToken(system: System, destination: Destination): Promise<CachedToken> {
  const tokenUrl = destination.tokenServiceUrl ?? property(destination, 'tokenServiceURL');
  if (!tokenUrl || !destination.clientId || !destination.clientSecret) {
    throw new UpstreamError(`Destination for ${system} uses OAuth2ClientCredentials but lacks tokenServiceURL, clientId or clientSecret`,
      system, 'token', undefined, undefined, false);
  }
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  const scope = property(destination, 'scope');
  if (scope) form.set('scope', scope);
  const basic = Buffer.from(`${destination.clientId}:${destination.clientSecret}`).toString('base64');
  const started = Date.now();
  let status: number | undefined;
  let body: any;
  let failure: string | undefined;
  try {
    const response = await executeHttpRequest(
      { url: tokenUrl, authentication: 'NoAuthentication' },
      {
        method: 'POST', data: form.toString(), middleware: [timeout(bridgeConfig().upstream.timeoutMs)],
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' }
      },
      { fetchCsrfToken: false }
    );
    status = response.status;
    body = response.data;
  } catch (error: any) {
    const response = error?.cause?.response ?? error?.response;
    status = response?.status;
    failure = response ? `token endpoint returned HTTP ${status}` : `token endpoint unreachable: ${error?.cause?.message ?? error?.message}`;
  }
  await recordRoundTrip({
    direction: 'outbound', system, operation: 'token', method: 'POST', path: new URL(tokenUrl).pathname,
    httpStatus: status, durationMs: Date.now() - started, error: failure
  });
  if (failure || typeof body?.access_token !== 'string') {
    const message = `${system} token request failed: ${failure ?? 'no access_token in the reply'}`;
    LOG.error(message);
    // A 4xx from the token endpoint means wrong credentials: retrying cannot help.
    throw new UpstreamError(message, system, 'token', status, undefined, status === undefined || status >= 500 || status === 429);
  }
  const lifetimeSeconds = Number(body.expires_in) > 0 ? Number(body.expires_in) : 3600;
  LOG.info(`${system} token fetched`, { expiresInSeconds: lifetimeSeconds });
  return { value: body.access_token, expiresAt: Date.now() + lifetimeSeconds * 1000 - TOKEN_EXPIRY_MARGIN_MS };
}

async function bearerToken(system: System, destination: Destination): Promise<string> {
  // On BTP the destination service runs the client-credentials flow and hands over the token.
  const provided = destination.authTokens?.find(token => !token.error && token.value);
  if (provided) return provided.value;
  const key = tokenKey(system, destination);
  const cached = tokens.get(key);
  if (cached && cached.expiresAt > Date.now()) return cached.value;
  const fresh = await fetchToken(system, destination);
  tokens.set(key, fresh);
  return fresh.value;
}

/** Offset between the Emarsys clock and ours, learnt from the Date header of a rejected WSSE call. */
let emarsysClockOffsetMs = 0;

/** Emarsys rejects a WSSE Created more than 5 minutes off its own clock. */
const WSSE_WINDOW_MS = 5 * 60_000;

/**
 * Corrects the WSSE clock when the Date header of a 401 shows a skew of more than a minute. Returns
 * true when the offset changed, so one more attempt can succeed.
 */
function correctEmarsysClock(responseHeaders: Record<string, string>): boolean {
  const serverTime = Date.parse(responseHeaders.date ?? '');
  if (!Number.isFinite(serverTime)) return false;
  const offset = serverTime - Date.now();
  if (Math.abs(offset - emarsysClockOffsetMs) < 60_000) return false;
  LOG.warn(`Emarsys clock differs from ours by ${Math.round(offset / 1000)} s; WSSE Created follows the Emarsys clock now`,
    { withinWindow: Math.abs(offset) < WSSE_WINDOW_MS });
  emarsysClockOffsetMs = offset;
  return true;
}

function invalidateToken(system: System, destination: Destination): boolean {
  if (destination.authentication !== 'OAuth2ClientCredentials') return false;
  tokens.delete(tokenKey(system, destination));
  return true;
}

export const emarsysAuth: Authenticator = {
  destination: () => resolveDestination('emarsys'),
  async headers(destination): Promise<Record<string, string>> {
    if (destination.authentication === 'OAuth2ClientCredentials') {
      return { authorization: `Bearer ${await bearerToken('emarsys', destination)}` };
    }
    if (destination.authentication === 'BasicAuthentication' && destination.username && destination.password) {
      return { 'x-wsse': wsseHeader(destination.username, destination.password, new Date(Date.now() + emarsysClockOffsetMs)) };
    }
    throw new UpstreamError('Destination emarsys needs OAuth2ClientCredentials (API v3) or BasicAuthentication with the WSSE API user (API v2)',
      'emarsys', 'destination', undefined, undefined, false);
  },
  invalidate: (destination, responseHeaders) =>
    destination.authentication === 'BasicAuthentication' ? correctEmarsysClock(responseHeaders) : invalidateToken('emarsys', destination)
};

export const qualtricsAuth: Authenticator = {
  destination: () => resolveDestination('qualtrics'),
  async headers(destination): Promise<Record<string, string>> {
    if (destination.authentication === 'OAuth2ClientCredentials') {
      return { authorization: `Bearer ${await bearerToken('qualtrics', destination)}` };
    }
    const apiToken = destination.headers?.['X-API-TOKEN'] ?? property(destination, 'URL.headers.X-API-TOKEN');
    if (apiToken) return { 'x-api-token': apiToken };
    throw new UpstreamError('Destination qualtrics needs the property URL.headers.X-API-TOKEN or OAuth2ClientCredentials',
      'qualtrics', 'destination', undefined, undefined, false);
  },
  invalidate: destination => invalidateToken('qualtrics', destination)
};

/** Forgets cached tokens and the learnt Emarsys clock offset; tests use it after changing credentials. */
export function clearTokenCache(): void {
  tokens.clear();
  emarsysClockOffsetMs = 0;
}
