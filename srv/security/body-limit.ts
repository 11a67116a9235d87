/**
 * Request body limit for every route. The limit is CAP's own `cds.server.body_parser.limit`, so the
 * OData and REST body parsers enforce it for bodies of unknown length. This middleware rejects a larger
 * declared Content-Length with a JSON 413 before anything reads the body. The two inbound actions are
 * exempt because their own parser applies `cds.surveyBridge.intake.maxBodyBytes`.
 */
import cds from '@sap/cds';
import type { NextFunction, Request, Response } from 'express';

/** Used when `cds.server.body_parser.limit` is not set. */
export const DEFAULT_BODY_LIMIT_BYTES = 100 * 1024;

const EXEMPT_ROUTES = new Set(['/inbound/generateLink', '/inbound/ingestScore']);

const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** Converts a body-parser limit such as 102400, '100kb' or '1mb' to bytes. */
export function bytesOf(limit: unknown): number {
  if (typeof limit === 'number' && Number.isFinite(limit) && limit > 0) return limit;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(String(limit ?? ''));
  if (!match) return DEFAULT_BODY_LIMIT_BYTES;
  return Math.floor(Number(match[1]) * UNITS[(match[2] ?? 'b').toLowerCase()]);
}

/** Returns the effective limit in bytes. It is read per request, so configuration changes apply at once. */
export function bodyLimitBytes(): number {
  return bytesOf((cds.env as any).server?.body_parser?.limit ?? DEFAULT_BODY_LIMIT_BYTES);
}

export function bodyLimit() {
  return function rejectLargeBody(req: Request, res: Response, next: NextFunction) {
    if (EXEMPT_ROUTES.has(req.path.replace(/\/+$/, '')) && req.method === 'POST') return next();
    const declared = Number(req.headers['content-length']);
    const limit = bodyLimitBytes();
    if (!Number.isFinite(declared) || declared <= limit) return next();
    // The unread body is drained so the connection stays usable for the 413 reply.
    req.resume();
    res.status(413).json({
      error: { code: 'BODY_TOO_LARGE', message: `The request body has ${declared} bytes, more than the limit of ${limit} bytes. Send a smaller body.` }
    });
  };
}
