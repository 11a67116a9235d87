/**
 * Local stand-in for the SAP Emarsys Core API on loopback: API v2 with WSSE, API v3 with OAuth 2.0
 * bearer tokens, external event triggers, contact updates and reads, and field and event lists.
 * It checks requests the way the Emarsys v2 reference documents them and replies with the
 * `{replyCode, replyText, data}` envelope. Accepted triggers are recorded as mails.
 *
 * Run `npx tsx sandbox/emarsys.ts [port]` to start it alone. The port defaults to EMARSYS_SANDBOX_PORT or 0.
 */
import http from 'node:http';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  BodyTooLargeError,
  CallLog,
  type Faults,
  MinuteWindow,
  NO_FAULTS,
  applyFaults,
  close,
  listen,
  readBody,
  sendJson,
} from './kit';

export interface EmarsysContact {
  id: string;
  uid: string;
  /** Values keyed by field id as a string, e.g. '3' email, '1' first name. */
  fields: Record<string, string | null>;
}

export interface EmarsysField {
  id: number;
  name: string;
  application_type: 'shorttext' | 'longtext' | 'largetext' | 'date' | 'url' | 'numeric';
  string_id: string;
}

export interface EmarsysSandboxOptions {
  /** TCP port on 127.0.0.1, where 0 (the default) picks a free port. */
  port?: number;
  /** WSSE credentials for API v2, defaults 'sandbox001' / 'sandbox-wsse-secret'. */
  apiUser?: string;
  apiSecret?: string;
  /** OAuth 2.0 client credentials for API v3, defaults 'sandbox-client' / 'sandbox-client-secret'. */
  clientId?: string;
  clientSecret?: string;
  /** Lifetime of issued access tokens in seconds, default 3600. */
  tokenLifetimeSeconds?: number;
  /** Requests per minute per API user or client id, default 1000. */
  rateLimitPerMinute?: number;
  /** Maximum contacts per trigger, contact update or getdata request, default 1000. */
  maxBatch?: number;
  /** Reject triggers of events without a program or email with 400/5005 (default false). */
  requireConnectedProgram?: boolean;
  /** Server clock offset in milliseconds, used for WSSE Created checks and the Date header (default 0). */
  clockSkewMs?: number;
  faults?: Partial<Faults>;
  /** Accept JSON numbers as contact field values and store them as strings (default true). */
  acceptJsonNumbers?: boolean;
  /** One request window per credential (default) or one per credential and endpoint. */
  rateLimitScope?: 'credential' | 'endpoint';
  /** Batch trigger errors as an object keyed by external id (default) or as a getdata-style list. */
  triggerErrorsShape?: 'object' | 'list';
  /** Fraction of injected 5xx faults sent as 503 with a plain-text body, default 0.2. */
  plain503Fraction?: number;
}

export interface MailRecord {
  eventId: string;
  contactId: string;
  externalId: string;
  keyId: string;
  triggerId?: string;
  data: any;
  at: number;
}

export interface EmarsysSandbox {
  /** http://127.0.0.1:PORT */
  url: string;
  apiV2Url: string;
  apiV3Url: string;
  tokenUrl: string;
  /**
   * Every API and token request. Operations: token, trigger, triggerBatch, contactUpdate, contactGetData,
   * eventList, eventGet, eventUsages, fieldList, settings, other. Requests to /__sandbox are not logged.
   */
  calls: CallLog;
  /** Contacts by internal id. */
  contacts: Map<string, EmarsysContact>;
  fields: EmarsysField[];
  events: Map<string, { id: string; name: string; programIds: number[]; emailIds: number[] }>;
  /** One record per contact mailed: the first receipt of a trigger_id, or every trigger without one. */
  mails: MailRecord[];
  /** Receipts per trigger_id. A count above 1 means Emarsys suppressed a duplicate delivery. */
  triggerCounts: Map<string, number>;
  /** Number of trigger_ids received more than once. */
  duplicateTriggers(): number;
  /** Every field write applied by PUT /contact, including the fields of created contacts. */
  contactUpdates: Array<{ contactId: string; fields: Record<string, string | null>; at: number }>;
  /** PUT /contact requests that carried create_if_not_exists. */
  createIfNotExistsCalls: number;
  addContact(fields: Record<string, string | null>): EmarsysContact;
  addEvent(name: string, opts?: { programIds?: number[]; emailIds?: number[] }): string;
  addField(name: string, type: EmarsysField['application_type']): number;
  setFaults(f: Partial<Faults>): void;
  setOptions(o: Partial<EmarsysSandboxOptions>): void;
  on(event: 'mail', listener: (m: MailRecord) => void): void;
  close(): Promise<void>;
}

type Settings = Required<Omit<EmarsysSandboxOptions, 'faults'>>;

const DEFAULT_SETTINGS: Settings = {
  port: 0,
  apiUser: 'sandbox001',
  apiSecret: 'sandbox-wsse-secret',
  clientId: 'sandbox-client',
  clientSecret: 'sandbox-client-secret',
  tokenLifetimeSeconds: 3600,
  rateLimitPerMinute: 1000,
  maxBatch: 1000,
  requireConnectedProgram: false,
  clockSkewMs: 0,
  // NOTE: whether numeric fields accept JSON numbers as well as strings is not documented.
  acceptJsonNumbers: true,
  // NOTE: Emarsys documents one limit per API user, but its 429 text ("for this account and resource")
  // suggests per-endpoint windows, which 'endpoint' simulates.
  rateLimitScope: 'credential',
  // NOTE: the inner shape of batch trigger errors is not documented. 'object' follows the contact endpoints.
  triggerErrorsShape: 'object',
  plain503Fraction: 0.2,
};

const STANDARD_FIELDS: EmarsysField[] = [
  { id: 1, name: 'First Name', application_type: 'shorttext', string_id: 'first_name' },
  { id: 2, name: 'Last Name', application_type: 'shorttext', string_id: 'last_name' },
  { id: 3, name: 'Email', application_type: 'longtext', string_id: 'email' },
  { id: 4, name: 'Date of Birth', application_type: 'date', string_id: 'birth_date' },
  { id: 9, name: 'Title', application_type: 'shorttext', string_id: 'title' },
  { id: 10, name: 'Address', application_type: 'longtext', string_id: 'address' },
  { id: 11, name: 'City', application_type: 'shorttext', string_id: 'city' },
  { id: 12, name: 'State', application_type: 'shorttext', string_id: 'state' },
  { id: 13, name: 'ZIP Code', application_type: 'shorttext', string_id: 'zip' },
  { id: 15, name: 'Phone', application_type: 'shorttext', string_id: 'phone' },
  { id: 18, name: 'Company', application_type: 'shorttext', string_id: 'company' },
  { id: 25, name: 'URL', application_type: 'url', string_id: 'url' },
  // Emarsys types opt-in as a single-choice field (1 = true, 2 = false). The type list here has no
  // choice type, so the field is listed as shorttext and its choices are checked separately.
  { id: 31, name: 'Opt-In', application_type: 'shorttext', string_id: 'optin' },
  { id: 37, name: 'Mobile', application_type: 'shorttext', string_id: 'mobile' },
  { id: 10001, name: 'nps_score', application_type: 'numeric', string_id: 'nps_score' },
  { id: 10002, name: 'nps_category', application_type: 'shorttext', string_id: 'nps_category' },
];

const FIELD_TYPES: ReadonlyArray<EmarsysField['application_type']> =
  ['shorttext', 'longtext', 'largetext', 'date', 'url', 'numeric'];

const OPT_IN_FIELD_ID = '31';
const OPT_IN_CHOICES = new Set(['1', '2']);
const DEFAULT_EVENT = { id: '4711', name: 'nps_survey_invite', programIds: [9001], emailIds: [] as number[] };
const FIRST_CUSTOM_FIELD_ID = 10003;
/** Account settings of GET settings, as in the Emarsys v2 reference "Querying Customer Settings". */
const ACCOUNT_SETTINGS = {
  id: 900001,
  timezone: 'Europe/Vienna',
  name: 'sandbox_account',
  password_history_queue_size: 3,
  country: '',
};
const FIRST_CONTACT_ID = 100000001;

const WSSE_WINDOW_MS = 5 * 60_000;
const NONCE_MEMORY_MS = 10 * 60_000;
const NONCE_PATTERN = /^[0-9a-f]{32}$/i;
const WSSE_CREATED_PATTERN = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?)(Z|[+-]\d{2}:?\d{2})?$/;
/** Emarsys accepts event_time only as 2007-03-01T13:00:00Z or with milliseconds, 2007-03-01T13:00:00.000Z. */
const EVENT_TIME_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z$/;
const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
const LANGUAGE_PATTERN = /^[a-z]{2}(?:-[a-z]{2})?$/i;
const TOO_MANY_REQUESTS = 'Too many requests for this account and resource within the last minute.';
/** Emarsys numeric fields hold at most 24 digits. */
const NUMERIC_PATTERN = /^-?(?=(?:\D*\d){1,24}\D*$)\d+(?:\.\d+)?$/;

// Request body limits. Emarsys limits event payloads to 1 MB and contact requests to 8 MB (10 MB when
// creating). NOTE: whether the 1 MB counts per request body or per event in a batch is not documented,
// so the stand-in applies it to the whole trigger body.
const TRIGGER_BODY_LIMIT = 1024 * 1024;
const CONTACT_BODY_LIMIT = 8 * 1024 * 1024;
const CONTACT_CREATE_BODY_LIMIT = 10 * 1024 * 1024;
const OTHER_BODY_LIMIT = 64 * 1024;
const ADMIN_BODY_LIMIT = 16 * 1024 * 1024;

/** An Emarsys error reply that a handler raises and the request loop sends. */
class ApiError extends Error {
  constructor(readonly status: number, readonly replyCode: number, readonly replyText: string) {
    super(replyText);
  }
}

function invalidParameter(detail: string): ApiError {
  return new ApiError(400, 1001, `One or more parameters are invalid or missing: ${detail}.`);
}

/** A per-contact error that Emarsys reports inside a 200 reply, keyed by the contact's key value. */
class ItemError {
  constructor(readonly code: number, readonly text: string) {}
}

interface RequestContext {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  startedAt: number;
  path: string;
  query: URLSearchParams;
  operation: string;
  code?: string | number;
  items?: number;
}

interface Route {
  method: string;
  pattern: RegExp;
  operation: string;
  bodyLimit: (ctx: RequestContext) => number;
  handle: (ctx: RequestContext, params: string[], body: Buffer) => void;
}

interface RouteMatch {
  route: Route;
  params: string[];
}

/** A request body, or 'tooLarge' when it exceeded the route's limit. */
type ApiBody = Buffer | 'tooLarge';

interface TriggerItem {
  externalId: string;
  data?: Record<string, unknown>;
  triggerId?: string;
}

/** Computes the Emarsys WSSE PasswordDigest: Base64 of the lowercase hex SHA-1 of nonce+created+secret. */
export function wsseDigest(nonce: string, created: string, secret: string): string {
  const hex = createHash('sha1').update(nonce + created + secret).digest('hex');
  return Buffer.from(hex, 'utf8').toString('base64');
}

/** Parses `UsernameToken Username="..", PasswordDigest="..", Nonce="..", Created=".."`. */
function parseWsseHeader(header: string): Record<string, string> | undefined {
  const trimmed = header.trim();
  if (!trimmed.startsWith('UsernameToken ')) return undefined;
  const params: Record<string, string> = {};
  for (const match of trimmed.matchAll(/(\w+)="([^"]*)"/g)) params[match[1]] = match[2];
  return params;
}

/**
 * Converts a WSSE Created value to epoch milliseconds, or NaN when it is not ISO 8601.
 * Emarsys treats Z, +00:00 and +0000 alike and reads a value without zone as GMT+1.
 */
function parseWsseCreated(created: string): number {
  const match = WSSE_CREATED_PATTERN.exec(created);
  if (!match) return NaN;
  let zone = match[2] ?? '+01:00';
  if (zone !== 'Z' && !zone.includes(':')) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
  return Date.parse(match[1] + zone);
}

function parseBasicAuth(header: string | undefined): { id: string; secret: string } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { id: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}

function safeEqual(actual: string, expected: string): boolean {
  const a = Buffer.from(actual);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Decodes a percent-encoded path segment, keeping it as sent when it is malformed. */
function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Returns a key value as a string, or undefined when it is missing, empty or not a scalar. */
function keyValueOf(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'string' && value !== '') return value;
  return undefined;
}

function isValidEventTime(value: unknown): boolean {
  return typeof value === 'string' && EVENT_TIME_PATTERN.test(value) && !Number.isNaN(Date.parse(value));
}

function isValidDate(value: string): boolean {
  if (!DATE_PATTERN.test(value)) return false;
  const parsed = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().startsWith(value);
}

/** Formats a timestamp the way Emarsys lists `created`, e.g. 2024-01-01 12:00:00. */
function formatEmarsysTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

function stringId(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');
}

function waitForRequestEnd(req: http.IncomingMessage): Promise<void> {
  return new Promise(resolve => {
    if (req.readableEnded || req.destroyed) return resolve();
    req.once('end', resolve);
    req.once('close', resolve);
  });
}

class EmarsysServer implements EmarsysSandbox {
  url = '';
  apiV2Url = '';
  apiV3Url = '';
  tokenUrl = '';
  readonly calls = new CallLog();
  readonly contacts = new Map<string, EmarsysContact>();
  readonly fields: EmarsysField[] = STANDARD_FIELDS.map(field => ({ ...field }));
  readonly events: EmarsysSandbox['events'] = new Map();
  readonly mails: MailRecord[] = [];
  readonly triggerCounts = new Map<string, number>();
  readonly contactUpdates: EmarsysSandbox['contactUpdates'] = [];
  createIfNotExistsCalls = 0;

  private readonly settings: Settings;
  private faults: Faults;
  private readonly window: MinuteWindow;
  private readonly emitter = new EventEmitter();
  private readonly server = http.createServer((req, res) => void this.handleRequest(req, res));
  /** Access token -> client id and expiry (epoch ms). */
  private readonly tokens = new Map<string, { clientId: string; expiresAt: number }>();
  /** WSSE nonce -> epoch ms when it was first accepted, in insertion order. */
  private readonly seenNonces = new Map<string, number>();
  private readonly eventCreatedAt = new Map<string, number>();
  private readonly routes: Route[];
  private nextContactId = FIRST_CONTACT_ID;
  private nextFieldId = FIRST_CUSTOM_FIELD_ID;
  /** The constructor's first addEvent call takes this id for the default invite event. */
  private nextEventId = Number(DEFAULT_EVENT.id);

  constructor(options: EmarsysSandboxOptions) {
    const { faults, ...settings } = options;
    this.settings = { ...DEFAULT_SETTINGS, ...stripUndefined(settings) };
    this.faults = { ...NO_FAULTS, ...faults };
    this.window = new MinuteWindow(this.settings.rateLimitPerMinute, () => this.serverNow());
    this.addEvent(DEFAULT_EVENT.name, DEFAULT_EVENT);
    this.routes = this.buildRoutes();
  }

  async start(): Promise<void> {
    const { url } = await listen(this.server, this.settings.port);
    this.url = url;
    this.apiV2Url = `${url}/api/v2/`;
    this.apiV3Url = `${url}/api/v3/`;
    this.tokenUrl = `${url}/oauth2/token`;
  }

  close(): Promise<void> {
    return close(this.server);
  }

  // ---------------------------------------------------------------- seeding and knobs

  addContact(fields: Record<string, string | null>): EmarsysContact {
    const known = this.fieldsById();
    for (const [fieldId, value] of Object.entries(fields)) {
      if (!known.has(fieldId)) {
        throw new Error(`Unknown field id ${fieldId}; add the field with addField first.`);
      }
      if (value !== null && typeof value !== 'string') {
        throw new Error(`Invalid value for field ${fieldId}: expected string or null, got ${typeof value}.`);
      }
    }
    return this.createContact({ ...fields });
  }

  addEvent(name: string, opts: { programIds?: number[]; emailIds?: number[] } = {}): string {
    for (const event of this.events.values()) {
      if (event.name === name) {
        throw new Error(`An external event named '${name}' already exists (id ${event.id}).`);
      }
    }
    while (this.events.has(String(this.nextEventId))) this.nextEventId++;
    const id = String(this.nextEventId++);
    const programIds = [...(opts.programIds ?? [])];
    const emailIds = [...(opts.emailIds ?? [])];
    this.events.set(id, { id, name, programIds, emailIds });
    this.eventCreatedAt.set(id, Date.now());
    return id;
  }

  addField(name: string, type: EmarsysField['application_type']): number {
    if (!FIELD_TYPES.includes(type)) {
      throw new Error(`Invalid field type '${type}'; use one of ${FIELD_TYPES.join(', ')}.`);
    }
    if (this.fields.some(field => field.name === name)) {
      throw new Error(`A field named '${name}' already exists.`);
    }
    while (this.fields.some(field => field.id === this.nextFieldId)) this.nextFieldId++;
    const id = this.nextFieldId++;
    this.fields.push({ id, name, application_type: type, string_id: stringId(name) });
    return id;
  }

  setFaults(f: Partial<Faults>): void {
    this.faults = { ...this.faults, ...f };
  }

  setOptions(o: Partial<EmarsysSandboxOptions>): void {
    const { faults, port: _port, ...settings } = o;
    Object.assign(this.settings, stripUndefined(settings));
    this.window.limit = this.settings.rateLimitPerMinute;
    if (faults) this.setFaults(faults);
  }

  on(event: 'mail', listener: (m: MailRecord) => void): void {
    this.emitter.on(event, listener);
  }

  duplicateTriggers(): number {
    let total = 0;
    for (const count of this.triggerCounts.values()) if (count > 1) total++;
    return total;
  }

  // ---------------------------------------------------------------- request loop

  private serverNow(): number {
    return Date.now() + this.settings.clockSkewMs;
  }

  private async handleRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const ctx: RequestContext = {
      req, res, startedAt: Date.now(), path: url.pathname, query: url.searchParams, operation: 'other',
    };
    res.setHeader('Date', new Date(this.serverNow()).toUTCString());
    try {
      if (ctx.path.startsWith('/__sandbox/')) return await this.handleAdmin(ctx);
      res.on('close', () => this.logCall(ctx));
      if (ctx.path === '/oauth2/token') return await this.handleToken(ctx);
      const version = /^\/api\/(v2|v3)\//.exec(ctx.path)?.[1];
      if (version) return await this.handleApi(ctx, version);
      this.sendError(ctx, new ApiError(404, 1001, 'Not found'));
    } catch (error) {
      this.sendUnexpectedError(ctx, error);
    }
  }

  private logCall(ctx: RequestContext): void {
    this.calls.add({
      at: ctx.startedAt,
      method: ctx.req.method ?? 'GET',
      path: ctx.path,
      operation: ctx.operation,
      status: ctx.res.headersSent ? ctx.res.statusCode : 0,
      code: ctx.code,
      items: ctx.items,
      ms: Date.now() - ctx.startedAt,
    });
  }

  private sendEnvelope(
    ctx: RequestContext, status: number, replyCode: number, replyText: string, data: unknown,
  ): void {
    ctx.code = replyCode;
    if (ctx.res.destroyed || ctx.res.headersSent) return;
    sendJson(ctx.res, status, { replyCode, replyText, data });
  }

  private sendOk(ctx: RequestContext, data: unknown): void {
    this.sendEnvelope(ctx, 200, 0, 'OK', data);
  }

  private sendError(ctx: RequestContext, error: ApiError): void {
    this.sendEnvelope(ctx, error.status, error.replyCode, error.replyText, '');
  }

  private sendUnexpectedError(ctx: RequestContext, error: unknown): void {
    if (error instanceof ApiError) return this.sendError(ctx, error);
    console.error(`Emarsys sandbox: ${ctx.req.method} ${ctx.path} failed:`, error);
    this.sendError(ctx, new ApiError(500, 1003, 'Internal error.'));
  }

  private async handleApi(ctx: RequestContext, version: string): Promise<void> {
    const resourcePath = ctx.path.replace(/^\/api\/v[23]\//, '').replace(/\/+$/, '');
    const matched = this.matchRoute(ctx, resourcePath);
    if (matched) ctx.operation = matched.route.operation;
    const body = await this.readApiBody(ctx, matched?.route);
    if (body === undefined) return;

    const identity = version === 'v3' ? this.authenticateBearer(ctx) : this.authenticateWsse(ctx);
    if (!identity) return;
    if (!this.takeRateLimit(ctx, identity)) return;
    if (await this.injectFault(ctx)) return;

    if (!matched) throw new ApiError(404, 1001, 'Not found');
    if (body === 'tooLarge') throw this.bodyTooLargeError(ctx);
    matched.route.handle(ctx, matched.params, body);
  }

  private matchRoute(ctx: RequestContext, resourcePath: string): RouteMatch | undefined {
    for (const route of this.routes) {
      if (route.method !== ctx.req.method) continue;
      const match = route.pattern.exec(resourcePath);
      if (match) return { route, params: match.slice(1).map(param => decodePathSegment(param ?? '')) };
    }
    return undefined;
  }

  /**
   * Reads the body up to the route's limit. Returns undefined when the client disconnected, which the
   * call log records with status 0.
   */
  private async readApiBody(ctx: RequestContext, route: Route | undefined): Promise<ApiBody | undefined> {
    const limit = route ? route.bodyLimit(ctx) : OTHER_BODY_LIMIT;
    try {
      return await readBody(ctx.req, limit);
    } catch (error) {
      if (!(error instanceof BodyTooLargeError)) return undefined;
      await waitForRequestEnd(ctx.req);
      return 'tooLarge';
    }
  }

  private bodyTooLargeError(ctx: RequestContext): ApiError {
    if (ctx.operation === 'trigger') {
      return new ApiError(400, 5008, 'Event data size above limit for interactions program triggering.');
    }
    // Emarsys documents no reply code for an oversized contact request, so 1001 is the stand-in's choice.
    return new ApiError(400, 1001, 'Request body is larger than the limit for this endpoint.');
  }

  private buildRoutes(): Route[] {
    const smallBody = () => OTHER_BODY_LIMIT;
    return [
      {
        method: 'POST', pattern: /^event\/([^/]+)\/trigger$/, operation: 'trigger',
        bodyLimit: () => TRIGGER_BODY_LIMIT, handle: (ctx, [id], body) => this.triggerEvent(ctx, id, body),
      },
      {
        method: 'PUT', pattern: /^contact$/, operation: 'contactUpdate',
        bodyLimit: ctx => (this.wantsCreate(ctx) ? CONTACT_CREATE_BODY_LIMIT : CONTACT_BODY_LIMIT),
        handle: (ctx, _params, body) => this.updateContacts(ctx, body),
      },
      {
        method: 'POST', pattern: /^contact\/getdata$/, operation: 'contactGetData',
        bodyLimit: () => CONTACT_BODY_LIMIT, handle: (ctx, _params, body) => this.getContactData(ctx, body),
      },
      {
        method: 'GET', pattern: /^event$/, operation: 'eventList',
        bodyLimit: smallBody, handle: ctx => this.listEvents(ctx),
      },
      {
        method: 'GET', pattern: /^event\/([^/]+)$/, operation: 'eventGet',
        bodyLimit: smallBody, handle: (ctx, [id]) => this.getEvent(ctx, id),
      },
      {
        method: 'GET', pattern: /^event\/([^/]+)\/usages$/, operation: 'eventUsages',
        bodyLimit: smallBody, handle: (ctx, [id]) => this.getEventUsages(ctx, id),
      },
      {
        method: 'GET', pattern: /^field(?:\/translate\/([^/]+))?$/, operation: 'fieldList',
        bodyLimit: smallBody, handle: (ctx, [language]) => this.listFields(ctx, language),
      },
      {
        method: 'GET', pattern: /^settings$/, operation: 'settings',
        bodyLimit: smallBody, handle: ctx => this.getSettings(ctx),
      },
    ];
  }

  // ---------------------------------------------------------------- authentication, rate limit, faults

  /** Checks the X-WSSE (or WSSE) header and returns the rate-limit identity, or sends 401. */
  private authenticateWsse(ctx: RequestContext): string | undefined {
    const header = ctx.req.headers['x-wsse'] ?? ctx.req.headers['wsse'];
    const failure = typeof header === 'string' ? this.checkWsse(header) : 'WSSE header is missing';
    if (failure === undefined) return `user:${this.settings.apiUser}`;
    this.sendEnvelope(ctx, 401, 1, `Unauthorized ${failure}`, '');
    return undefined;
  }

  /**
   * Returns why a WSSE header is rejected, or undefined when it is valid. Only the time-frame text is
   * known from the real service, and the other texts are the stand-in's own.
   */
  private checkWsse(header: string): string | undefined {
    const params = parseWsseHeader(header);
    if (!params) return 'WSSE header is not a UsernameToken';
    const { Username: username, PasswordDigest: digest, Nonce: nonce, Created: created } = params;
    if (!username || !digest || !nonce || !created) return 'WSSE header is incomplete';
    if (username !== this.settings.apiUser) return 'Username is invalid';
    if (!NONCE_PATTERN.test(nonce)) return 'Nonce must be 32 hexadecimal characters';
    const createdMs = parseWsseCreated(created);
    if (Number.isNaN(createdMs)) return 'Created is not an ISO 8601 time';
    if (Math.abs(createdMs - this.serverNow()) > WSSE_WINDOW_MS) return 'Time frame is invalid';
    const expected = wsseDigest(nonce, created, this.settings.apiSecret);
    if (!safeEqual(digest, expected)) return 'PasswordDigest is invalid';
    if (!this.rememberNonce(nonce)) return 'Nonce was already used';
    return undefined;
  }

  /** Records a nonce for 10 minutes. Returns false when it was already seen within that time. */
  private rememberNonce(nonce: string): boolean {
    const now = Date.now();
    for (const [seen, at] of this.seenNonces) {
      if (now - at < NONCE_MEMORY_MS) break;
      this.seenNonces.delete(seen);
    }
    if (this.seenNonces.has(nonce)) return false;
    this.seenNonces.set(nonce, now);
    return true;
  }

  /** Checks `Authorization: Bearer <token>` and returns the rate-limit identity, or sends 401. */
  private authenticateBearer(ctx: RequestContext): string | undefined {
    const token = /^Bearer\s+(\S+)$/i.exec(ctx.req.headers.authorization ?? '')?.[1];
    const grant = token === undefined ? undefined : this.tokens.get(token);
    if (grant && grant.expiresAt > Date.now()) return `client:${grant.clientId}`;
    let reason = 'Access token is invalid';
    if (!token) reason = 'Bearer token is missing';
    else if (grant) reason = 'Access token has expired';
    this.sendEnvelope(ctx, 401, 1, `Unauthorized ${reason}`, '');
    return undefined;
  }

  /**
   * Takes one request from the identity's window, sets the rate-limit headers and sends 429 past it.
   * Requests that fail authentication have no identity, so their replies carry no rate-limit headers.
   */
  private takeRateLimit(ctx: RequestContext, identity: string): boolean {
    const key = this.settings.rateLimitScope === 'endpoint' ? `${identity} ${ctx.operation}` : identity;
    const decision = this.window.take(key);
    ctx.res.setHeader('X-RateLimit-Limit', String(decision.limit));
    ctx.res.setHeader('X-Ratelimit-Remaining', String(decision.remaining));
    ctx.res.setHeader('X-RateLimit-Reset', String(decision.resetEpochSeconds));
    if (decision.allowed) return true;
    this.sendEnvelope(ctx, 429, 7003, TOO_MANY_REQUESTS, '');
    return false;
  }

  /** Applies latency and stalls, then sends an injected 5xx or 429 and returns true if one is drawn. */
  private async injectFault(ctx: RequestContext): Promise<boolean> {
    const decision = await applyFaults(this.faults);
    if (decision === 'none') return false;
    if (decision === 'error429') {
      this.sendEnvelope(ctx, 429, 7003, TOO_MANY_REQUESTS, '');
    } else if (Math.random() < this.settings.plain503Fraction) {
      this.sendPlain503(ctx);
    } else {
      this.sendEnvelope(ctx, 500, 1003, 'Internal error.', '');
    }
    return true;
  }

  /** Sends 503 with a plain-text body, as Emarsys does for an overloaded resource. */
  private sendPlain503(ctx: RequestContext): void {
    if (ctx.res.destroyed) return;
    const text = 'The system is overloaded for this resource.';
    ctx.res.writeHead(503, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(text),
    });
    ctx.res.end(text);
  }

  // ---------------------------------------------------------------- OAuth 2.0 token endpoint

  private async handleToken(ctx: RequestContext): Promise<void> {
    ctx.operation = 'token';
    let body: Buffer;
    try {
      body = await readBody(ctx.req, OTHER_BODY_LIMIT);
    } catch (error) {
      if (!(error instanceof BodyTooLargeError)) return;
      await waitForRequestEnd(ctx.req);
      return this.sendOAuthError(ctx, 400, 'invalid_request', 'The request body is too large.');
    }
    if (ctx.req.method !== 'POST') return this.sendOAuthError(ctx, 405, 'invalid_request', 'Use POST.');
    const client = parseBasicAuth(ctx.req.headers.authorization);
    if (!client || !this.isKnownClient(client.id, client.secret)) {
      return this.sendOAuthError(ctx, 401, 'invalid_client', 'Client authentication with HTTP Basic failed.');
    }
    if (!/^application\/x-www-form-urlencoded\b/i.test(ctx.req.headers['content-type'] ?? '')) {
      const description = 'Content-Type must be application/x-www-form-urlencoded.';
      return this.sendOAuthError(ctx, 400, 'invalid_request', description);
    }
    const grantType = new URLSearchParams(body.toString('utf8')).get('grant_type');
    if (!grantType) return this.sendOAuthError(ctx, 400, 'invalid_request', 'grant_type is missing.');
    if (grantType !== 'client_credentials') {
      const description = `Grant type '${grantType}' is not supported; use client_credentials.`;
      return this.sendOAuthError(ctx, 400, 'unsupported_grant_type', description);
    }
    this.issueToken(ctx, client.id);
  }

  private isKnownClient(id: string, secret: string): boolean {
    return safeEqual(id, this.settings.clientId) && safeEqual(secret, this.settings.clientSecret);
  }

  private issueToken(ctx: RequestContext, clientId: string): void {
    const now = Date.now();
    for (const [token, grant] of this.tokens) if (grant.expiresAt <= now) this.tokens.delete(token);
    const accessToken = randomBytes(32).toString('base64url');
    const lifetime = this.settings.tokenLifetimeSeconds;
    this.tokens.set(accessToken, { clientId, expiresAt: now + lifetime * 1000 });
    sendJson(ctx.res, 200, { access_token: accessToken, token_type: 'bearer', expires_in: lifetime },
      { 'cache-control': 'no-store', pragma: 'no-cache' });
  }

  private sendOAuthError(ctx: RequestContext, status: number, error: string, description: string): void {
    ctx.code = error;
    const headers: http.OutgoingHttpHeaders = {};
    if (status === 401) headers['www-authenticate'] = 'Basic realm="oauth2"';
    sendJson(ctx.res, status, { error, error_description: description }, headers);
  }

  // ---------------------------------------------------------------- JSON bodies and lookups

  /** Decodes a JSON request body. Raises 1010 when it is not JSON or not sent as application/json. */
  private parseJson(ctx: RequestContext, body: Buffer): unknown {
    const contentType = ctx.req.headers['content-type'] ?? '';
    // Emarsys documents Content-Type application/json for bodies but not whether it rejects other types.
    // The stand-in rejects them so that clients always send the header.
    if (!/^application\/json\b/i.test(contentType)) {
      const detail = `Content-Type must be application/json, got '${contentType}'.`;
      throw new ApiError(400, 1010, `Invalid request payload. ${detail}`);
    }
    try {
      return JSON.parse(body.toString('utf8'));
    } catch {
      throw new ApiError(400, 1010, 'Invalid request payload.');
    }
  }

  private parseJsonObject(ctx: RequestContext, body: Buffer): Record<string, unknown> {
    const parsed = this.parseJson(ctx, body);
    if (!isPlainObject(parsed)) throw invalidParameter('body must be a JSON object');
    return parsed;
  }

  private fieldsById(): Map<string, EmarsysField> {
    return new Map(this.fields.map(field => [String(field.id), field]));
  }

  /** Validates key_id (a field id, 'id' or 'uid') and returns it as a string. Raises 2004 otherwise. */
  private resolveKeyId(raw: unknown, parameter: string): string {
    if (raw === undefined) throw invalidParameter(`${parameter} is missing`);
    const keyId = typeof raw === 'number' || typeof raw === 'string' ? String(raw) : '';
    if (keyId === 'id' || keyId === 'uid' || this.fieldsById().has(keyId)) return keyId;
    throw new ApiError(400, 2004, `Invalid key field id: ${String(raw)}`);
  }

  /** Finds the contacts whose key field equals each of the values, with one pass over all contacts. */
  private findContacts(keyId: string, values: Iterable<string>): Map<string, EmarsysContact[]> {
    const found = new Map<string, EmarsysContact[]>();
    for (const value of values) found.set(value, []);
    if (keyId === 'id') {
      for (const [value, matches] of found) {
        const contact = this.contacts.get(value);
        if (contact) matches.push(contact);
      }
      return found;
    }
    for (const contact of this.contacts.values()) {
      const value = keyId === 'uid' ? contact.uid : contact.fields[keyId];
      if (value !== null && value !== undefined) found.get(value)?.push(contact);
    }
    return found;
  }

  private lookupError(keyId: string, value: string, matches: EmarsysContact[]): ItemError | undefined {
    if (matches.length === 0) {
      return new ItemError(2008, `No contact found with the external id: ${keyId} - ${value}`);
    }
    if (matches.length > 1) {
      return new ItemError(2010, `More contacts found with the external id: ${keyId} - ${value}`);
    }
    return undefined;
  }

  private checkBatchSize(count: number): void {
    if (count <= this.settings.maxBatch) return;
    const max = this.settings.maxBatch.toLocaleString('en-US');
    throw new ApiError(400, 1000, `The request exceeded the maximum batch size of ${max}`);
  }

  // ---------------------------------------------------------------- external event trigger

  private triggerEvent(ctx: RequestContext, eventId: string, raw: Buffer): void {
    const event = this.events.get(eventId);
    if (!event) throw new ApiError(400, 5001, 'Invalid event id for customer.');
    const body = this.parseJsonObject(ctx, raw);
    const batch = body.contacts !== undefined;
    ctx.operation = batch ? 'triggerBatch' : 'trigger';
    const keyId = this.resolveKeyId(body.key_id, 'key_id');
    const items = batch ? this.parseBatchItems(body) : [this.parseTriggerItem(body, false)];
    ctx.items = items.length;
    this.checkConnectedProgram(event);
    if (batch) this.triggerBatch(ctx, event.id, keyId, items);
    else this.triggerSingle(ctx, event.id, keyId, items[0]);
  }

  private parseBatchItems(body: Record<string, unknown>): TriggerItem[] {
    if (body.external_id !== undefined) {
      throw invalidParameter('send external_id or contacts, not both');
    }
    if (!Array.isArray(body.contacts)) {
      throw invalidParameter('contacts must be an array');
    }
    this.checkBatchSize(body.contacts.length);
    return body.contacts.map(contact => {
      if (!isPlainObject(contact)) {
        throw invalidParameter('each contact must be an object');
      }
      return this.parseTriggerItem(contact, true);
    });
  }

  /**
   * Validates one trigger object. A bad event_time or data rejects the whole request, because Emarsys then
   * triggers nothing. A missing external_id rejects a single trigger but is a per-contact 2005 in a batch.
   */
  private parseTriggerItem(raw: Record<string, unknown>, inBatch: boolean): TriggerItem {
    const externalId = keyValueOf(raw.external_id);
    if (externalId === undefined && !inBatch) {
      throw new ApiError(400, 2005, 'No value provided for key field: external_id');
    }
    if (raw.data !== undefined && !isPlainObject(raw.data)) {
      throw new ApiError(400, 5011, 'Event data is not an object.');
    }
    if (raw.event_time !== undefined && !isValidEventTime(raw.event_time)) {
      throw new ApiError(400, 5010, 'Invalid event time format.');
    }
    if (raw.trigger_id !== undefined && (typeof raw.trigger_id !== 'string' || raw.trigger_id === '')) {
      throw invalidParameter('trigger_id must be a non-empty string');
    }
    return {
      externalId: externalId ?? '',
      data: raw.data as Record<string, unknown> | undefined,
      triggerId: raw.trigger_id as string | undefined,
    };
  }

  /** Raises 5005 when requireConnectedProgram is on and no program or on-event email uses the event. */
  private checkConnectedProgram(event: { programIds: number[]; emailIds: number[] }): void {
    if (!this.settings.requireConnectedProgram) return;
    if (event.programIds.length > 0 || event.emailIds.length > 0) return;
    throw new ApiError(400, 5005, 'No program or campaign is triggered.');
  }

  private triggerSingle(ctx: RequestContext, eventId: string, keyId: string, item: TriggerItem): void {
    const matches = this.findContacts(keyId, [item.externalId]).get(item.externalId) ?? [];
    const error = this.lookupError(keyId, item.externalId, matches);
    if (error) throw new ApiError(400, error.code, error.text);
    this.deliverTrigger(eventId, keyId, matches[0], item);
    this.sendOk(ctx, {});
  }

  private triggerBatch(ctx: RequestContext, eventId: string, keyId: string, items: TriggerItem[]): void {
    const found = this.findContacts(keyId, items.map(item => item.externalId).filter(id => id !== ''));
    const ids: string[] = [];
    const errors: Array<{ key: string; error: ItemError }> = [];
    for (const item of items) {
      const matches = found.get(item.externalId) ?? [];
      const error = item.externalId === ''
        ? new ItemError(2005, `No value provided for key field: ${keyId}`)
        : this.lookupError(keyId, item.externalId, matches);
      if (error) {
        errors.push({ key: item.externalId, error });
        continue;
      }
      this.deliverTrigger(eventId, keyId, matches[0], item);
      ids.push(matches[0].id);
    }
    this.sendOk(ctx, { ids, errors: this.formatTriggerErrors(errors) });
  }

  private formatTriggerErrors(errors: Array<{ key: string; error: ItemError }>): unknown {
    if (this.settings.triggerErrorsShape === 'list') {
      return errors.map(({ key, error }) => ({ key, errorCode: String(error.code), errorMsg: error.text }));
    }
    const byKey: Record<string, Record<string, string>> = {};
    for (const { key, error } of errors) byKey[key] = { ...byKey[key], [error.code]: error.text };
    return byKey;
  }

  /**
   * Counts the trigger_id and mails the contact on its first receipt. Emarsys processes a trigger_id only
   * once, so later receipts are accepted without a mail. Every trigger without trigger_id mails, and the
   * stand-in mails whether or not a program uses the event.
   */
  private deliverTrigger(eventId: string, keyId: string, contact: EmarsysContact, item: TriggerItem): void {
    if (item.triggerId !== undefined) {
      const receipts = (this.triggerCounts.get(item.triggerId) ?? 0) + 1;
      this.triggerCounts.set(item.triggerId, receipts);
      if (receipts > 1) return;
    }
    const mail: MailRecord = {
      eventId,
      contactId: contact.id,
      externalId: item.externalId,
      keyId,
      data: item.data ?? {},
      at: Date.now(),
    };
    if (item.triggerId !== undefined) mail.triggerId = item.triggerId;
    this.mails.push(mail);
    this.emitter.emit('mail', mail);
  }

  // ---------------------------------------------------------------- contact update

  private wantsCreate(ctx: RequestContext): boolean {
    const flag = ctx.query.get('create_if_not_exists');
    return flag === '1' || flag === 'true';
  }

  private updateContacts(ctx: RequestContext, raw: Buffer): void {
    const create = this.wantsCreate(ctx);
    if (create) this.createIfNotExistsCalls++;
    const body = this.parseJsonObject(ctx, raw);
    // The Emarsys reference lists key_id as optional without naming a default, so the stand-in uses email.
    const keyId = this.resolveKeyId(body.key_id ?? '3', 'key_id');
    const rows = this.contactRows(body);
    ctx.items = rows.length;
    this.checkBatchSize(rows.length);
    this.checkFieldIds(rows, keyId);

    const keyValues = rows.map(row => keyValueOf(row[keyId]));
    const found = this.findContacts(keyId, keyValues.filter((value): value is string => value !== undefined));
    const ids: Array<string | number> = [];
    const errors: Record<string, Record<string, string>> = {};
    rows.forEach((row, index) => {
      const keyValue = keyValues[index];
      const outcome = this.applyContactRow(keyId, keyValue, row, found.get(keyValue ?? '') ?? [], create);
      if (outcome instanceof ItemError) {
        const key = keyValue ?? '';
        errors[key] = { ...errors[key], [outcome.code]: outcome.text };
      } else {
        ids.push(outcome.id);
        // A later row with the same key in this batch updates the contact that was just created.
        if (typeof outcome.id === 'number') found.set(keyValue!, [this.contacts.get(String(outcome.id))!]);
      }
    });
    this.sendOk(ctx, { ids, errors });
  }

  /** Returns the contact objects of a batch body, or the body itself as one flat contact. */
  private contactRows(body: Record<string, unknown>): Record<string, unknown>[] {
    if (body.contacts === undefined) {
      const { key_id: _keyId, contact_list_id: _listId, source_id: _sourceId, ...flat } = body;
      return [flat];
    }
    if (!Array.isArray(body.contacts)) {
      throw invalidParameter('contacts must be an array');
    }
    for (const row of body.contacts) {
      if (!isPlainObject(row)) {
        throw invalidParameter('each contact must be an object');
      }
    }
    return body.contacts as Record<string, unknown>[];
  }

  /** Raises 2006 for the first property that is neither the key nor a known field id. */
  private checkFieldIds(rows: Record<string, unknown>[], keyId: string): void {
    const known = this.fieldsById();
    for (const row of rows) {
      for (const fieldId of Object.keys(row)) {
        if (fieldId === keyId || known.has(fieldId)) continue;
        throw new ApiError(400, 2006, `Invalid field id: ${fieldId}`);
      }
    }
  }

  /**
   * Validates and writes one contact. Emarsys returns the ids of updated contacts as strings and the ids
   * of contacts it created as numbers.
   */
  private applyContactRow(
    keyId: string, keyValue: string | undefined, row: Record<string, unknown>, matches: EmarsysContact[],
    create: boolean,
  ): { id: string | number } | ItemError {
    if (keyValue === undefined) return new ItemError(2005, `No value provided for key field: ${keyId}`);
    const values = this.normalizeFieldValues(row, keyId);
    if (values instanceof ItemError) return values;
    if (matches.length > 1) return this.lookupError(keyId, keyValue, matches)!;
    if (matches.length === 1) {
      this.writeFields(matches[0], values);
      return { id: matches[0].id };
    }
    if (!create) return this.lookupError(keyId, keyValue, matches)!;
    if (keyId === 'id' || keyId === 'uid') {
      return new ItemError(2004, 'Cannot use internal ID as key on contact creation.');
    }
    const contact = this.createContact({ ...values, [keyId]: keyValue });
    this.contactUpdates.push({ contactId: contact.id, fields: { ...contact.fields }, at: Date.now() });
    return { id: Number(contact.id) };
  }

  /** Converts the non-key values of a contact row to stored strings, or returns the first 2007 error. */
  private normalizeFieldValues(
    row: Record<string, unknown>, keyId: string,
  ): Record<string, string | null> | ItemError {
    const known = this.fieldsById();
    const values: Record<string, string | null> = {};
    for (const [fieldId, raw] of Object.entries(row)) {
      if (fieldId === keyId) continue;
      const value = this.normalizeFieldValue(known.get(fieldId)!, raw);
      if (value instanceof ItemError) return value;
      values[fieldId] = value;
    }
    return values;
  }

  private normalizeFieldValue(field: EmarsysField, raw: unknown): string | null | ItemError {
    const fieldId = String(field.id);
    if (raw === null) return null;
    if (typeof raw === 'number' && this.settings.acceptJsonNumbers && Number.isFinite(raw)) {
      return this.checkTypedValue(field, String(raw));
    }
    if (typeof raw !== 'string') {
      return new ItemError(2007, `Invalid data format for field ID: ${fieldId}. Scalar expected.`);
    }
    return this.checkTypedValue(field, raw);
  }

  private checkTypedValue(field: EmarsysField, value: string): string | null | ItemError {
    const fieldId = String(field.id);
    if (fieldId === OPT_IN_FIELD_ID && !OPT_IN_CHOICES.has(value)) {
      return new ItemError(2007, `Invalid choice id for field id: ${fieldId}`);
    }
    const type = field.application_type;
    // Emarsys does not document how it stores an empty numeric or date value, so the stand-in clears it.
    if ((type === 'numeric' || type === 'date') && value === '') return null;
    if (type === 'numeric' && !NUMERIC_PATTERN.test(value)) {
      return new ItemError(2007, `Invalid value for field id: ${fieldId}: '${value}' is not a number.`);
    }
    if (type === 'date' && !isValidDate(value)) {
      return new ItemError(2007, `Invalid date format for field id: ${fieldId}`);
    }
    return value;
  }

  private writeFields(contact: EmarsysContact, values: Record<string, string | null>): void {
    if (Object.keys(values).length === 0) return;
    Object.assign(contact.fields, values);
    this.contactUpdates.push({ contactId: contact.id, fields: { ...values }, at: Date.now() });
  }

  private createContact(fields: Record<string, string | null>): EmarsysContact {
    while (this.contacts.has(String(this.nextContactId))) this.nextContactId++;
    const contact: EmarsysContact = {
      id: String(this.nextContactId++),
      uid: randomBytes(8).toString('base64url').slice(0, 10),
      fields,
    };
    this.contacts.set(contact.id, contact);
    return contact;
  }

  // ---------------------------------------------------------------- contact getdata

  /**
   * Returns field values for POST contact/getdata. As in the Emarsys v2 reference "Querying Contact Data",
   * parameter errors use replyCode 10001 and keyId defaults to the internal id.
   */
  private getContactData(ctx: RequestContext, raw: Buffer): void {
    const body = this.parseJsonObject(ctx, raw);
    const keyId = this.resolveKeyId(body.keyId ?? 'id', 'keyId');
    const keyValues = this.parseKeyValues(body.keyValues);
    ctx.items = keyValues.length;
    const fieldIds = this.parseRequestedFields(body.fields);
    const found = this.findContacts(keyId, keyValues);
    const result: Record<string, string | null>[] = [];
    const errors: Array<{ key: string; errorCode: string; errorMsg: string }> = [];
    for (const value of keyValues) {
      const matches = found.get(value) ?? [];
      if (matches.length === 0) {
        const errorMsg = `No contact found with the external id: ${keyId}`;
        errors.push({ key: value, errorCode: '2008', errorMsg });
      }
      for (const contact of matches) result.push(this.contactData(contact, fieldIds));
    }
    // Emarsys returns result false when no key value matched a contact.
    this.sendOk(ctx, { result: result.length > 0 ? result : false, errors });
  }

  private parseKeyValues(raw: unknown): string[] {
    if (raw === undefined) throw new ApiError(400, 10001, 'Missing parameter: keyValues');
    if (!Array.isArray(raw)) throw new ApiError(400, 10001, 'keyValues must be an array');
    if (raw.length > this.settings.maxBatch) {
      throw new ApiError(400, 10001, `Max. number of contacts: ${this.settings.maxBatch}`);
    }
    return raw.map((value): string => {
      const text = keyValueOf(value);
      if (text !== undefined) return text;
      throw new ApiError(400, 10001, 'keyValues must contain non-empty strings or numbers');
    });
  }

  /** Returns the requested field ids, or every field id when the list is missing or empty. */
  private parseRequestedFields(raw: unknown): string[] {
    const known = this.fieldsById();
    if (raw === undefined || (Array.isArray(raw) && raw.length === 0)) return [...known.keys()];
    if (!Array.isArray(raw)) throw new ApiError(400, 10001, 'Fields must be an array');
    return raw.map(value => {
      const fieldId = String(value);
      if (!known.has(fieldId)) throw new ApiError(400, 2006, `Invalid field id: ${fieldId}`);
      return fieldId;
    });
  }

  private contactData(contact: EmarsysContact, fieldIds: string[]): Record<string, string | null> {
    const data: Record<string, string | null> = {};
    for (const fieldId of fieldIds) data[fieldId] = contact.fields[fieldId] ?? null;
    data.id = contact.id;
    data.uid = contact.uid;
    return data;
  }

  // ---------------------------------------------------------------- events and fields

  private requireEvent(id: string) {
    const event = this.events.get(id);
    if (!event) throw new ApiError(400, 5001, 'No event found with the specified ID.');
    return event;
  }

  private eventSummary(event: { id: string; name: string }) {
    const created = formatEmarsysTime(this.eventCreatedAt.get(event.id) ?? 0);
    return { id: event.id, name: event.name, created };
  }

  private listEvents(ctx: RequestContext): void {
    this.sendOk(ctx, [...this.events.values()].map(event => this.eventSummary(event)));
  }

  private getEvent(ctx: RequestContext, id: string): void {
    this.sendOk(ctx, this.eventSummary(this.requireEvent(id)));
  }

  private getEventUsages(ctx: RequestContext, id: string): void {
    const event = this.requireEvent(id);
    this.sendOk(ctx, {
      program_ids: [...event.programIds],
      email_ids: [...event.emailIds],
      interactions_program_ids: [],
    });
  }

  private listFields(ctx: RequestContext, language: string | undefined): void {
    if (language && !LANGUAGE_PATTERN.test(language)) throw new ApiError(400, 1002, 'Invalid language code');
    const list = this.fields.map(({ id, name, application_type, string_id }) =>
      ({ id, name, application_type, string_id }));
    this.sendOk(ctx, list);
  }

  // ---------------------------------------------------------------- account settings

  /** Returns the account settings; clients call it to check credentials because it changes nothing. */
  private getSettings(ctx: RequestContext): void {
    const environment = new URL(this.url).host;
    this.sendOk(ctx, { ...ACCOUNT_SETTINGS, environment, totalContacts: String(this.contacts.size) });
  }

  // ---------------------------------------------------------------- admin endpoints

  /** Serves /__sandbox/* without authentication: call log, state, mails, faults and contact seeding. */
  private async handleAdmin(ctx: RequestContext): Promise<void> {
    const route = `${ctx.req.method} ${ctx.path.replace(/\/+$/, '')}`;
    const body = await readBody(ctx.req, ADMIN_BODY_LIMIT).catch(() => undefined);
    if (body === undefined) {
      return sendJson(ctx.res, 400, { error: 'The request body is larger than 16 MB or could not be read.' });
    }
    try {
      switch (route) {
        case 'GET /__sandbox/calls': return sendJson(ctx.res, 200, this.calls.entries);
        case 'GET /__sandbox/state': return sendJson(ctx.res, 200, this.stateCounts());
        case 'GET /__sandbox/mails': return sendJson(ctx.res, 200, this.mails);
        case 'POST /__sandbox/faults': return sendJson(ctx.res, 200, this.applyAdminFaults(body));
        case 'POST /__sandbox/contacts': return sendJson(ctx.res, 201, this.seedAdminContacts(body));
        default: return sendJson(ctx.res, 404, { error: `Not found: ${route}` });
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      console.warn(`Emarsys sandbox: ${route} rejected: ${message}`);
      sendJson(ctx.res, 400, { error: message });
    }
  }

  private stateCounts() {
    return {
      contacts: this.contacts.size,
      mails: this.mails.length,
      duplicateTriggers: this.duplicateTriggers(),
      contactUpdates: this.contactUpdates.length,
      createIfNotExistsCalls: this.createIfNotExistsCalls,
    };
  }

  /** Merges a JSON object of fault knobs into the current faults and returns the result. */
  private applyAdminFaults(body: Buffer): Faults {
    const parsed: unknown = JSON.parse(body.toString('utf8') || '{}');
    if (!isPlainObject(parsed)) throw new Error('The faults body must be a JSON object.');
    for (const [name, value] of Object.entries(parsed)) {
      if (!(name in NO_FAULTS)) {
        throw new Error(`Unknown fault '${name}'; use ${Object.keys(NO_FAULTS).join(', ')}.`);
      }
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new Error(`Fault '${name}' must be a number, got ${JSON.stringify(value)}.`);
      }
    }
    this.setFaults(parsed as Partial<Faults>);
    return this.faults;
  }

  /** Seeds contacts from a JSON array of field maps, or from `{contacts: [...]}`. */
  private seedAdminContacts(body: Buffer): EmarsysContact[] {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    const rows = isPlainObject(parsed) ? parsed.contacts : parsed;
    if (!Array.isArray(rows) || !rows.every(isPlainObject)) {
      throw new Error('Send a JSON array of contacts, each an object of field id to value.');
    }
    return rows.map(row => this.addContact(row as Record<string, string | null>));
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as Partial<T>;
}

/** Starts the Emarsys stand-in on 127.0.0.1 with the default seed data. */
export async function startEmarsysSandbox(options: EmarsysSandboxOptions = {}): Promise<EmarsysSandbox> {
  const sandbox = new EmarsysServer(options);
  await sandbox.start();
  return sandbox;
}

async function runCli(): Promise<void> {
  const portText = process.argv[2] ?? process.env.EMARSYS_SANDBOX_PORT ?? '0';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`Invalid port '${portText}'. Usage: tsx sandbox/emarsys.ts [port] (0 picks a free port).`);
    process.exit(2);
  }
  const sandbox = await startEmarsysSandbox({ port });
  const { apiUser, apiSecret, clientId, clientSecret } = DEFAULT_SETTINGS;
  console.log(`Emarsys sandbox listening on ${sandbox.url}`);
  console.log(`  API v2 (WSSE):   ${sandbox.apiV2Url}  user ${apiUser}, secret ${apiSecret}`);
  console.log(`  API v3 (Bearer): ${sandbox.apiV3Url}`);
  console.log(`  OAuth token:     ${sandbox.tokenUrl}  client ${clientId}, secret ${clientSecret}`);
  console.log(`  Admin:           ${sandbox.url}/__sandbox/state`);
  const stop = () => void sandbox.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  runCli().catch(error => {
    console.error('Emarsys sandbox failed to start:', error);
    process.exit(1);
  });
}
