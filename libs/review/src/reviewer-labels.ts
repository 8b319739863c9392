import { createHmac } from 'node:crypto';
import { deriveKey } from '../../common/src/index.js';
import { canonicalSubject } from './review-access.js';

/** Length of a reviewer label in hex characters: 64 bits, so a collision between two reviewers is negligible. */
const LABEL_HEX_LENGTH = 16;

/**
 * Keyed pseudonyms of reviewers for the `reviewer` label of review metrics. /metrics needs no
 * token, and token subjects are often email addresses, so the label must not name the person.
 * The label is the start of an HMAC-SHA256 of the tenant and the canonical subject, under a key
 * derived from the vault master key. The tenant is part of the input, so one subject in two
 * tenants gets two labels. `warden review reviewer-labels` lists the labels of a tenant's reviewers.
 */
export class ReviewerLabels {
  private readonly key: Buffer;

  constructor(masterKey: Buffer) {
    this.key = deriveKey(masterKey, 'warden review metrics reviewer label v1');
  }

  label(tenant: string, subject: string): string {
    return createHmac('sha256', this.key).update(`${tenant}\u0000${canonicalSubject(subject)}`, 'utf8').digest('hex').slice(0, LABEL_HEX_LENGTH);
  }
}
