/**
 * Destinations that point Survey Bridge at the local stand-ins, in the shape of the `destinations`
 * environment variable that @sap-cloud-sdk/connectivity reads.
 */
import type { EmarsysSandbox } from './emarsys';
import type { QualtricsSandbox } from './qualtrics';

export type EmarsysAuthKind = 'oauth' | 'wsse';
export type QualtricsAuthKind = 'token' | 'oauth';

export interface SandboxCredentials {
  emarsysClientId?: string;
  emarsysClientSecret?: string;
  emarsysApiUser?: string;
  emarsysApiSecret?: string;
  qualtricsApiToken?: string;
  qualtricsClientId?: string;
  qualtricsClientSecret?: string;
}

/** Default stand-in credentials; they match the defaults of startEmarsysSandbox and startQualtricsSandbox. */
export const SANDBOX_CREDENTIALS: Required<SandboxCredentials> = {
  emarsysClientId: 'sandbox-client',
  emarsysClientSecret: 'sandbox-client-secret',
  emarsysApiUser: 'sandbox001',
  emarsysApiSecret: 'sandbox-wsse-secret',
  qualtricsApiToken: 'sandbox-api-token',
  qualtricsClientId: 'sandbox-client',
  qualtricsClientSecret: 'sandbox-client-secret'
};

export function sandboxDestinations(
  emarsys: Pick<EmarsysSandbox, 'apiV2Url' | 'apiV3Url' | 'tokenUrl'>,
  qualtrics: Pick<QualtricsSandbox, 'apiUrl' | 'tokenUrl'>,
  kinds: { emarsys?: EmarsysAuthKind; qualtrics?: QualtricsAuthKind } = {},
  overrides: SandboxCredentials = {}
): object[] {
  const credentials = { ...SANDBOX_CREDENTIALS, ...overrides };
  const emarsysDestination = kinds.emarsys === 'wsse'
    ? { name: 'emarsys', url: emarsys.apiV2Url, authentication: 'BasicAuthentication',
        username: credentials.emarsysApiUser, password: credentials.emarsysApiSecret }
    : { name: 'emarsys', url: emarsys.apiV3Url, authentication: 'OAuth2ClientCredentials',
        clientId: credentials.emarsysClientId, clientSecret: credentials.emarsysClientSecret, tokenServiceUrl: emarsys.tokenUrl };
  const qualtricsDestination = kinds.qualtrics === 'oauth'
    ? { name: 'qualtrics', url: qualtrics.apiUrl, authentication: 'OAuth2ClientCredentials',
        clientId: credentials.qualtricsClientId, clientSecret: credentials.qualtricsClientSecret, tokenServiceUrl: qualtrics.tokenUrl,
        scope: 'manage:distributions manage:mailing_list_contacts manage:directories read:surveys' }
    : { name: 'qualtrics', url: qualtrics.apiUrl, authentication: 'NoAuthentication', 'URL.headers.X-API-TOKEN': credentials.qualtricsApiToken };
  return [emarsysDestination, qualtricsDestination];
}

/** Sets the `destinations` variable; the Cloud SDK reads it on every call, so tests may change it at runtime. */
export function useSandboxDestinations(...args: Parameters<typeof sandboxDestinations>): void {
  process.env.destinations = JSON.stringify(sandboxDestinations(...args));
}
