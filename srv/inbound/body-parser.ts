/**
 * Parses the JSON body of the inbound actions before CAP does and hands it over as the single `body`
 * parameter, so unknown keys reach the handler instead of failing CAP's parameter check. Rejections
 * are JSON errors that name the problem and the fix.
 */
import type { Request, Response, NextFunction } from 'express';
import { bridgeConfig } from '../lib/config';

/** A body problem found before CAP's authentication ran; the action handler rejects it after the auth check. */
export interface BodyProblem {
  status: number;
  code: string;
  message: string;
  target?: string;
}

const PROBLEM = Symbol('inbound body problem');

export function bodyProblemOf(req: Request | undefined): BodyProblem | undefined {
  return (req as any)?.[PROBLEM];
}

function operationOf(req: Request): 'generateLink' | 'ingestScore' | undefined {
  const name = req.path.replace(/^\//, '').split(/[/?]/)[0];
  return name === 'generateLink' || name === 'ingestScore' ? name : undefined;
}

/** Reads the body with a size limit; resolves undefined when it is too large. */
function readRaw(req: Request, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > maxBytes ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Deepest nesting accepted; webhook and workflow bodies are flat objects with small nested parts. */
const MAX_DEPTH = 32;

/** Measures nesting without recursion, so a hostile body cannot exhaust the stack. */
function depthOf(value: unknown): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length) {
    const [current, depth] = stack.pop()!;
    if (!current || typeof current !== 'object') continue;
    deepest = Math.max(deepest, depth);
    if (deepest > MAX_DEPTH) return deepest;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return deepest;
}

function parse(raw: Buffer | undefined, contentType: string, maxBodyBytes: number): { body?: object; problem?: BodyProblem } {
  if (contentType !== 'application/json') {
    return { problem: { status: 415, code: 'UNSUPPORTED_CONTENT_TYPE',
      message: `Content type '${contentType || '(none)'}' is not supported; send the body as JSON with Content-Type: application/json` } };
  }
  if (!raw) {
    return { problem: { status: 413, code: 'BODY_TOO_LARGE',
      message: `The body is larger than ${maxBodyBytes} bytes; send only the fields the action needs` } };
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    return { problem: { status: 400, code: 'INVALID_UTF8', message: 'The body is not valid UTF-8; encode the JSON body as UTF-8' } };
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    return { problem: { status: 400, code: 'INVALID_JSON',
      message: `The body is not valid JSON (${(error as Error).message}); check quotes, commas and brackets` } };
  }
  if (depthOf(body) > MAX_DEPTH) {
    return { problem: { status: 400, code: 'BODY_TOO_DEEP', target: '(body)',
      message: `The body is nested deeper than ${MAX_DEPTH} levels; send a flat JSON object` } };
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    return { problem: { status: 400, code: 'INVALID_BODY', target: '(body)',
      message: 'The body must be one JSON object with the contact or response fields' } };
  }
  return { body };
}

/**
 * Express middleware for POST /inbound/<action>. It never sends a response itself: a problem is attached to
 * the request and the body replaced by an empty object, so authentication still runs first and the
 * action handler records and rejects the call.
 */
export function inboundBodyParser() {
  return async function parseInboundBody(req: Request, _res: Response, next: NextFunction) {
    if (req.method !== 'POST' || !operationOf(req)) return next();
    try {
      const contentType = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      const { maxBodyBytes } = bridgeConfig().intake;
      const declared = Number(req.headers['content-length']);
      const raw = Number.isFinite(declared) && declared > maxBodyBytes ? (req.resume(), undefined) : await readRaw(req, maxBodyBytes);
      const { body, problem } = parse(raw, contentType, maxBodyBytes);
      if (problem) (req as any)[PROBLEM] = problem;
      // CAP's REST adapter accepts only JSON and skips parsing when req.body is already an object.
      req.headers['content-type'] = 'application/json';
      (req as any).body = { body: body ?? {} };
      next();
    } catch (error) {
      next(error);
    }
  };
}
