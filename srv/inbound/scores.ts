/**
 * Score ingestion: reads the body of a Qualtrics workflow Web Service task, stores the answer keyed by
 * its response id, and links it to the invitation it answers.
 *
 * Rules for repeated deliveries: the response id is the primary key of ScoreResponses, so a response
 * is stored once. A repeat with the same answer returns 200 "already recorded". A repeat with a
 * different answer is rejected with 409 and changes nothing: the first answer stored wins.
 * A response that matches no mailed invitation is stored as `unmatched`, answered 202, and never
 * written to Emarsys.
 */
import cds from '@sap/cds';
import { CONTROL_CHARACTERS, InputError } from './validation';
import { groupMismatch, readScore, type NpsCategory } from './score-rules';
import { acceptScore } from './intake';
import { newRoundTrip } from '../upstream/round-trips';
import { INVITATIONS, SCORES, modifiedByOf, tableOf } from '../lib/entities';

/**
 * Invitation statuses whose link Survey Bridge handed to Emarsys, so a score may go to the contact.
 * `linkIssued` is included because Emarsys mails during the trigger call, and a response can arrive
 * before the worker stored the trigger's outcome.
 */
const MAILED_STATUSES = ['linkIssued', 'eventTriggered', 'responded', 'scoreStored'];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ScoreOutcome {
  httpStatus: number;
  body: Record<string, unknown>;
}

export interface ScoreRequest {
  responseId: string;
  surveyId?: string;
  invitationId?: string;
  extRef?: string;
  rawScore: string | null;
  score?: number;
  category?: NpsCategory;
  invalidReason?: string;
  durationMs: number;
  done: (outcome: ScoreOutcome) => void;
}

function optionalString(body: Record<string, unknown>, name: string, maxLength: number): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw new InputError(400, 'INVALID_FIELD', `Field '${name}' must be a string, not ${Array.isArray(value) ? 'an array' : typeof value}`, name);
  }
  const text = String(value).trim();
  if (text.length > maxLength) throw new InputError(400, 'INVALID_FIELD', `Field '${name}' is longer than ${maxLength} characters`, name);
  if (CONTROL_CHARACTERS.test(text)) throw new InputError(400, 'INVALID_FIELD', `Field '${name}' contains control characters; send plain text`, name);
  return text === '' ? undefined : text;
}

/** Validates the task body and turns it into a request for the group writer. */
export function scoreRequestOf(body: Record<string, unknown>, started: number): Omit<ScoreRequest, 'done'> {
  const responseId = optionalString(body, 'responseId', 60);
  if (!responseId) {
    throw new InputError(400, 'MISSING_RESPONSE_ID', "Field 'responseId' is missing; map it to ${rm://Field/ResponseID} in the Web Service task", 'responseId');
  }
  if (!/^R_[A-Za-z0-9]+$/.test(responseId)) {
    throw new InputError(400, 'INVALID_RESPONSE_ID', `Field 'responseId' must be a Qualtrics response id such as R_1a2B3c4D5e6F7g8, not '${responseId.slice(0, 20)}'`, 'responseId');
  }
  const surveyId = optionalString(body, 'surveyId', 40);
  if (surveyId && !/^SV_[A-Za-z0-9]+$/.test(surveyId)) {
    throw new InputError(400, 'INVALID_SURVEY_ID', `Field 'surveyId' must be a Qualtrics survey id such as SV_1a2B3c4D5e6F7g8`, 'surveyId');
  }
  const invitationId = optionalString(body, 'invitationId', 36);
  if (invitationId && !UUID.test(invitationId)) {
    throw new InputError(400, 'INVALID_INVITATION_ID', "Field 'invitationId' must be the UUID from the contact's embedded data field invitationId", 'invitationId');
  }
  const extRef = optionalString(body, 'extRef', 255);
  if (!invitationId && !extRef) {
    throw new InputError(400, 'MISSING_CONTACT_REFERENCE', "Send 'invitationId' (embedded data) or 'extRef' (the contact's external data reference) so the response can be matched", 'invitationId');
  }
  const raw = body.nps;
  const reading = readScore(raw);
  let rawScore: string | null = null;
  if (typeof raw === 'string') rawScore = raw.slice(0, 100);
  else if (raw !== undefined && raw !== null) rawScore = JSON.stringify(raw).slice(0, 100);
  if (reading.valid) {
    const mismatch = groupMismatch(body.npsGroup, reading.category);
    if (mismatch) throw new InputError(400, 'NPS_GROUP_MISMATCH', `Field 'npsGroup': ${mismatch}; map npsGroup to the NPS group of the same question`, 'npsGroup');
  }
  return {
    responseId, surveyId, invitationId, extRef, rawScore,
    score: reading.valid ? reading.score : undefined,
    category: reading.valid ? reading.category : undefined,
    invalidReason: reading.valid ? undefined : reading.reason,
    durationMs: Date.now() - started
  };
}

export async function ingestScore(body: Record<string, unknown>, started: number): Promise<ScoreOutcome> {
  const request = scoreRequestOf(body, started);
  let outcome: ScoreOutcome | undefined;
  await acceptScore({ ...request, done: value => (outcome = value) });
  return outcome!;
}

function sameAnswer(stored: any, request: ScoreRequest): boolean {
  if (request.score !== undefined) return stored.score === request.score;
  return stored.score === null && (stored.rawScore ?? null) === request.rawScore;
}

/** Finds the mailed invitation of each request: by invitation id, else by extRef within the survey's campaigns. */
async function matchInvitations(requests: ScoreRequest[]): Promise<Map<ScoreRequest, any>> {
  const matches = new Map<ScoreRequest, any>();
  const ids = requests.filter(request => request.invitationId).map(request => request.invitationId!);
  const byId = new Map<string, any>();
  if (ids.length) {
    const rows = await SELECT.from(INVITATIONS, (invitation: any) => {
      invitation.ID, invitation.campaign_ID, invitation.contactKey, invitation.status, invitation.campaign((campaign: any) => campaign.surveyId);
    }).where({ ID: { in: ids } });
    for (const row of rows as any[]) byId.set(row.ID, row);
  }
  const byRef = requests.filter(request => !request.invitationId && request.extRef);
  const latestByRef = new Map<string, any>();
  if (byRef.length) {
    const rows = await SELECT.from(INVITATIONS, (invitation: any) => {
      invitation.ID, invitation.campaign_ID, invitation.contactKey, invitation.status, invitation.cycle, invitation.campaign((campaign: any) => campaign.surveyId);
    }).where({ contactKey: { in: byRef.map(request => request.extRef!) }, status: { in: MAILED_STATUSES } });
    for (const row of rows as any[]) {
      const key = `${row.campaign?.surveyId}|${row.contactKey}`;
      const known = latestByRef.get(key);
      if (!known || known.cycle < row.cycle) latestByRef.set(key, row);
    }
  }
  for (const request of requests) {
    let invitation = request.invitationId ? byId.get(request.invitationId) : undefined;
    if (!invitation && !request.invitationId && request.extRef) {
      invitation = request.surveyId
        ? latestByRef.get(`${request.surveyId}|${request.extRef}`)
        : [...latestByRef.values()].find(row => row.contactKey === request.extRef);
    }
    if (!invitation || !MAILED_STATUSES.includes(invitation.status)) continue;
    if (request.surveyId && invitation.campaign?.surveyId !== request.surveyId) continue;
    matches.set(request, invitation);
  }
  return matches;
}

/** Writes the score requests of one intake group; the caller's transaction commits them. */
export async function writeScores(requests: ScoreRequest[], roundTrips: Record<string, unknown>[]): Promise<void> {
  const now = new Date().toISOString();
  const stored = new Map<string, any>();
  const existing = await SELECT.from(SCORES).where({ responseId: { in: requests.map(request => request.responseId) } });
  for (const row of existing as any[]) stored.set(row.responseId, row);
  const matches = await matchInvitations(requests.filter(request => !stored.has(request.responseId) && request.score !== undefined));

  const inserts: any[] = [];
  /** Bindings of RESPONDED_SQL, one per matched response. */
  const responded: unknown[][] = [];
  for (const request of requests) {
    const known = stored.get(request.responseId);
    let outcome: ScoreOutcome;
    let invitationId: string | undefined;
    if (known) {
      invitationId = known.invitation_ID ?? undefined;
      outcome = sameAnswer(known, request)
        ? { httpStatus: 200, body: { responseId: request.responseId, status: known.status, invitationId, score: known.score, npsCategory: known.npsCategory, repeated: true } }
        : { httpStatus: 409, body: { error: { code: 'RESPONSE_ALREADY_RECORDED', target: 'nps',
            message: `Response ${request.responseId} is already recorded with the score '${known.rawScore ?? ''}'; the first score stored is kept, so record a changed score as a new response` } } };
    } else if (request.score === undefined) {
      const row = { responseId: request.responseId, surveyId: request.surveyId, contactRef: request.invitationId ?? request.extRef,
        rawScore: request.rawScore, status: 'invalid', lastError: request.invalidReason, receivedAt: now };
      inserts.push(row);
      stored.set(request.responseId, row);
      outcome = { httpStatus: 422, body: { error: { code: 'INVALID_SCORE', target: 'nps',
        message: `Field 'nps': ${request.invalidReason}; map it to the NPS question's recode value (0 to 10)` } } };
    } else {
      const invitation = matches.get(request);
      invitationId = invitation?.ID;
      const row = {
        responseId: request.responseId, surveyId: request.surveyId, contactRef: request.invitationId ?? request.extRef,
        rawScore: request.rawScore, score: request.score, npsCategory: request.category,
        status: invitation ? 'pending' : 'unmatched', campaign_ID: invitation?.campaign_ID, invitation_ID: invitation?.ID,
        lastError: invitation ? null : 'No mailed invitation matches this response', receivedAt: now
      };
      inserts.push(row);
      stored.set(request.responseId, row);
      if (invitation) {
        responded.push([request.responseId, request.responseId, request.responseId, request.score, request.category, modifiedByOf(), invitation.ID]);
      }
      outcome = { httpStatus: 202, body: { responseId: request.responseId, status: row.status, invitationId, score: request.score, npsCategory: request.category, repeated: false } };
    }
    roundTrips.push(newRoundTrip({
      direction: 'inbound', system: 'qualtrics', operation: 'ingestScore', method: 'POST', path: '/inbound/ingestScore',
      httpStatus: outcome.httpStatus, durationMs: request.durationMs, itemCount: 1, invitation_ID: invitationId,
      error: outcome.httpStatus >= 400 ? String((outcome.body.error as any)?.message) : undefined
    }));
    request.done(outcome);
  }
  if (inserts.length) await INSERT.into(SCORES).entries(inserts);
  // Prepared once and run once per matched response, so no CQN UPDATE is compiled per response.
  // The runs start together. For two responses to one invitation in one group, the driver decides the
  // order, and SQLite runs them in request order, so the last response wins.
  if (responded.length) await cds.db.run(RESPONDED_SQL, responded);
}

/**
 * Moves an invitation to `responded`. The response time is read from the ScoreResponses row written in
 * the same transaction, so no timestamp is bound as a parameter. Plain SQL for SQLite and SAP HANA,
 * which skips CAP's managed fields, so the statement sets modifiedAt and modifiedBy itself.
 */
const RESPONDED_SQL = `update ${tableOf(INVITATIONS)} set status = 'responded',
  respondedAt = (select s.receivedAt from ${tableOf(SCORES)} s where s.responseId = ?),
  modifiedAt = (select s.receivedAt from ${tableOf(SCORES)} s where s.responseId = ?),
  responseId = ?, score = ?, npsCategory = ?, modifiedBy = ?
  where ID = ?`;
