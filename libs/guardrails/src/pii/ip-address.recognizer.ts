import { isIP } from 'node:net';
import type { PiiEntityType, PiiFinding, PiiRecognizer } from './types.js';
import { isDigitAt, isWordCharacterAt } from './word-boundary.js';

/**
 * Maximal runs of IPv6 characters (hex digits, ':' and '.' for an embedded IPv4 tail) that contain
 * a colon and start a token. A letter, digit, ':' or '.' before the run means that it continues
 * something else, such as "std::cout" or "text2001:db8::1".
 */
const IPV6_RUN = /(?<![\p{L}\p{N}_:.])[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*/gu;

/**
 * Dotted quads that start a token. A ':' before is allowed so that the IPv4 part of a damaged
 * IPv6 literal ("text::ffff:192.0.2.1") is still found. A '.' before is not, so version strings
 * such as 1.2.3.4.5 are read from their start only.
 */
const IPV4_CANDIDATE = /(?<![\p{L}\p{N}_.])\d{1,3}(?:\.\d{1,3}){3}(?![\p{L}\p{N}_])/gu;

/** Longest IPv6 text form: six groups of four hex digits and an IPv4 tail (ffff:…:255.255.255.255). */
const MAX_IPV6_LENGTH = 45;

/** Interface name or index after '%' in a scoped IPv6 address, such as fe80::1%eth0. */
const ZONE_ID = /^%[0-9A-Za-z_]+(?:[.-][0-9A-Za-z_]+)*/;
const PREFIX_LENGTH = /^\/(\d{1,3})(?![\p{L}\p{N}_])/u;

const IPV4_SCORE = 0.6;
const IPV6_SCORE = 0.8;
/** Score for the unspecified address "::", which is weak evidence because it also appears in code and prose. */
const UNSPECIFIED_SCORE = 0.1;

/**
 * Finds IPv4 and IPv6 addresses, validated with node:net isIP. The span includes an IPv6 zone
 * index (%eth0) and a CIDR prefix length (/24) when the prefix is in range for the address family.
 * Otherwise it covers the address only, as in "10.0.0.0/123".
 */
export class IpAddressRecognizer implements PiiRecognizer {
  readonly name = 'ip-address';
  readonly entityTypes: readonly PiiEntityType[] = ['IP_ADDRESS'];

  scan(text: string): PiiFinding[] {
    const findings = this.scanIpv6(text);

    for (const match of text.matchAll(IPV4_CANDIDATE)) {
      const start = match.index;
      // An IPv4 tail of an IPv6 address is already part of that finding.
      if (findings.some((finding) => start >= finding.start && start < finding.end)) continue;
      if (isIP(match[0]) !== 4) continue;
      const end = extendWithPrefixLength(text, start + match[0].length, 32);
      findings.push(this.finding(start, end, IPV4_SCORE));
    }
    return findings;
  }

  private scanIpv6(text: string): PiiFinding[] {
    if (!text.includes(':')) return [];

    const findings: PiiFinding[] = [];
    for (const match of text.matchAll(IPV6_RUN)) {
      const start = match.index;
      const addressEnd = findIpv6End(text, start, match[0]);
      if (addressEnd === null) continue;

      const address = text.slice(start, addressEnd);
      const zoneEnd = extendWithZone(text, start, addressEnd);
      const end = extendWithPrefixLength(text, zoneEnd, 128);
      findings.push(this.finding(start, end, address === '::' ? UNSPECIFIED_SCORE : IPV6_SCORE));
    }
    return findings;
  }

  private finding(start: number, end: number, score: number): PiiFinding {
    return { entityType: 'IP_ADDRESS', start, end, score, recognizer: this.name };
  }
}

/**
 * Returns the end of the longest IPv6 address at the start of `run`, or null. The address must end
 * the token: no letter or digit may follow, nor ':' (as in "2001::db8::1") nor '.' and a digit
 * (as in "::ffff:192.168.1", which would otherwise leave the valid-looking "::ffff:192").
 */
function findIpv6End(text: string, start: number, run: string): number | null {
  for (let length = Math.min(run.length, MAX_IPV6_LENGTH); length >= 2; length -= 1) {
    const end = start + length;
    if (isWordCharacterAt(text, end) || text[end] === ':') continue;
    if (text[end] === '.' && isDigitAt(text, end + 1)) continue;
    const candidate = run.slice(0, length);
    if (candidate.includes(':') && isIP(candidate) === 6) return end;
  }
  return null;
}

function extendWithZone(text: string, start: number, addressEnd: number): number {
  const zone = ZONE_ID.exec(text.slice(addressEnd, addressEnd + 64));
  if (zone === null) return addressEnd;
  return isIP(text.slice(start, addressEnd + zone[0].length)) === 6 ? addressEnd + zone[0].length : addressEnd;
}

function extendWithPrefixLength(text: string, end: number, maxPrefix: number): number {
  const prefix = PREFIX_LENGTH.exec(text.slice(end, end + 5));
  if (prefix === null || Number(prefix[1]) > maxPrefix) return end;
  return end + prefix[0].length;
}
