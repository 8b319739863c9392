import { BlockList, isIP } from 'node:net';
import { containsUnderscore, scanPii, scanPiiAcrossUnderscores, type PiiFinding } from './pii/index.js';
import { redactText } from './redaction.js';

/** Texts shorter than this cannot contain any entity the recognizers find, so they skip the scan. */
const MIN_SCANNED_LENGTH = 6;

/**
 * Masks every personal-data finding in a text, for places that keep free text but must not keep
 * personal data: log lines, error messages and review rationales. Loopback and unspecified
 * addresses stay readable, because they name the local machine rather than a person's host.
 * A text with `_`, or with a form of it that NFKC folds to `_`, is scanned a second time with those
 * read as spaces (scanPiiAcrossUnderscores), so that a number joined to a word by underscores is
 * masked too. A finding of the second scan counts where no finding of the first overlaps it, so an
 * e-mail address such as anna_b@example.com stays one finding.
 */
export function scrubPii(text: string): string {
  if (text.length < MIN_SCANNED_LENGTH) return text;
  const findings = scanPii(text);
  if (containsUnderscore(text)) {
    const joined = scanPiiAcrossUnderscores(text).filter((finding) => !findings.some((other) => finding.start < other.end && other.start < finding.end));
    findings.push(...joined);
  }
  return redactText(
    text,
    findings.filter((finding) => !isLocalAddress(text, finding)),
    { mode: 'mask' },
  );
}

/**
 * Loopback (127.0.0.0/8, ::1) and unspecified (0.0.0.0, ::) addresses. BlockList also matches
 * their IPv4-mapped IPv6 forms such as ::ffff:127.0.0.1.
 */
const LOCAL_ADDRESSES = new BlockList();
LOCAL_ADDRESSES.addSubnet('127.0.0.0', 8, 'ipv4');
LOCAL_ADDRESSES.addAddress('0.0.0.0', 'ipv4');
LOCAL_ADDRESSES.addAddress('::1', 'ipv6');
LOCAL_ADDRESSES.addAddress('::', 'ipv6');

/** True for an IP address finding of a loopback or unspecified address, with or without a /prefix or %zone. */
function isLocalAddress(text: string, finding: PiiFinding): boolean {
  if (finding.entityType !== 'IP_ADDRESS') return false;
  // A prefix length turns the address into a network, and 127.0.0.0/8 is still only loopback.
  const address = text.slice(finding.start, finding.end).split(/[/%]/)[0];
  const family = isIP(address);
  if (family === 0) return false;
  return LOCAL_ADDRESSES.check(address, family === 4 ? 'ipv4' : 'ipv6');
}
