/** Emarsys API v2 WSSE: a new nonce and UTC Created on every request, the digest as Emarsys expects it. */
import { createHash, randomBytes } from 'node:crypto';

/** Base64 of the lowercase hex SHA-1 of nonce + created + secret (not of the raw 20-byte digest). */
export function wsseDigest(nonce: string, created: string, secret: string): string {
  const hex = createHash('sha1').update(nonce + created + secret, 'utf8').digest('hex');
  return Buffer.from(hex, 'utf8').toString('base64');
}

/** Builds the X-WSSE header value; `now` is injectable for tests. */
export function wsseHeader(username: string, secret: string, now = new Date(), nonce = randomBytes(16).toString('hex')): string {
  // Emarsys treats a Created without zone as GMT+1, so send UTC with the zone and without milliseconds.
  const created = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const digest = wsseDigest(nonce, created, secret);
  return `UsernameToken Username="${username}", PasswordDigest="${digest}", Nonce="${nonce}", Created="${created}"`;
}
