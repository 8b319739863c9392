import type { PiiEntityType, PiiFinding, PiiRecognizer } from './types.js';

/**
 * Local part: RFC 5322 dot-atom, without the atext characters ' ` / = ? { | } because in free text
 * they belong to the surrounding quotes, paths, URLs or code rather than to an address. Domain:
 * letter-digit-hyphen labels of 1 to 63 characters (Unicode letters allowed for internationalized
 * names) and a top-level domain of 2 to 63 letters or an xn-- punycode label.
 */
const EMAIL_ADDRESS = new RegExp(
  [
    String.raw`(?<![\p{L}\p{N}!#$%&*+^_~.@-])`,
    String.raw`(?<local>[A-Za-z0-9!#$%&*+^_~-]+(?:\.[A-Za-z0-9!#$%&*+^_~-]+)*)`,
    '@',
    String.raw`(?<domain>(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+(?:\p{L}{2,63}|xn--[A-Za-z0-9-]{1,59}))`,
    String.raw`(?![\p{L}\p{N}_@-]|\.[\p{L}\p{N}])`,
  ].join(''),
  'gu',
);

/** RFC 5321 limits: 64 octets for the local part, 253 characters for a domain name. */
const MAX_LOCAL_PART = 64;
const MAX_DOMAIN = 253;

const EMAIL_SCORE = 0.9;

/**
 * Finds email addresses of the common form local@domain.tld (a practical subset of RFC 5322).
 * A top-level domain is required, so "info@presidio." or "root@localhost" is not reported.
 * NOTE: quoted local parts ("john doe"@example.com), IP-literal domains (user@[192.0.2.1]) and
 * non-ASCII local parts are not detected.
 */
export class EmailRecognizer implements PiiRecognizer {
  readonly name = 'email';
  readonly entityTypes: readonly PiiEntityType[] = ['EMAIL_ADDRESS'];

  scan(text: string): PiiFinding[] {
    if (!text.includes('@')) return [];

    const findings: PiiFinding[] = [];
    for (const match of text.matchAll(EMAIL_ADDRESS)) {
      const { local, domain } = match.groups ?? {};
      if (local === undefined || domain === undefined) continue;
      if (local.length > MAX_LOCAL_PART || domain.length > MAX_DOMAIN) continue;
      findings.push({ entityType: 'EMAIL_ADDRESS', start: match.index, end: match.index + match[0].length, score: EMAIL_SCORE, recognizer: this.name });
    }
    return findings;
  }
}
