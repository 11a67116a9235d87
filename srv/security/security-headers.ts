/**
 * Security headers on every response. API responses also get `Cache-Control: no-store`, because they
 * can carry personal data. A Content-Security-Policy beyond `frame-ancestors` is left out because the
 * Fiori UI served from app/ loads UI5 bootstrap scripts that a strict policy would block.
 */
import type { NextFunction, Request, Response } from 'express';

/** Path prefixes of the served APIs, whose responses must not be cached. */
const API_PREFIXES = ['/inbound', '/audit', '/admin', '/odata', '/rest'];

/** One year, the usual HSTS max-age. Browsers honour it only over HTTPS, as on BTP. */
const HSTS_MAX_AGE_SECONDS = 365 * 24 * 3600;

export function securityHeaders() {
  const production = process.env.NODE_ENV === 'production';
  return function setSecurityHeaders(req: Request, res: Response, next: NextFunction) {
    res.set({
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'SAMEORIGIN',
      'Content-Security-Policy': "frame-ancestors 'self'",
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Resource-Policy': 'same-origin'
    });
    if (production) res.set('Strict-Transport-Security', `max-age=${HSTS_MAX_AGE_SECONDS}; includeSubDomains`);
    if (API_PREFIXES.some(prefix => req.path === prefix || req.path.startsWith(`${prefix}/`))) res.set('Cache-Control', 'no-store');
    res.removeHeader('X-Powered-By');
    next();
  };
}
