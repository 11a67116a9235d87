/**
 * Local stand-in for the Qualtrics API v3: XM Directory contacts, contact transactions, generated
 * personal-link distributions and survey responses, plus simulated respondents and the workflow
 * Web Service task that posts each answer to the caller's endpoint.
 *
 * The server binds 127.0.0.1 only and keeps all state in memory. Admin endpoints under `/__sandbox/`
 * need no authentication and are left out of the call log.
 */
import http from 'node:http';
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  BodyTooLargeError,
  CallLog,
  MinuteWindow,
  NO_FAULTS,
  applyFaults,
  close,
  listen,
  readBody,
  sendJson,
  sleep,
  type Faults,
} from './kit';

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

export type LinkType = 'Individual' | 'Multiple' | 'Anonymous';

/** Contact fields a directory compares to find an existing contact when one is created. */
export interface DeduplicationCriteria {
  email: boolean;
  firstName: boolean;
  lastName: boolean;
  externalDataReference: boolean;
  phone: boolean;
}

export interface QualtricsSandboxOptions {
  /** Port to listen on, where 0 picks a free port. */
  port?: number;
  /** Value accepted in the X-API-TOKEN header. */
  apiToken?: string;
  /** OAuth2 client credentials accepted by `POST /oauth2/token`. */
  clientId?: string;
  clientSecret?: string;
  /** Home datacenter of the brand, such as fra1. */
  datacenter?: string;
  /** Datacenter this server pretends to be. A value other than `datacenter` adds meta.notice. */
  servedDatacenter?: string;
  /** Brand-wide maximum of API requests per minute. */
  rateLimitPerMinute?: number;
  /** Links per page of `GET /distributions/{id}/links`. */
  linkPageSize?: number;
  /**
   * Id the links list puts in `contactId`: the mailing-list lookup id (CGC_) or the directory contact id
   * (CID_). NOTE: which one Qualtrics returns is not confirmed, so clients should match on
   * externalDataReference.
   */
  linkContactIdKind?: 'CGC' | 'CID';
  faults?: Partial<Faults>;
  /**
   * Whether 429 responses carry a Retry-After header in seconds. NOTE: whether Qualtrics sends the
   * header is not confirmed, so it is off by default.
   */
  sendRetryAfter?: boolean;
  /**
   * Whether the links list shows `link` for unsubscribed or over-frequency contacts ('listed') or sets it
   * to null ('null'). NOTE: the real behaviour is not confirmed. The default lists the link with the flags
   * set, so callers must check `unsubscribed` and `exceededContactFrequency` before sending a link.
   */
  blockedContactLinks?: 'listed' | 'null';
  /** Directory deduplication settings. By default only externalDataReference is compared. */
  deduplicationCriteria?: Partial<DeduplicationCriteria>;
  /**
   * Whether CreateTransactionBatchDistribution rejects a body without mailingListId.
   * NOTE: whether Qualtrics requires the field for this action is not confirmed.
   */
  requireBatchMailingListId?: boolean;
  /**
   * Link lifetime in days when a distribution has no expirationDate. NOTE: the API default is not
   * confirmed, so this uses the 60 days that the Qualtrics UI sets for personal links.
   */
  defaultLinkExpiryDays?: number;
  /** Lifetime of OAuth access tokens in seconds. Qualtrics issues one-hour tokens. */
  tokenLifetimeSeconds?: number;
  /** Time until a transaction contact import reports 100 percent complete, default 100 ms. */
  importDurationMs?: number;
  /** Most contacts one transaction contact import accepts, default 10,000. */
  maxImportContacts?: number;
  /** Receiver of log lines about workflow retries and unexpected errors. Nothing is logged when unset. */
  log?: (line: string) => void;
}

export interface QualtricsContact {
  /** Directory contact id, CID_ followed by 15 characters. */
  id: string;
  /** Mailing-list membership id, CGC_ followed by 15 characters. */
  lookupId: string;
  directoryId: string;
  mailingListId: string;
  extRef?: string;
  email?: string;
  phone?: string;
  firstName?: string;
  lastName?: string;
  language?: string;
  embeddedData: Record<string, string>;
  unsubscribed: boolean;
  exceededContactFrequency: boolean;
}

export interface IssuedLink {
  token: string;
  url: string;
  distributionId: string;
  surveyId: string;
  /** Directory contact id (CID_) of the recipient. */
  contactId: string;
  transactionId?: string;
  expiresAt: string;
  used: boolean;
  /** Link type. Individual links accept one response, Multiple and Anonymous links any number. */
  linkType: LinkType;
}

export interface SurveyResponse {
  responseId: string;
  surveyId: string;
  values: Record<string, unknown>;
}

export interface WorkflowTask {
  /** Loopback URL that receives the JSON POST. */
  url: string;
  headers?: Record<string, string>;
  /** Timeout per attempt in milliseconds. Qualtrics uses 16 seconds. */
  timeoutMs?: number;
  /** How long 429, 5xx, network errors and timeouts are retried, in milliseconds. */
  retryForMs?: number;
  /** Question id of the NPS question in response values. */
  npsQuestionId?: string;
}

export interface RespondAnswer {
  /** Score 0..10. Other values are sent as given in the workflow body but are not recorded. */
  nps?: number | string | null;
  /** Records an unfinished response without the NPS answer. */
  partial?: boolean;
  /** Sends the workflow request a second time, as Qualtrics sometimes delivers twice. */
  deliverTwice?: boolean;
}

/** Final outcome of one workflow delivery. Status 0 means no HTTP response (network error or timeout). */
export interface WorkflowDelivery {
  status: number;
  attempts: number;
}

export interface RespondOutcome {
  response?: SurveyResponse;
  rejected?: 'unknown' | 'used' | 'expired';
  deliveries: WorkflowDelivery[];
}

export interface QualtricsSandbox {
  url: string;
  /** `${url}/API/v3/` */
  apiUrl: string;
  /** `${url}/oauth2/token` */
  tokenUrl: string;
  /**
   * Operations: token, whoami, directoryList, directoryGet, mailingListGet, contactCreate, contactSearch,
   * transactionsCreate, transactionBatchCreate, distributionCreate, distributionList, linksList,
   * surveyGet, responseGet, other.
   */
  calls: CallLog;
  directoryId: string;
  mailingListId: string;
  surveyId: string;
  /** Contacts by directory contact id (CID_). */
  contacts: Map<string, QualtricsContact>;
  /** Issued links by token. */
  links: Map<string, IssuedLink>;
  distributions: Map<string, any>;
  responses: Map<string, SurveyResponse>;
  /** Creates a contact, or updates the contact with the same extRef, without an API call. */
  seedContact(contact: Partial<QualtricsContact> & { extRef: string }): QualtricsContact;
  markUnsubscribed(extRef: string): void;
  markExceededFrequency(extRef: string): void;
  /** Adds or updates a survey and returns its id. */
  addSurvey(options?: { id?: string; active?: boolean; name?: string }): string;
  resolveLink(url: string): IssuedLink | undefined;
  setWorkflow(task: WorkflowTask | undefined): void;
  /** Simulates a respondent who opens `url` and answers, then fires the workflow task if one is set. */
  respond(url: string, answer: RespondAnswer): Promise<RespondOutcome>;
  setFaults(faults: Partial<Faults>): void;
  setOptions(options: Partial<QualtricsSandboxOptions>): void;
  close(): Promise<void>;
}

/**
 * Error codes in `meta.error.errorCode`. NOTE: ATP_2 and DCD_7 with their messages appear in responses
 * captured by third-party Qualtrics clients. Qualtrics publishes no code table, so the other codes are
 * placeholders, and clients should branch on the HTTP status.
 */
export const QUALTRICS_ERROR_CODES = {
  missingAuthorization: 'ATP_2',
  unrecognizedToken: 'DCD_7',
  invalidRequest: 'QVAL_1',
  notFound: 'RNF_1',
  bodyTooLarge: 'QVAL_413',
  tooManyRequests: 'RATE_1',
  internalError: 'ISE_1',
  temporaryError: 'TISE_1',
  gatewayTimeout: 'GTO_1',
} as const;

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

const CODES = QUALTRICS_ERROR_CODES;

const DEFAULT_DIRECTORY_ID = 'POOL_SANDBOX00001';
const DEFAULT_MAILING_LIST_ID = 'CG_SANDBOX000001';
const DEFAULT_SURVEY_ID = 'SV_SANDBOX000001';
const BRAND_ID = 'sandbox';
const USER_ID = 'UR_SANDBOX000001';

/** Page size of collection calls other than the links list, as documented by Qualtrics. */
const COLLECTION_PAGE_SIZE = 100;
/** NOTE: Qualtrics publishes no JSON body limit, so this value is a placeholder. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;
const MAX_NAME_LENGTH = 200;
const MAX_EMBEDDED_DATA_VALUE_LENGTH = 1024;

const WORKFLOW_TIMEOUT_MS = 16_000;
const WORKFLOW_RETRY_FOR_MS = 60_000;
const WORKFLOW_FIRST_RETRY_DELAY_MS = 200;
const WORKFLOW_MAX_RETRY_DELAY_MS = 5_000;
const DEFAULT_NPS_QUESTION_ID = 'QID1';

const LINK_TYPES: readonly LinkType[] = ['Individual', 'Multiple', 'Anonymous'];
const DISTRIBUTION_ACTIONS = ['CreateDistribution', 'CreateTransactionBatchDistribution'] as const;
type DistributionAction = (typeof DISTRIBUTION_ACTIONS)[number];

/** Reason phrases in `meta.httpStatus`. Qualtrics calls 503 a temporary internal server error. */
const STATUS_REASONS: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  413: 'Request Entity Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Temporary Internal Server Error',
  504: 'Gateway Timeout',
};

const NPS_GROUP_LABELS: Record<1 | 2 | 3, string> = { 1: 'Detractor', 2: 'Passive', 3: 'Promoter' };
const NPS_SCALE = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const TRANSACTION_DATE_FORMAT = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
const ISO_DATE_TIME_FORMAT = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const SIMPLE_EMAIL_FORMAT = /^[^@\s]+@[^@\s]+$/;

// ---------------------------------------------------------------------------------------------
// Internal types
// ---------------------------------------------------------------------------------------------

type Settings = Required<
  Omit<QualtricsSandboxOptions, 'port' | 'faults' | 'servedDatacenter' | 'log' | 'deduplicationCriteria'>
> & {
  servedDatacenter?: string;
  log?: (line: string) => void;
  deduplicationCriteria: DeduplicationCriteria;
};

const DEFAULT_SETTINGS: Settings = {
  apiToken: 'sandbox-api-token',
  clientId: 'sandbox-client',
  clientSecret: 'sandbox-client-secret',
  datacenter: 'fra1',
  rateLimitPerMinute: 3000,
  linkPageSize: 100,
  linkContactIdKind: 'CGC',
  sendRetryAfter: false,
  blockedContactLinks: 'listed',
  deduplicationCriteria: {
    email: false,
    firstName: false,
    lastName: false,
    externalDataReference: true,
    phone: false,
  },
  requireBatchMailingListId: true,
  defaultLinkExpiryDays: 60,
  tokenLifetimeSeconds: 3600,
  importDurationMs: 100,
  maxImportContacts: 10_000,
};

interface SurveyRecord {
  id: string;
  name: string;
  isActive: boolean;
  creationDate: string;
  lastModifiedDate: string;
}

interface TransactionRecord {
  id: string;
  contactId: string;
  mailingListId: string;
  transactionDate: string;
  data: Record<string, string>;
}

interface ImportRecord {
  id: string;
  mailingListId: string;
  summary: { added: number; updated: number; failed: number; transactions: number };
  readyAt: number;
}

interface TransactionBatchRecord {
  id: string;
  transactionIds: string[];
  creationDate: string;
}

export interface QualtricsDistribution {
  id: string;
  parentDistributionId: null;
  ownerId: string;
  organizationId: string;
  requestStatus: 'Generated';
  requestType: 'GeneratedInvite';
  sendDate: string;
  createdDate: string;
  modifiedDate: string;
  description: string;
  recipients: { mailingListId: string | null; contactId: null; transactionBatchId: string | null };
  surveyLink: { surveyId: string; expirationDate: string; linkType: LinkType };
}

interface DistributionRequest {
  action: DistributionAction;
  surveyId: string;
  mailingListId?: string;
  transactionBatchId?: string;
  linkType: LinkType;
  description: string;
  expirationDate: Date;
}

interface Recipient {
  contact: QualtricsContact;
  transactionId?: string;
}

interface ContactInput {
  firstName?: string;
  lastName?: string;
  email?: string;
  phone?: string;
  extRef?: string;
  language?: string;
  embeddedData?: Record<string, string>;
  unsubscribed?: boolean;
}

/** Fields of a response that only `GET /surveys/{id}/responses/{id}` returns. */
interface ResponseDisplay {
  labels: Record<string, string>;
  displayedFields: string[];
  displayedValues: Record<string, number[]>;
}

interface Reply {
  status: number;
  json?: unknown;
  html?: string;
  headers?: http.OutgoingHttpHeaders;
  /** Error code for the call log. */
  code?: string;
  /** Number of contacts or links in the response, for the call log. */
  items?: number;
}

interface ApiCall {
  url: URL;
  body: unknown;
  params: string[];
}

interface ApiResult {
  result: unknown;
  items?: number;
}

interface ApiRoute {
  method: string;
  pattern: RegExp;
  operation: string;
  handle: (call: ApiCall) => ApiResult | Promise<ApiResult>;
}

interface RouteMatch {
  route: ApiRoute;
  params: string[];
}

/** Request destination: admin endpoint, OAuth token endpoint, survey form or API route. */
type Target =
  | { kind: 'admin' }
  | { kind: 'token' }
  | { kind: 'form' }
  | { kind: 'api'; match?: RouteMatch }
  | { kind: 'unknown' };

/** Qualtrics error response, thrown by handlers and turned into the error envelope. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: http.OutgoingHttpHeaders = {},
    readonly instanceId?: string,
  ) {
    super(message);
  }
}

const badRequest = (message: string) => new ApiError(400, CODES.invalidRequest, message);
const notFound = (message: string) => new ApiError(404, CODES.notFound, message);

// ---------------------------------------------------------------------------------------------
// Envelopes and ids
// ---------------------------------------------------------------------------------------------

function httpStatusText(status: number): string {
  return `${status} - ${STATUS_REASONS[status] ?? http.STATUS_CODES[status] ?? 'Unknown'}`;
}

function envelopeMeta(status: number, notice: string | undefined): Record<string, string> {
  const meta: Record<string, string> = { httpStatus: httpStatusText(status), requestId: randomUUID() };
  if (notice) meta.notice = notice;
  return meta;
}

function successEnvelope(result: unknown, notice: string | undefined): unknown {
  return { result, meta: envelopeMeta(200, notice) };
}

function errorEnvelope(error: ApiError, notice: string | undefined): unknown {
  const details: Record<string, string> = { errorCode: error.code, errorMessage: error.message };
  if (error.instanceId) details.instanceId = error.instanceId;
  return { meta: { ...envelopeMeta(error.status, notice), error: details } };
}

/** Returns `prefix` followed by `length` random letters and digits. */
function newId(prefix: string, length = 15): string {
  let id = prefix;
  for (const byte of randomBytes(length)) id += ID_ALPHABET[byte % ID_ALPHABET.length];
  return id;
}

/** Returns an unguessable link token with 192 random bits. */
function newLinkToken(): string {
  return randomBytes(24).toString('base64url');
}

function sameSecret(provided: string, expected: string): boolean {
  const providedBytes = Buffer.from(provided);
  const expectedBytes = Buffer.from(expected);
  return providedBytes.length === expectedBytes.length && timingSafeEqual(providedBytes, expectedBytes);
}

// ---------------------------------------------------------------------------------------------
// Request validation
// ---------------------------------------------------------------------------------------------

function requireObject(value: unknown, description: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badRequest(`${description} must be a JSON object.`);
  }
  return value as Record<string, unknown>;
}

/** Returns the string in `body[field]`, treating null as absent. */
function optionalString(
  body: Record<string, unknown>,
  field: string,
  maxLength = Infinity,
): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw badRequest(`${field} must be a string, got ${typeof value}.`);
  if (value.length > maxLength) throw badRequest(`${field} must be at most ${maxLength} characters long.`);
  return value;
}

function requiredString(body: Record<string, unknown>, field: string): string {
  const value = optionalString(body, field);
  if (!value) throw badRequest(`${field} is required.`);
  return value;
}

function optionalBoolean(body: Record<string, unknown>, field: string): boolean | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') {
    throw badRequest(`${field} must be true or false, got ${JSON.stringify(value)}.`);
  }
  return value;
}

/** Validates an object of string values, such as embeddedData or transaction data. */
function optionalStringMap(value: unknown, field: string): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  const map = requireObject(value, field);
  const result: Record<string, string> = {};
  for (const [name, entry] of Object.entries(map)) {
    if (name.length > MAX_NAME_LENGTH) {
      throw badRequest(`${field} field names must be at most ${MAX_NAME_LENGTH} characters long: ${name}.`);
    }
    if (typeof entry !== 'string') {
      throw badRequest(`${field}.${name} must be a string, got ${typeof entry}.`);
    }
    if (entry.length > MAX_EMBEDDED_DATA_VALUE_LENGTH) {
      throw badRequest(`${field}.${name} must be at most ${MAX_EMBEDDED_DATA_VALUE_LENGTH} characters long.`);
    }
    result[name] = entry;
  }
  return result;
}

function parseContactInput(value: unknown): ContactInput {
  const body = requireObject(value, 'Request body');
  const email = optionalString(body, 'email', MAX_NAME_LENGTH);
  if (email !== undefined && !SIMPLE_EMAIL_FORMAT.test(email)) {
    throw badRequest(`email is invalid: ${email}.`);
  }
  return {
    firstName: optionalString(body, 'firstName', MAX_NAME_LENGTH),
    lastName: optionalString(body, 'lastName', MAX_NAME_LENGTH),
    email,
    phone: optionalString(body, 'phone', MAX_NAME_LENGTH),
    extRef: optionalString(body, 'extRef', MAX_NAME_LENGTH),
    language: optionalString(body, 'language', MAX_NAME_LENGTH),
    embeddedData: optionalStringMap(body.embeddedData, 'embeddedData'),
    unsubscribed: optionalBoolean(body, 'unsubscribed'),
  };
}

/**
 * Parses an ISO-8601 date-time, or 'YYYY-MM-DD HH:MM:SS' as some Qualtrics examples write it.
 * Values without a time zone are read as UTC. Returns NaN for anything else.
 */
function parseDateTime(text: string): number {
  if (TRANSACTION_DATE_FORMAT.test(text)) return Date.parse(`${text.replace(' ', 'T')}Z`);
  if (!ISO_DATE_TIME_FORMAT.test(text)) return NaN;
  const hasZone = /T.*(Z|[+-]\d{2}:?\d{2})$/.test(text);
  const hasTime = text.includes('T');
  return Date.parse(hasTime && !hasZone ? `${text}Z` : text);
}

function parseJsonBody(raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw badRequest('Request body is not valid JSON.');
  }
}

// ---------------------------------------------------------------------------------------------
// Paging
// ---------------------------------------------------------------------------------------------

function encodeSkipToken(offset: number): string {
  return Buffer.from(`offset:${offset}`).toString('base64url');
}

function decodeSkipToken(token: string | null): number {
  if (token === null) return 0;
  if (token === '') throw badRequest('Parameter skipToken should not be empty.');
  const match = /^offset:(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  if (!match) throw badRequest(`Invalid skipToken: ${token}. Use the nextPage URL as returned.`);
  return Number(match[1]);
}

/** Cuts one page out of `items`. `nextPage` is the request URL with the next skipToken, or null. */
function paginate<T>(
  items: T[],
  requestUrl: URL,
  pageSize: number,
): { elements: T[]; nextPage: string | null } {
  const offset = decodeSkipToken(requestUrl.searchParams.get('skipToken'));
  const elements = items.slice(offset, offset + pageSize);
  const nextOffset = offset + elements.length;
  if (nextOffset >= items.length) return { elements, nextPage: null };
  const next = new URL(requestUrl);
  next.searchParams.set('skipToken', encodeSkipToken(nextOffset));
  return { elements, nextPage: next.toString() };
}

function parsePageSize(value: string | null): number {
  if (value === null) return COLLECTION_PAGE_SIZE;
  const size = Number(value);
  if (!Number.isInteger(size) || size < 1 || size > COLLECTION_PAGE_SIZE) {
    throw badRequest(`pageSize must be an integer from 1 to ${COLLECTION_PAGE_SIZE}, got ${value}.`);
  }
  return size;
}

// ---------------------------------------------------------------------------------------------
// NPS and responses
// ---------------------------------------------------------------------------------------------

/** Returns the Qualtrics NPS group: 1 detractor (0-6), 2 passive (7-8), 3 promoter (9-10). */
export function npsGroupOf(score: number): 1 | 2 | 3 {
  if (score <= 6) return 1;
  if (score <= 8) return 2;
  return 3;
}

/** Returns the score when `nps` is an integer from 0 to 10, given as a number or a string. */
function parseNpsScore(nps: number | string | null | undefined): number | undefined {
  if (nps === null || nps === undefined) return undefined;
  const score = typeof nps === 'number' ? nps : nps.trim() === '' ? NaN : Number(nps);
  return Number.isInteger(score) && score >= 0 && score <= 10 ? score : undefined;
}

interface ResponseInput {
  responseId: string;
  contact: QualtricsContact;
  transactionData: Record<string, string>;
  questionId: string;
  score?: number;
  finished: boolean;
}

/**
 * Builds `values` of a response: metadata, recipient fields, embedded data as plain keys, and the NPS
 * answer with its group when it was answered. Transaction data overrides contact embedded data.
 * NOTE: Qualtrics may copy embedded data into responses only when the survey flow declares the field.
 */
function buildResponseValues(input: ResponseInput): Record<string, unknown> {
  const now = new Date().toISOString();
  const values: Record<string, unknown> = {
    ...input.contact.embeddedData,
    ...input.transactionData,
    startDate: now,
    endDate: now,
    status: 0,
    ipAddress: '127.0.0.1',
    progress: input.finished ? 100 : 50,
    duration: 30,
    finished: input.finished ? 1 : 0,
    recordedDate: now,
    _recordId: input.responseId,
    recipientFirstName: input.contact.firstName ?? '',
    recipientLastName: input.contact.lastName ?? '',
    recipientEmail: input.contact.email ?? '',
    externalDataReference: input.contact.extRef ?? '',
    // NOTE: the channel name Qualtrics records for generated personal links is not confirmed.
    distributionChannel: 'gl',
    userLanguage: input.contact.language ?? 'EN',
  };
  if (input.score !== undefined) {
    values[input.questionId] = input.score;
    values[`${input.questionId}_NPS_GROUP`] = npsGroupOf(input.score);
  }
  return values;
}

function buildResponseDisplay(
  questionId: string,
  score: number | undefined,
  finished: boolean,
): ResponseDisplay {
  const groupField = `${questionId}_NPS_GROUP`;
  const labels: Record<string, string> = { finished: finished ? 'True' : 'False', status: 'IP Address' };
  if (score !== undefined) {
    labels[questionId] = String(score);
    labels[groupField] = NPS_GROUP_LABELS[npsGroupOf(score)];
  }
  return {
    labels,
    displayedFields: [questionId, groupField],
    displayedValues: { [questionId]: NPS_SCALE, [groupField]: NPS_SCALE.map(npsGroupOf) },
  };
}

// ---------------------------------------------------------------------------------------------
// Workflow Web Service task
// ---------------------------------------------------------------------------------------------

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

function validateWorkflowTask(task: WorkflowTask): void {
  let url: URL;
  try {
    url = new URL(task.url);
  } catch {
    throw new Error(`Workflow URL is invalid: ${task.url}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`Workflow URL must use http or https, got ${url.protocol} in ${task.url}`);
  }
  if (!isLoopbackHost(url.hostname)) {
    throw new Error(
      `Workflow URL must point at loopback (127.0.0.1, ::1 or localhost), got host ${url.hostname}`,
    );
  }
}

/** Posts `body` once and returns the HTTP status, or 0 on a network error or timeout. */
async function postWorkflowOnce(task: WorkflowTask, body: string): Promise<number> {
  try {
    const response = await fetch(task.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...task.headers },
      body,
      // A redirect counts as a final status, so a target cannot send the request off loopback.
      redirect: 'manual',
      signal: AbortSignal.timeout(task.timeoutMs ?? WORKFLOW_TIMEOUT_MS),
    });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

function isRetryableDelivery(status: number): boolean {
  return status === 0 || status === 429 || status >= 500;
}

/**
 * Posts `body` to the task URL like a Qualtrics workflow: 429, 5xx, network errors and timeouts are
 * retried with exponential backoff (200 ms doubling, at most 5 s) until `retryForMs` has passed, and
 * every other status is final. Qualtrics itself retries for up to 24 hours by default.
 */
async function deliverWorkflowBody(
  task: WorkflowTask,
  body: string,
  log: (line: string) => void,
): Promise<WorkflowDelivery> {
  const startedAt = Date.now();
  const retryForMs = task.retryForMs ?? WORKFLOW_RETRY_FOR_MS;
  let delayMs = WORKFLOW_FIRST_RETRY_DELAY_MS;
  for (let attempts = 1; ; attempts++) {
    const status = await postWorkflowOnce(task, body);
    if (!isRetryableDelivery(status)) return { status, attempts };
    if (Date.now() - startedAt + delayMs > retryForMs) {
      log(`Workflow delivery to ${task.url} failed with status ${status} after ${attempts} attempts`);
      return { status, attempts };
    }
    log(`Workflow delivery to ${task.url} got status ${status}; retrying in ${delayMs} ms`);
    await sleep(delayMs);
    delayMs = Math.min(delayMs * 2, WORKFLOW_MAX_RETRY_DELAY_MS);
  }
}

// ---------------------------------------------------------------------------------------------
// Options and HTML pages
// ---------------------------------------------------------------------------------------------

/** Returns `current` with the defined values of `changes`, rejecting invalid ones. */
function mergeSettings(current: Settings, changes: Partial<QualtricsSandboxOptions>): Settings {
  const next: Settings = { ...current, deduplicationCriteria: { ...current.deduplicationCriteria } };
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined || key === 'port' || key === 'faults') continue;
    if (key === 'deduplicationCriteria') Object.assign(next.deduplicationCriteria, value);
    else (next as unknown as Record<string, unknown>)[key] = value;
  }
  validateSettings(next);
  return next;
}

function validateSettings(settings: Settings): void {
  const positiveIntegers = {
    rateLimitPerMinute: settings.rateLimitPerMinute,
    linkPageSize: settings.linkPageSize,
    tokenLifetimeSeconds: settings.tokenLifetimeSeconds,
  };
  for (const [name, value] of Object.entries(positiveIntegers)) {
    if (!Number.isInteger(value) || value < 1) {
      throw new Error(`${name} must be a positive integer, got ${value}`);
    }
  }
  if (!(settings.defaultLinkExpiryDays > 0)) {
    throw new Error(`defaultLinkExpiryDays must be positive, got ${settings.defaultLinkExpiryDays}`);
  }
  if (settings.linkContactIdKind !== 'CGC' && settings.linkContactIdKind !== 'CID') {
    throw new Error(`linkContactIdKind must be CGC or CID, got ${settings.linkContactIdKind}`);
  }
  if (settings.blockedContactLinks !== 'listed' && settings.blockedContactLinks !== 'null') {
    throw new Error(`blockedContactLinks must be listed or null, got ${settings.blockedContactLinks}`);
  }
}

function mergeFaults(current: Faults, changes: Partial<Faults>): Faults {
  const next = { ...current };
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) continue;
    if (!(key in NO_FAULTS)) {
      throw new Error(`Unknown fault ${key}, expected one of ${Object.keys(NO_FAULTS).join(', ')}`);
    }
    if (typeof value !== 'number' || !(value >= 0)) {
      throw new Error(`Fault ${key} must be a number >= 0, got ${value}`);
    }
    next[key as keyof Faults] = value;
  }
  return next;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, char => `&#${char.charCodeAt(0)};`);
}

function htmlPage(title: string, bodyHtml: string): string {
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>` +
    `<body>${bodyHtml}</body></html>`
  );
}

function surveyFormPage(surveyName: string, action: string): string {
  const choices = NPS_SCALE.map(
    score => `<label><input type="radio" name="nps" value="${score}" required> ${score}</label>`,
  ).join(' ');
  const form =
    `<form method="post" action="${escapeHtml(action)}">` +
    `<p>How likely are you to recommend us to a friend or colleague?</p><p>${choices}</p>` +
    `<button type="submit">Submit</button></form>`;
  return htmlPage(surveyName, `<h1>${escapeHtml(surveyName)}</h1>${form}`);
}

const LINK_REJECTION_PAGES: Record<'unknown' | 'used' | 'expired', { status: number; text: string }> = {
  unknown: { status: 404, text: 'This survey link is not valid.' },
  used: { status: 410, text: 'This survey link has already been used.' },
  expired: { status: 410, text: 'This survey link has expired.' },
};

function linkRejectionReply(rejection: 'unknown' | 'used' | 'expired'): Reply {
  const page = LINK_REJECTION_PAGES[rejection];
  const html = htmlPage('Survey unavailable', `<p>${page.text}</p>`);
  return { status: page.status, html, code: rejection };
}

function writeReply(res: http.ServerResponse, reply: Reply): void {
  if (reply.html === undefined) {
    sendJson(res, reply.status, reply.json ?? {}, reply.headers);
    return;
  }
  res.writeHead(reply.status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(reply.html),
    ...reply.headers,
  });
  res.end(reply.html);
}

/** Builds an API route whose `:name` segments in `template` become positional params. */
function apiRoute(method: string, template: string, operation: string, handle: ApiRoute['handle']): ApiRoute {
  const pattern = new RegExp(`^/API/v3/${template.replace(/:[a-zA-Z]+/g, '([^/]+)')}/?$`);
  return { method, pattern, operation, handle };
}

/** Keeps contact ids per lowercase key, for extRef and email lookups. */
class ContactIndex {
  private readonly ids = new Map<string, Set<string>>();

  add(key: string | undefined, contactId: string): void {
    if (key === undefined) return;
    const normalized = key.toLowerCase();
    let set = this.ids.get(normalized);
    if (!set) {
      set = new Set();
      this.ids.set(normalized, set);
    }
    set.add(contactId);
  }

  remove(key: string | undefined, contactId: string): void {
    if (key !== undefined) this.ids.get(key.toLowerCase())?.delete(contactId);
  }

  get(key: string): string[] {
    return [...(this.ids.get(key.toLowerCase()) ?? [])];
  }
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

class QualtricsSandboxServer implements QualtricsSandbox {
  url = '';
  apiUrl = '';
  tokenUrl = '';
  readonly calls = new CallLog();
  readonly directoryId = DEFAULT_DIRECTORY_ID;
  readonly mailingListId = DEFAULT_MAILING_LIST_ID;
  readonly surveyId = DEFAULT_SURVEY_ID;
  readonly contacts = new Map<string, QualtricsContact>();
  readonly links = new Map<string, IssuedLink>();
  readonly distributions = new Map<string, QualtricsDistribution>();
  readonly responses = new Map<string, SurveyResponse>();

  private readonly surveys = new Map<string, SurveyRecord>();
  private readonly transactions = new Map<string, TransactionRecord>();
  private readonly transactionBatches = new Map<string, TransactionBatchRecord>();
  private readonly imports = new Map<string, ImportRecord>();
  /** Link tokens of each distribution, in the order the links list returns them. */
  private readonly distributionTokens = new Map<string, string[]>();
  private readonly responseDisplays = new Map<string, ResponseDisplay>();
  /** OAuth access tokens and their expiry in epoch milliseconds. */
  private readonly accessTokens = new Map<string, number>();
  private readonly contactsByExtRef = new ContactIndex();
  private readonly contactsByEmail = new ContactIndex();
  private readonly routes: ApiRoute[];
  private readonly server: http.Server;
  private readonly window: MinuteWindow;
  private settings: Settings;
  private faults: Faults;
  private workflow?: WorkflowTask;

  constructor(options: QualtricsSandboxOptions) {
    this.settings = mergeSettings(DEFAULT_SETTINGS, options);
    this.faults = mergeFaults(NO_FAULTS, options.faults ?? {});
    this.window = new MinuteWindow(this.settings.rateLimitPerMinute);
    this.routes = this.buildRoutes();
    this.addSurvey({ id: DEFAULT_SURVEY_ID, name: 'Net Promoter Score', active: true });
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  async start(port: number): Promise<void> {
    const { url } = await listen(this.server, port);
    this.url = url;
    this.apiUrl = `${url}/API/v3/`;
    this.tokenUrl = `${url}/oauth2/token`;
  }

  close(): Promise<void> {
    return close(this.server);
  }

  // --- state set up by tests and drivers ---

  seedContact(seed: Partial<QualtricsContact> & { extRef: string }): QualtricsContact {
    const existing = this.contactsWithExtRef(seed.extRef)[0];
    if (!existing) return this.insertContact(seed, seed);
    this.updateContact(existing, seed);
    if (seed.exceededContactFrequency !== undefined) {
      existing.exceededContactFrequency = seed.exceededContactFrequency;
    }
    return existing;
  }

  markUnsubscribed(extRef: string): void {
    for (const contact of this.requireContactsByExtRef(extRef)) contact.unsubscribed = true;
  }

  markExceededFrequency(extRef: string): void {
    for (const contact of this.requireContactsByExtRef(extRef)) contact.exceededContactFrequency = true;
  }

  addSurvey(options: { id?: string; active?: boolean; name?: string } = {}): string {
    const id = options.id ?? newId('SV_');
    const now = new Date().toISOString();
    const existing = this.surveys.get(id);
    this.surveys.set(id, {
      id,
      name: options.name ?? existing?.name ?? `Sandbox survey ${this.surveys.size + 1}`,
      isActive: options.active ?? existing?.isActive ?? true,
      creationDate: existing?.creationDate ?? now,
      lastModifiedDate: now,
    });
    return id;
  }

  setWorkflow(task: WorkflowTask | undefined): void {
    if (task) validateWorkflowTask(task);
    this.workflow = task && { ...task };
  }

  setFaults(faults: Partial<Faults>): void {
    this.faults = mergeFaults(this.faults, faults);
  }

  /** Changes options of the running server. `port` is ignored because the server already listens. */
  setOptions(options: Partial<QualtricsSandboxOptions>): void {
    this.settings = mergeSettings(this.settings, options);
    this.window.limit = this.settings.rateLimitPerMinute;
    if (options.faults) this.setFaults(options.faults);
  }

  // --- respondents ---

  resolveLink(url: string): IssuedLink | undefined {
    let parsed: URL;
    try {
      parsed = new URL(url, this.url);
    } catch {
      return undefined;
    }
    const token = parsed.searchParams.get('Q_DL');
    const link = token ? this.links.get(token) : undefined;
    if (!link || parsed.pathname !== `/jfe/form/${link.surveyId}`) return undefined;
    return link;
  }

  async respond(url: string, answer: RespondAnswer): Promise<RespondOutcome> {
    const link = this.resolveLink(url);
    const rejected = this.linkRejection(link);
    if (rejected || !link) return { rejected: rejected ?? 'unknown', deliveries: [] };
    link.used = true;

    const task = this.workflow;
    const questionId = task?.npsQuestionId ?? DEFAULT_NPS_QUESTION_ID;
    const score = answer.partial ? undefined : parseNpsScore(answer.nps);
    const response = this.recordResponse(link, questionId, score, !answer.partial);
    if (!task) return { response, deliveries: [] };

    const body = JSON.stringify(this.workflowBody(link, response, answer, score));
    const deliveries = [await deliverWorkflowBody(task, body, this.logLine)];
    if (answer.deliverTwice) deliveries.push(await deliverWorkflowBody(task, body, this.logLine));
    return { response, deliveries };
  }

  private linkRejection(link: IssuedLink | undefined): RespondOutcome['rejected'] {
    if (!link) return 'unknown';
    if (link.used && link.linkType === 'Individual') return 'used';
    if (Date.parse(link.expiresAt) <= Date.now()) return 'expired';
    return undefined;
  }

  private recordResponse(link: IssuedLink, questionId: string, score: number | undefined, finished: boolean) {
    const responseId = newId('R_');
    const values = buildResponseValues({
      responseId,
      contact: this.contacts.get(link.contactId)!,
      transactionData: this.transactionDataOf(link),
      questionId,
      score,
      finished,
    });
    const response: SurveyResponse = { responseId, surveyId: link.surveyId, values };
    this.responses.set(responseId, response);
    this.responseDisplays.set(responseId, buildResponseDisplay(questionId, score, finished));
    return response;
  }

  /**
   * Builds the Web Service body with every value as a string, the way piped text arrives. A partial
   * response fires the task as if "Include incomplete responses" were on, with empty nps and npsGroup.
   */
  private workflowBody(link: IssuedLink, response: SurveyResponse, answer: RespondAnswer, score?: number) {
    const contact = this.contacts.get(link.contactId)!;
    const invitationId = this.transactionDataOf(link).invitationId ?? contact.embeddedData.invitationId ?? '';
    const missing = answer.partial || answer.nps === null || answer.nps === undefined;
    return {
      responseId: response.responseId,
      surveyId: response.surveyId,
      invitationId,
      extRef: contact.extRef ?? '',
      nps: missing ? '' : String(answer.nps),
      npsGroup: score === undefined ? '' : String(npsGroupOf(score)),
    };
  }

  private transactionDataOf(link: IssuedLink): Record<string, string> {
    return (link.transactionId && this.transactions.get(link.transactionId)?.data) || {};
  }

  private readonly logLine = (line: string): void => {
    this.settings.log?.(line);
  };

  // --- request dispatch ---

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const startedAt = Date.now();
    // Concatenation keeps the origin even for a request target such as //other-host/path.
    const requestUrl = new URL(`${this.url}${req.url?.startsWith('/') ? req.url : '/'}`);
    const target = this.resolveTarget(req.method ?? 'GET', requestUrl.pathname);
    const reply = await this.produceReply(req, requestUrl, target);
    writeReply(res, reply);
    if (target.kind === 'admin') return;
    this.calls.add({
      at: startedAt,
      method: req.method ?? 'GET',
      path: requestUrl.pathname,
      operation: this.operationOf(target),
      status: reply.status,
      code: reply.code,
      items: reply.items,
      ms: Date.now() - startedAt,
    });
  }

  private resolveTarget(method: string, path: string): Target {
    if (path.startsWith('/__sandbox/')) return { kind: 'admin' };
    if (path === '/oauth2/token') return { kind: 'token' };
    if (path.startsWith('/jfe/form/')) return { kind: 'form' };
    if (!path.startsWith('/API/v3/')) return { kind: 'unknown' };
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const match = route.pattern.exec(path);
      if (match) return { kind: 'api', match: { route, params: match.slice(1).map(decodeURIComponent) } };
    }
    return { kind: 'api' };
  }

  private operationOf(target: Target): string {
    if (target.kind === 'token') return 'token';
    if (target.kind === 'api' && target.match) return target.match.route.operation;
    return 'other';
  }

  private async produceReply(req: http.IncomingMessage, requestUrl: URL, target: Target): Promise<Reply> {
    try {
      const raw = await readBody(req, MAX_BODY_BYTES);
      switch (target.kind) {
        case 'admin':
          return await this.handleAdmin(req.method ?? 'GET', requestUrl, raw);
        case 'token':
          return this.handleToken(req, raw);
        case 'form':
          return await this.handleForm(req.method ?? 'GET', requestUrl, raw);
        case 'api':
          return await this.handleApi(req, requestUrl, raw, target.match);
        default:
          throw notFound('The requested resource does not exist.');
      }
    } catch (error) {
      return this.errorReply(error);
    }
  }

  private errorReply(error: unknown): Reply {
    if (error instanceof BodyTooLargeError) {
      error = new ApiError(413, CODES.bodyTooLarge, `Request body is larger than ${MAX_BODY_BYTES} bytes.`);
    }
    if (!(error instanceof ApiError)) {
      (this.settings.log ?? console.error)(`Qualtrics sandbox failed to handle a request: ${String(error)}`);
      error = new ApiError(500, CODES.internalError, 'Internal server error.', {}, randomUUID());
    }
    const apiError = error as ApiError;
    return {
      status: apiError.status,
      json: errorEnvelope(apiError, this.notice()),
      headers: apiError.headers,
      code: apiError.code,
    };
  }

  /** Returns the proxy notice when this server pretends to be another datacenter than the brand's. */
  private notice(): string | undefined {
    const { datacenter, servedDatacenter } = this.settings;
    if (!servedDatacenter || servedDatacenter === datacenter) return undefined;
    return `Request proxied. For faster response times, use this host instead: ${datacenter}.qualtrics.com`;
  }

  // --- /API/v3: authentication, rate limit, faults ---

  private async handleApi(
    req: http.IncomingMessage,
    url: URL,
    raw: Buffer,
    match: RouteMatch | undefined,
  ): Promise<Reply> {
    if (!match) throw notFound('The requested resource does not exist.');
    this.authenticate(req);
    this.enforceRateLimit();
    await this.applyInjectedFaults();
    const call: ApiCall = { url, body: parseJsonBody(raw), params: match.params };
    const { result, items } = await match.route.handle(call);
    return { status: 200, json: successEnvelope(result, this.notice()), items };
  }

  /** Accepts X-API-TOKEN or else a live OAuth bearer token. X-API-TOKEN wins when both are sent. */
  private authenticate(req: http.IncomingMessage): void {
    const apiToken = req.headers['x-api-token'];
    if (typeof apiToken === 'string') {
      if (!sameSecret(apiToken, this.settings.apiToken)) {
        throw new ApiError(401, CODES.unrecognizedToken, 'Unrecognized X-API-TOKEN.');
      }
      return;
    }
    const authorization = req.headers.authorization ?? '';
    if (!/^Bearer /i.test(authorization)) {
      const message = 'Expected authorization in headers, but none provided.';
      throw new ApiError(400, CODES.missingAuthorization, message);
    }
    const expiresAt = this.accessTokens.get(authorization.slice('Bearer '.length).trim());
    if (expiresAt === undefined || expiresAt <= Date.now()) {
      throw new ApiError(401, CODES.unrecognizedToken, 'Invalid or expired OAuth access token.');
    }
  }

  /**
   * Counts the request against the brand-wide limit. NOTE: Qualtrics computes limits with a leaky
   * bucket, which this fixed one-minute window only approximates.
   */
  private enforceRateLimit(): void {
    const decision = this.window.take('brand');
    if (decision.allowed) return;
    const waitSeconds = Math.max(1, decision.resetEpochSeconds - Math.floor(Date.now() / 1000));
    throw new ApiError(
      429,
      CODES.tooManyRequests,
      `Too many requests: the brand limit is ${decision.limit} API requests per minute.`,
      this.retryAfterHeader(waitSeconds),
    );
  }

  private retryAfterHeader(seconds: number): http.OutgoingHttpHeaders {
    return this.settings.sendRetryAfter ? { 'retry-after': String(seconds) } : {};
  }

  private async applyInjectedFaults(): Promise<void> {
    const decision = await applyFaults(this.faults);
    if (decision === 'error429') {
      throw new ApiError(429, CODES.tooManyRequests, 'Too many requests.', this.retryAfterHeader(1));
    }
    if (decision === 'error5xx') throw injectedServerError();
  }

  // --- /oauth2/token ---

  private handleToken(req: http.IncomingMessage, raw: Buffer): Reply {
    if (req.method !== 'POST') {
      return { status: 405, json: { error: 'invalid_request' }, code: 'invalid_request' };
    }
    if (!this.isValidClient(req.headers.authorization)) {
      return {
        status: 401,
        json: { error: 'invalid_client', error_description: 'Client authentication failed.' },
        headers: { 'www-authenticate': 'Basic' },
        code: 'invalid_client',
      };
    }
    const form = new URLSearchParams(raw.toString('utf8'));
    if (form.get('grant_type') !== 'client_credentials') {
      const error = 'unsupported_grant_type';
      const json = { error, error_description: 'grant_type must be client_credentials.' };
      return { status: 400, json, code: error };
    }
    const accessToken = randomBytes(24).toString('base64url');
    const lifetime = this.settings.tokenLifetimeSeconds;
    this.accessTokens.set(accessToken, Date.now() + lifetime * 1000);
    // NOTE: scopes are echoed but not enforced. The token_type and scope fields are not confirmed.
    const scope = form.get('scope') ?? 'manage:all';
    const json = { access_token: accessToken, token_type: 'Bearer', expires_in: lifetime, scope };
    return { status: 200, json };
  }

  private isValidClient(authorization: string | undefined): boolean {
    const match = /^Basic\s+(.+)$/i.exec(authorization ?? '');
    if (!match) return false;
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const separator = decoded.indexOf(':');
    if (separator < 0) return false;
    const clientId = decoded.slice(0, separator);
    const clientSecret = decoded.slice(separator + 1);
    const idMatches = sameSecret(clientId, this.settings.clientId);
    return sameSecret(clientSecret, this.settings.clientSecret) && idMatches;
  }

  // --- /jfe/form: the survey page a respondent opens ---

  private async handleForm(method: string, url: URL, raw: Buffer): Promise<Reply> {
    if (method === 'POST') return this.submitForm(url, raw);
    if (method !== 'GET') {
      return { status: 405, html: htmlPage('Method not allowed', '<p>Use GET or POST.</p>') };
    }
    const link = this.resolveLink(url.toString());
    const rejection = this.linkRejection(link);
    if (rejection || !link) return linkRejectionReply(rejection ?? 'unknown');
    const surveyName = this.surveys.get(link.surveyId)?.name ?? link.surveyId;
    return { status: 200, html: surveyFormPage(surveyName, `${url.pathname}${url.search}`) };
  }

  private async submitForm(url: URL, raw: Buffer): Promise<Reply> {
    const nps = new URLSearchParams(raw.toString('utf8')).get('nps');
    const outcome = await this.respond(url.toString(), { nps: nps === '' ? null : nps });
    if (outcome.rejected) return linkRejectionReply(outcome.rejected);
    return { status: 200, html: htmlPage('Thank you', '<p>Thank you. Your response has been recorded.</p>') };
  }

  // --- /__sandbox admin endpoints ---

  private async handleAdmin(method: string, url: URL, raw: Buffer): Promise<Reply> {
    const endpoint = `${method} ${url.pathname.slice('/__sandbox/'.length).replace(/\/$/, '')}`;
    try {
      return { status: 200, json: await this.runAdminEndpoint(endpoint, raw) };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const status = error instanceof ApiError ? error.status : 400;
      return { status, json: { error: message } };
    }
  }

  private async runAdminEndpoint(endpoint: string, raw: Buffer): Promise<unknown> {
    switch (endpoint) {
      case 'GET calls':
        return { entries: this.calls.entries, byOperation: this.calls.countByOperation() };
      case 'DELETE calls':
        this.calls.clear();
        return { cleared: true };
      case 'GET state':
        return this.stateCounts();
      case 'POST faults':
        this.setFaults(requireObject(parseJsonBody(raw), 'Faults'));
        return { faults: this.faults };
      case 'POST options':
        this.setOptions(requireObject(parseJsonBody(raw), 'Options'));
        return { options: this.visibleSettings() };
      case 'POST workflow':
        return this.setWorkflowFromJson(parseJsonBody(raw));
      case 'POST respond':
        return this.respondFromJson(parseJsonBody(raw));
      case 'POST contacts':
        return this.seedContactFromJson(parseJsonBody(raw));
      default:
        throw new ApiError(404, CODES.notFound, `Unknown sandbox endpoint: ${endpoint}.`);
    }
  }

  private stateCounts() {
    let usedLinks = 0;
    for (const link of this.links.values()) if (link.used) usedLinks++;
    return {
      contacts: this.contacts.size,
      links: this.links.size,
      usedLinks,
      distributions: this.distributions.size,
      responses: this.responses.size,
      transactions: this.transactions.size,
      transactionBatches: this.transactionBatches.size,
      workflow: this.workflow?.url ?? null,
    };
  }

  /** Returns the settings without the API token, the client secret and the log function. */
  private visibleSettings() {
    const { apiToken: _apiToken, clientSecret: _clientSecret, log: _log, ...visible } = this.settings;
    return visible;
  }

  private setWorkflowFromJson(body: unknown) {
    if (body === undefined || body === null) {
      this.setWorkflow(undefined);
      return { workflow: null };
    }
    const task = requireObject(body, 'Workflow task');
    requiredString(task, 'url');
    this.setWorkflow(task as unknown as WorkflowTask);
    return { workflow: task.url };
  }

  private respondFromJson(body: unknown) {
    const request = requireObject(body, 'Respond request');
    const answer: RespondAnswer = {
      nps: request.nps as RespondAnswer['nps'],
      partial: optionalBoolean(request, 'partial'),
      deliverTwice: optionalBoolean(request, 'deliverTwice'),
    };
    return this.respond(requiredString(request, 'url'), answer);
  }

  private seedContactFromJson(body: unknown) {
    const seed = requireObject(body, 'Contact');
    requiredString(seed, 'extRef');
    parseContactInput(seed);
    return this.seedContact(seed as unknown as Partial<QualtricsContact> & { extRef: string });
  }

  // --- /API/v3 routes ---

  private buildRoutes(): ApiRoute[] {
    return [
      apiRoute('GET', 'whoami', 'whoami', () => ({ result: this.whoami() })),
      apiRoute('GET', 'directories', 'directoryList', () => this.listDirectories()),
      apiRoute('GET', 'directories/:dir', 'directoryGet', ({ params }) => this.getDirectory(params[0])),
      apiRoute('GET', 'directories/:dir/mailinglists/:list', 'mailingListGet', ({ params }) =>
        this.getMailingList(params[0], params[1]),
      ),
      apiRoute('POST', 'directories/:dir/mailinglists/:list/contacts', 'contactCreate', ({ params, body }) =>
        this.createContact(params[0], params[1], body),
      ),
      apiRoute('POST', 'directories/:dir/contacts/search', 'contactSearch', ({ params, body, url }) =>
        this.searchContacts(params[0], body, url),
      ),
      apiRoute('POST', 'directories/:dir/transactions', 'transactionsCreate', ({ params, body }) =>
        this.createTransactions(params[0], body),
      ),
      apiRoute('POST', 'directories/:dir/transactionbatches', 'transactionBatchCreate', ({ params, body }) =>
        this.createTransactionBatch(params[0], body),
      ),
      apiRoute('POST', 'directories/:dir/mailinglists/:list/transactioncontacts', 'contactImport', ({ params, body }) =>
        this.importTransactionContacts(params[0], params[1], body),
      ),
      apiRoute('GET', 'directories/:dir/mailinglists/:list/transactioncontacts/:import', 'contactImportStatus', ({ params }) =>
        this.contactImportStatus(params[0], params[1], params[2]),
      ),
      apiRoute('GET', 'directories/:dir/mailinglists/:list/transactioncontacts/:import/summary', 'contactImportSummary',
        ({ params }) => this.contactImportSummary(params[0], params[1], params[2]),
      ),
      apiRoute('POST', 'distributions', 'distributionCreate', ({ body }) => this.createDistribution(body)),
      apiRoute('GET', 'distributions', 'distributionList', ({ url }) => this.listDistributions(url)),
      apiRoute('GET', 'distributions/:id/links', 'linksList', ({ params, url }) =>
        this.listLinks(params[0], url),
      ),
      apiRoute('GET', 'surveys/:survey', 'surveyGet', ({ params }) => ({
        result: this.getSurvey(params[0]),
      })),
      apiRoute('GET', 'surveys/:survey/responses/:response', 'responseGet', ({ params }) =>
        this.getResponse(params[0], params[1]),
      ),
    ];
  }

  private whoami() {
    return {
      brandId: BRAND_ID,
      userId: USER_ID,
      userName: `sandbox-admin#${BRAND_ID}`,
      accountType: 'UT_BRANDADMIN',
      firstName: 'Sandbox',
      lastName: 'Admin',
      email: 'sandbox-admin@example.com',
      datacenter: this.settings.datacenter,
    };
  }

  // --- directories and mailing lists ---

  private requireDirectory(directoryId: string): void {
    if (directoryId !== this.directoryId) throw notFound(`Directory ${directoryId} not found.`);
  }

  private requireMailingList(mailingListId: string): void {
    if (mailingListId !== this.mailingListId) throw notFound(`Mailing list ${mailingListId} not found.`);
  }

  private directoryJson() {
    return {
      directoryId: this.directoryId,
      name: 'Sandbox directory',
      contactCount: this.contacts.size,
      isDefault: true,
      deduplicationCriteria: { ...this.settings.deduplicationCriteria },
    };
  }

  private listDirectories(): ApiResult {
    return { result: { elements: [this.directoryJson()], nextPage: null } };
  }

  private getDirectory(directoryId: string): ApiResult {
    this.requireDirectory(directoryId);
    return { result: this.directoryJson() };
  }

  private getMailingList(directoryId: string, mailingListId: string): ApiResult {
    this.requireDirectory(directoryId);
    this.requireMailingList(mailingListId);
    const result = {
      mailingListId,
      name: 'Sandbox mailing list',
      ownerId: USER_ID,
      contactCount: this.contacts.size,
    };
    return { result };
  }

  // --- contacts ---

  private createContact(directoryId: string, mailingListId: string, body: unknown): ApiResult {
    this.requireDirectory(directoryId);
    this.requireMailingList(mailingListId);
    const input = parseContactInput(body);
    const existing = this.findDuplicate(input);
    const contact = existing ? this.updateContact(existing, input) : this.insertContact(input);
    return { result: { id: contact.id, contactLookupId: contact.lookupId }, items: 1 };
  }

  /** Finds a contact equal on every enabled deduplication field, or none when the input lacks one. */
  private findDuplicate(input: ContactInput): QualtricsContact | undefined {
    const criteria = this.settings.deduplicationCriteria;
    const comparisons: Array<[string | undefined, (contact: QualtricsContact) => string | undefined]> = [];
    if (criteria.externalDataReference) comparisons.push([input.extRef, contact => contact.extRef]);
    if (criteria.email) {
      comparisons.push([input.email?.toLowerCase(), contact => contact.email?.toLowerCase()]);
    }
    if (criteria.phone) comparisons.push([input.phone, contact => contact.phone]);
    if (criteria.firstName) comparisons.push([input.firstName, contact => contact.firstName]);
    if (criteria.lastName) comparisons.push([input.lastName, contact => contact.lastName]);
    if (comparisons.length === 0 || comparisons.some(([value]) => value === undefined)) return undefined;

    const candidates = criteria.externalDataReference
      ? this.contactsByExtRef.get(input.extRef!).map(id => this.contacts.get(id)!)
      : [...this.contacts.values()];
    return candidates.find(contact => comparisons.every(([value, read]) => read(contact) === value));
  }

  private insertContact(input: ContactInput, ids: Partial<QualtricsContact> = {}): QualtricsContact {
    const contact: QualtricsContact = {
      id: ids.id ?? newId('CID_'),
      lookupId: ids.lookupId ?? newId('CGC_'),
      directoryId: this.directoryId,
      mailingListId: this.mailingListId,
      extRef: input.extRef,
      email: input.email,
      phone: input.phone,
      firstName: input.firstName,
      lastName: input.lastName,
      language: input.language,
      embeddedData: { ...input.embeddedData },
      unsubscribed: input.unsubscribed ?? false,
      exceededContactFrequency: ids.exceededContactFrequency ?? false,
    };
    this.contacts.set(contact.id, contact);
    this.contactsByExtRef.add(contact.extRef, contact.id);
    this.contactsByEmail.add(contact.email, contact.id);
    return contact;
  }

  /** Overwrites the given fields and merges embedded data, keeping the contact's ids. */
  private updateContact(contact: QualtricsContact, input: ContactInput): QualtricsContact {
    this.contactsByExtRef.remove(contact.extRef, contact.id);
    this.contactsByEmail.remove(contact.email, contact.id);
    const fields = ['extRef', 'email', 'phone', 'firstName', 'lastName', 'language', 'unsubscribed'] as const;
    for (const field of fields) {
      if (input[field] !== undefined) (contact as unknown as Record<string, unknown>)[field] = input[field];
    }
    contact.embeddedData = { ...contact.embeddedData, ...input.embeddedData };
    this.contactsByExtRef.add(contact.extRef, contact.id);
    this.contactsByEmail.add(contact.email, contact.id);
    return contact;
  }

  /** Returns contacts whose extRef equals `extRef` exactly, because the index ignores case. */
  private contactsWithExtRef(extRef: string): QualtricsContact[] {
    const contacts = this.contactsByExtRef.get(extRef).map(id => this.contacts.get(id)!);
    return contacts.filter(contact => contact.extRef === extRef);
  }

  private requireContactsByExtRef(extRef: string): QualtricsContact[] {
    const contacts = this.contactsWithExtRef(extRef);
    if (contacts.length === 0) throw new Error(`No sandbox contact has extRef ${extRef}. Seed it first.`);
    return contacts;
  }

  private searchContacts(directoryId: string, body: unknown, url: URL): ApiResult {
    this.requireDirectory(directoryId);
    const filter = requireObject(requireObject(body, 'Request body').filter, 'filter');
    const matches = this.candidatesFor(filter).filter(compileContactFilter(filter));
    const page = paginate(matches.map(contact => this.contactElement(contact)), url, COLLECTION_PAGE_SIZE);
    return { result: page, items: page.elements.length };
  }

  /** Narrows a search to indexed contacts when the filter is a single extRef or email comparison. */
  private candidatesFor(filter: Record<string, unknown>): QualtricsContact[] {
    let index: ContactIndex | undefined;
    if (filter.filterType === 'extRef') index = this.contactsByExtRef;
    if (filter.filterType === 'email') index = this.contactsByEmail;
    if (!index || typeof filter.value !== 'string') return [...this.contacts.values()];
    return index.get(filter.value).map(id => this.contacts.get(id)!);
  }

  /**
   * Builds a search element. NOTE: third-party clients read `externalDataReference` from search results
   * while create takes `extRef`. Which name the search returns is not confirmed, so both are present.
   */
  private contactElement(contact: QualtricsContact) {
    return {
      id: contact.id,
      firstName: contact.firstName ?? null,
      lastName: contact.lastName ?? null,
      email: contact.email ?? null,
      phone: contact.phone ?? null,
      extRef: contact.extRef ?? null,
      externalDataReference: contact.extRef ?? null,
      language: contact.language ?? null,
      unsubscribed: contact.unsubscribed,
      embeddedData: { ...contact.embeddedData },
      mailingListMembership: {
        [contact.mailingListId]: { contactLookupId: contact.lookupId, unsubscribed: contact.unsubscribed },
      },
    };
  }

  // --- transactions ---

  private createTransactions(directoryId: string, body: unknown): ApiResult {
    this.requireDirectory(directoryId);
    const entries = Object.entries(requireObject(body, 'Request body'));
    if (entries.length === 0) throw badRequest('Request body must contain at least one transaction.');
    const created: Record<string, { id: string }> = {};
    // NOTE: the shape of unprocessedTransactions entries is not confirmed.
    const unprocessed: Record<string, { errorCode: string; errorMessage: string }> = {};
    for (const [key, value] of entries) {
      try {
        const transaction = this.parseTransaction(value);
        this.transactions.set(transaction.id, transaction);
        created[key] = { id: transaction.id };
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        unprocessed[key] = { errorCode: error.code, errorMessage: error.message };
      }
    }
    const result = { createdTransactions: created, unprocessedTransactions: unprocessed };
    return { result, items: Object.keys(created).length };
  }

  private parseTransaction(value: unknown): TransactionRecord {
    const item = requireObject(value, 'Transaction');
    const contactId = requiredString(item, 'contactId');
    if (!this.contacts.has(contactId)) {
      throw badRequest(`Contact ${contactId} not found in ${this.directoryId}.`);
    }
    const mailingListId = requiredString(item, 'mailingListId');
    if (mailingListId !== this.mailingListId) throw badRequest(`Mailing list ${mailingListId} not found.`);
    const transactionDate = requiredString(item, 'transactionDate');
    if (!TRANSACTION_DATE_FORMAT.test(transactionDate)) {
      throw badRequest(`transactionDate must have the format YYYY-MM-DD HH:MM:SS, got ${transactionDate}.`);
    }
    const data = optionalStringMap(item.data, 'data') ?? {};
    // NOTE: the CTR_ prefix of transaction ids is not confirmed.
    return { id: newId('CTR_'), contactId, mailingListId, transactionDate, data };
  }

  private createTransactionBatch(directoryId: string, body: unknown): ApiResult {
    this.requireDirectory(directoryId);
    const request = requireObject(body, 'Request body');
    const ids = request.transactionIds;
    if (!Array.isArray(ids) || ids.some(id => typeof id !== 'string')) {
      throw badRequest('transactionIds must be an array of transaction ids.');
    }
    const unknown = (ids as string[]).filter(id => !this.transactions.has(id));
    if (unknown.length > 0) throw badRequest(`Transactions not found: ${unknown.slice(0, 5).join(', ')}.`);
    const creationDate = optionalString(request, 'creationDate') ?? new Date().toISOString();
    if (Number.isNaN(parseDateTime(creationDate))) {
      throw badRequest(`creationDate must be an ISO-8601 date-time, got ${creationDate}.`);
    }
    // NOTE: the BT_ prefix of transaction batch ids is not confirmed.
    const transactionIds = [...(ids as string[])];
    const batch: TransactionBatchRecord = { id: newId('BT_'), transactionIds, creationDate };
    this.transactionBatches.set(batch.id, batch);
    return { result: { id: batch.id }, items: batch.transactionIds.length };
  }

  // --- transaction contact imports ---

  /**
   * Imports contacts into the mailing list and, with `transactionMeta.batchId`, one transaction per
   * contact into that transaction batch. The import completes `importDurationMs` after it was accepted,
   * so clients have to poll its status. NOTE: the per-request contact limit is not confirmed;
   * `maxImportContacts` makes it a setting.
   */
  private importTransactionContacts(directoryId: string, mailingListId: string, body: unknown): ApiResult {
    this.requireDirectory(directoryId);
    this.requireMailingList(mailingListId);
    const request = requireObject(body, 'Request body');
    const contacts = request.contacts;
    if (!Array.isArray(contacts) || contacts.length === 0) throw badRequest('contacts must be a non-empty array.');
    if (contacts.length > this.settings.maxImportContacts) {
      throw badRequest(`An import takes at most ${this.settings.maxImportContacts} contacts, got ${contacts.length}.`);
    }
    const meta = request.transactionMeta === undefined ? undefined : requireObject(request.transactionMeta, 'transactionMeta');
    const batchId = meta ? optionalString(meta, 'batchId') : undefined;
    const batch = batchId ? this.transactionBatches.get(batchId) : undefined;
    if (batchId && !batch) throw badRequest(`Transaction batch ${batchId} not found.`);
    const summary = { added: 0, updated: 0, failed: 0, transactions: 0 };
    const transactionDate = new Date().toISOString().replace('T', ' ').slice(0, 19);
    for (const value of contacts) {
      const item = requireObject(value, 'Contact');
      const input = parseContactInput({ ...item, transactionData: undefined });
      const existing = this.findDuplicate(input);
      const contact = existing ? this.updateContact(existing, input) : this.insertContact(input);
      summary[existing ? 'updated' : 'added']++;
      const data = optionalStringMap(item.transactionData, 'transactionData') ?? {};
      const transaction: TransactionRecord = { id: newId('CTR_'), contactId: contact.id, mailingListId, transactionDate, data };
      this.transactions.set(transaction.id, transaction);
      summary.transactions++;
      if (batch) batch.transactionIds.push(transaction.id);
    }
    const importId = newId('PGR_');
    this.imports.set(importId, { id: importId, mailingListId, summary, readyAt: Date.now() + this.settings.importDurationMs });
    const result = { id: importId, contacts: { count: contacts.length }, tracking: { url: `${this.url}/API/v3/directories/${directoryId}/mailinglists/${mailingListId}/transactioncontacts/${importId}` }, status: 'in progress' };
    return { result, items: contacts.length };
  }

  private requireImport(directoryId: string, mailingListId: string, importId: string) {
    this.requireDirectory(directoryId);
    this.requireMailingList(mailingListId);
    const record = this.imports.get(importId);
    if (!record) throw notFound(`Import ${importId} not found.`);
    return record;
  }

  private contactImportStatus(directoryId: string, mailingListId: string, importId: string): ApiResult {
    const record = this.requireImport(directoryId, mailingListId, importId);
    const complete = Date.now() >= record.readyAt;
    return { result: { percentComplete: complete ? 100 : 50, status: complete ? 'complete' : 'in progress' } };
  }

  private contactImportSummary(directoryId: string, mailingListId: string, importId: string): ApiResult {
    const { summary } = this.requireImport(directoryId, mailingListId, importId);
    const result = {
      contacts: { count: { added: summary.added, updated: summary.updated, failed: summary.failed } },
      invalidEmails: [],
      transactions: { count: { created: summary.transactions } }
    };
    return { result };
  }

  // --- distributions and links ---

  private createDistribution(body: unknown): ApiResult {
    const request = this.parseDistributionRequest(requireObject(body, 'Request body'));
    const recipients =
      request.action === 'CreateTransactionBatchDistribution'
        ? this.batchRecipients(request.transactionBatchId!)
        : this.mailingListRecipients();
    const distribution = this.recordDistribution(request);
    const tokens = recipients.map(recipient => this.issueLink(distribution, recipient));
    this.distributionTokens.set(distribution.id, tokens);
    return { result: { id: distribution.id }, items: tokens.length };
  }

  private parseDistributionRequest(body: Record<string, unknown>): DistributionRequest {
    const action = requiredString(body, 'action') as DistributionAction;
    if (!DISTRIBUTION_ACTIONS.includes(action)) {
      throw badRequest(`Unsupported action ${action}, expected ${DISTRIBUTION_ACTIONS.join(' or ')}.`);
    }
    const surveyId = requiredString(body, 'surveyId');
    this.requireActiveSurvey(surveyId);
    const linkType = requiredString(body, 'linkType') as LinkType;
    if (!LINK_TYPES.includes(linkType)) throw badRequest(`linkType must be one of ${LINK_TYPES.join(', ')}.`);

    const mailingListId = optionalString(body, 'mailingListId');
    const needsMailingList = action === 'CreateDistribution' || this.settings.requireBatchMailingListId;
    if (needsMailingList && !mailingListId) throw badRequest('mailingListId is required.');
    if (mailingListId !== undefined && mailingListId !== this.mailingListId) {
      throw badRequest(`Mailing list ${mailingListId} not found.`);
    }
    let transactionBatchId: string | undefined;
    if (action === 'CreateTransactionBatchDistribution') {
      transactionBatchId = requiredString(body, 'transactionBatchId');
      if (!this.transactionBatches.has(transactionBatchId)) {
        throw badRequest(`Transaction batch ${transactionBatchId} not found.`);
      }
    }
    const description = optionalString(body, 'description') ?? '';
    const expirationDate = this.parseExpirationDate(body.expirationDate);
    return { action, surveyId, mailingListId, transactionBatchId, linkType, description, expirationDate };
  }

  private requireActiveSurvey(surveyId: string): void {
    const survey = this.surveys.get(surveyId);
    if (!survey) throw badRequest(`Survey ${surveyId} not found.`);
    if (!survey.isActive) {
      throw badRequest(`Survey ${surveyId} is not active. Activate it before generating links.`);
    }
  }

  private parseExpirationDate(value: unknown): Date {
    if (value === undefined || value === null) {
      return new Date(Date.now() + this.settings.defaultLinkExpiryDays * 86_400_000);
    }
    if (typeof value !== 'string') throw badRequest('expirationDate must be a string.');
    const time = parseDateTime(value);
    if (Number.isNaN(time)) {
      const example = '2025-03-16T00:00:00Z';
      throw badRequest(`expirationDate must be an ISO-8601 date-time such as ${example}, got ${value}.`);
    }
    if (time <= Date.now()) throw badRequest(`expirationDate must be in the future, got ${value}.`);
    return new Date(time);
  }

  private batchRecipients(batchId: string): Recipient[] {
    return this.transactionBatches.get(batchId)!.transactionIds.map(transactionId => {
      const transaction = this.transactions.get(transactionId)!;
      return { contact: this.contacts.get(transaction.contactId)!, transactionId };
    });
  }

  private mailingListRecipients(): Recipient[] {
    const contacts = [...this.contacts.values()];
    const members = contacts.filter(contact => contact.mailingListId === this.mailingListId);
    return members.map(contact => ({ contact }));
  }

  private recordDistribution(request: DistributionRequest): QualtricsDistribution {
    const now = new Date().toISOString();
    const distribution: QualtricsDistribution = {
      id: newId('EMD_'),
      parentDistributionId: null,
      ownerId: USER_ID,
      organizationId: BRAND_ID,
      requestStatus: 'Generated',
      requestType: 'GeneratedInvite',
      sendDate: now,
      createdDate: now,
      modifiedDate: now,
      description: request.description,
      recipients: {
        mailingListId: request.mailingListId ?? null,
        contactId: null,
        transactionBatchId: request.transactionBatchId ?? null,
      },
      surveyLink: {
        surveyId: request.surveyId,
        expirationDate: request.expirationDate.toISOString(),
        linkType: request.linkType,
      },
    };
    this.distributions.set(distribution.id, distribution);
    return distribution;
  }

  /** Issues one link per recipient. Every link type gets a personal URL in the sandbox. */
  private issueLink(distribution: QualtricsDistribution, recipient: Recipient): string {
    const token = newLinkToken();
    const { surveyId, expirationDate, linkType } = distribution.surveyLink;
    this.links.set(token, {
      token,
      url: `${this.url}/jfe/form/${surveyId}?Q_DL=${token}`,
      distributionId: distribution.id,
      surveyId,
      contactId: recipient.contact.id,
      transactionId: recipient.transactionId,
      expiresAt: expirationDate,
      used: false,
      linkType,
    });
    return token;
  }

  private listDistributions(url: URL): ApiResult {
    const surveyId = url.searchParams.get('surveyId');
    if (!surveyId) throw badRequest('Parameter surveyId is required.');
    if (!this.surveys.has(surveyId)) throw badRequest(`Survey ${surveyId} not found.`);
    const mailingListId = url.searchParams.get('mailingListId');
    const requestType = url.searchParams.get('distributionRequestType');
    const matching = [...this.distributions.values()].filter(
      distribution =>
        distribution.surveyLink.surveyId === surveyId &&
        (mailingListId === null || distribution.recipients.mailingListId === mailingListId) &&
        (requestType === null || distribution.requestType === requestType),
    );
    const page = paginate(matching, url, parsePageSize(url.searchParams.get('pageSize')));
    return { result: page, items: page.elements.length };
  }

  private listLinks(distributionId: string, url: URL): ApiResult {
    const distribution = this.distributions.get(distributionId);
    if (!distribution) throw notFound(`Distribution ${distributionId} not found.`);
    const surveyId = url.searchParams.get('surveyId');
    if (!surveyId) throw badRequest('Parameter surveyId is required.');
    if (surveyId !== distribution.surveyLink.surveyId) {
      throw badRequest(`Distribution ${distributionId} does not belong to survey ${surveyId}.`);
    }
    const tokens = this.distributionTokens.get(distributionId) ?? [];
    const page = paginate(tokens, url, this.settings.linkPageSize);
    const elements = page.elements.map(token => this.linkElement(this.links.get(token)!));
    return { result: { elements, nextPage: page.nextPage }, items: elements.length };
  }

  /**
   * Builds a links-list element from the contact's current flags. Qualtrics updates contact frequency
   * when this list is read, which the sandbox does not simulate.
   */
  private linkElement(link: IssuedLink) {
    const contact = this.contacts.get(link.contactId)!;
    const blocked = contact.unsubscribed || contact.exceededContactFrequency;
    const hidden = blocked && this.settings.blockedContactLinks === 'null';
    return {
      contactId: this.settings.linkContactIdKind === 'CGC' ? contact.lookupId : contact.id,
      transactionId: link.transactionId ?? null,
      link: hidden ? null : link.url,
      exceededContactFrequency: contact.exceededContactFrequency,
      linkExpiration: link.expiresAt,
      status: 'Email not sent',
      lastName: contact.lastName ?? null,
      firstName: contact.firstName ?? null,
      externalDataReference: contact.extRef ?? null,
      email: contact.email ?? null,
      unsubscribed: contact.unsubscribed,
    };
  }

  // --- surveys and responses ---

  private getSurvey(surveyId: string) {
    const survey = this.surveys.get(surveyId);
    if (!survey) throw notFound(`Survey ${surveyId} not found.`);
    return {
      id: survey.id,
      name: survey.name,
      ownerId: USER_ID,
      organizationId: BRAND_ID,
      isActive: survey.isActive,
      creationDate: survey.creationDate,
      lastModifiedDate: survey.lastModifiedDate,
      expiration: { startDate: null, endDate: null },
    };
  }

  private getResponse(surveyId: string, responseId: string): ApiResult {
    this.getSurvey(surveyId);
    const response = this.responses.get(responseId);
    if (!response || response.surveyId !== surveyId) {
      throw notFound(`Response ${responseId} not found in survey ${surveyId}.`);
    }
    const display = this.responseDisplays.get(responseId)!;
    return { result: { responseId, values: { ...response.values }, ...display } };
  }
}

/** Compiles a search filter: one `{filterType, comparison: 'eq', value}` or an and/or conjunction. */
function compileContactFilter(filter: Record<string, unknown>): (contact: QualtricsContact) => boolean {
  if (filter.conjunction !== undefined) {
    if (filter.conjunction !== 'and' && filter.conjunction !== 'or') {
      throw badRequest(`conjunction must be and or or, got ${JSON.stringify(filter.conjunction)}.`);
    }
    if (!Array.isArray(filter.filters) || filter.filters.length === 0) {
      throw badRequest('filters must be a non-empty array.');
    }
    const parts = filter.filters.map(part => compileContactFilter(requireObject(part, 'filter')));
    if (filter.conjunction === 'and') return contact => parts.every(part => part(contact));
    return contact => parts.some(part => part(contact));
  }
  const filterType = requiredString(filter, 'filterType');
  const comparison = requiredString(filter, 'comparison');
  const value = optionalString(filter, 'value') ?? '';
  if (comparison !== 'eq') {
    throw badRequest(`Unsupported comparison ${comparison}. The sandbox supports only eq.`);
  }
  const read = CONTACT_FILTER_FIELDS[filterType];
  if (!read) {
    const supported = Object.keys(CONTACT_FILTER_FIELDS).join(', ');
    throw badRequest(`Unsupported filterType ${filterType}, expected one of ${supported}.`);
  }
  // E-mail addresses compare case-insensitively, every other field exactly.
  const expected = filterType === 'email' ? value.toLowerCase() : value;
  return contact => read(contact) === expected;
}

const CONTACT_FILTER_FIELDS: Record<string, (contact: QualtricsContact) => string | undefined> = {
  extRef: contact => contact.extRef,
  email: contact => contact.email?.toLowerCase(),
  phone: contact => contact.phone,
  firstName: contact => contact.firstName,
  lastName: contact => contact.lastName,
};

/** Builds an injected 500, 503 or 504 error with an instanceId, as Qualtrics adds to server errors. */
function injectedServerError(): ApiError {
  const choices = [
    { status: 500, code: CODES.internalError, message: 'Internal server error.' },
    { status: 503, code: CODES.temporaryError, message: 'Temporary internal server error. Try again later.' },
    { status: 504, code: CODES.gatewayTimeout, message: 'The request timed out.' },
  ];
  const choice = choices[Math.floor(Math.random() * choices.length)];
  return new ApiError(choice.status, choice.code, choice.message, {}, randomUUID());
}

/** Starts the stand-in on 127.0.0.1 and returns it once it listens. */
export async function startQualtricsSandbox(
  options: QualtricsSandboxOptions = {},
): Promise<QualtricsSandbox> {
  const sandbox = new QualtricsSandboxServer(options);
  await sandbox.start(options.port ?? 0);
  return sandbox;
}

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

const CLI_USAGE = `Usage: tsx sandbox/qualtrics.ts [options]

Starts the local Qualtrics API v3 stand-in on 127.0.0.1.

Options:
  --port N                 port to listen on (default 0, a free port)
  --datacenter ID          home datacenter of the brand (default fra1)
  --served-datacenter ID   datacenter this server pretends to be; a different value adds the proxy notice
  --rate-limit N           brand-wide maximum of API requests per minute (default 3000)
  --link-page-size N       links per page of the links list (default 100)
  --link-contact-id KIND   id in the links list contactId: CGC or CID (default CGC)
  --help                   print this text`;

function parseCliNumber(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) {
    throw new Error(`--${name} must be a whole number, got ${value}`);
  }
  return number;
}

async function runCli(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string' },
      datacenter: { type: 'string' },
      'served-datacenter': { type: 'string' },
      'rate-limit': { type: 'string' },
      'link-page-size': { type: 'string' },
      'link-contact-id': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(CLI_USAGE);
    return;
  }
  const sandbox = await startQualtricsSandbox({
    port: parseCliNumber(values.port, 'port'),
    datacenter: values.datacenter,
    servedDatacenter: values['served-datacenter'],
    rateLimitPerMinute: parseCliNumber(values['rate-limit'], 'rate-limit'),
    linkPageSize: parseCliNumber(values['link-page-size'], 'link-page-size'),
    linkContactIdKind: values['link-contact-id'] as 'CGC' | 'CID' | undefined,
    log: line => console.log(line),
  });
  console.log(`Qualtrics sandbox listening on ${sandbox.url}`);
  console.log(`  API:   ${sandbox.apiUrl} (X-API-TOKEN: ${DEFAULT_SETTINGS.apiToken})`);
  console.log(`  OAuth: ${sandbox.tokenUrl} (client ${DEFAULT_SETTINGS.clientId})`);
  console.log(`  Admin: ${sandbox.url}/__sandbox/state`);
  const stop = async (signal: string) => {
    console.log(`Qualtrics sandbox stopping on ${signal}`);
    await sandbox.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

if (require.main === module) {
  runCli(process.argv.slice(2)).catch(error => {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`Qualtrics sandbox failed to start: ${message}`);
    process.exitCode = 1;
  });
}
