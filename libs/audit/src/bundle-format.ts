/**
 * The audit export bundle: a folder with three files that a regulator can check without access to
 * Warden's database.
 *
 * - decisions.jsonl: one decision per line, in ledger seq order, each line the RFC 8785 canonical
 *   JSON of a DecisionLine followed by "\n".
 * - ledger.jsonl: every ledger entry from the first to the last seq that the decisions point at,
 *   each line the canonical JSON of a LedgerEntry followed by "\n". Together with
 *   `ledger.segmentPrevHash` this lets the chain between those entries be recomputed.
 * - manifest.json: the canonical JSON of a BundleManifest followed by "\n". `manifestDigest` is the
 *   SHA-256 of the canonical JSON of the manifest without that field, and `files` contains the size
 *   and SHA-256 of the other two files, so a changed byte anywhere is detected.
 *
 * The digests make accidental or naive edits evident. Someone who rewrites every file consistently
 * can forge them, so `ledger.head` (and the entry hashes) must be compared with the live ledger or a
 * signed checkpoint to prove the bundle came from Warden.
 */
import { canonicalJson, sha256Hex } from '../../common/src/index.js';

export const BUNDLE_FORMAT_VERSION = 'warden.audit-export.v1';
export const DECISIONS_FILE = 'decisions.jsonl';
export const LEDGER_FILE = 'ledger.jsonl';
export const MANIFEST_FILE = 'manifest.json';

/** Definition of each ledger hash, written into the manifest for a reader who has only the bundle. */
export const LEDGER_HASH_DEFINITION =
  'hash = hex SHA-256 of UTF-8 (prevHash || RFC 8785 JSON of {seq, type, tenant, actor, payload, createdAt}); ' +
  'seq 1 has prevHash = 64 zeros';

/** Ledger type of the entry that the decision pipeline appends for each decision. */
export const DECISION_CREATED_TYPE = 'decision.created';

/** One line of decisions.jsonl. */
export interface DecisionLine {
  id: string;
  tenant: string;
  useCase: string;
  requestId: string | null;
  actor: string;
  outcome: string;
  score: number;
  modelVersion: string;
  /** ISO 8601 UTC time with milliseconds. */
  createdAt: string;
  ledgerSeq: number;
  ledgerHash: string;
  /** SHA-256 of the RFC 8785 canonical JSON of `record`. */
  recordDigest: string;
  record: Record<string, unknown>;
}

export interface BundleFileDigest {
  bytes: number;
  sha256: string;
}

export interface BundleManifest {
  formatVersion: typeof BUNDLE_FORMAT_VERSION;
  wardenVersion: string;
  useCase: string;
  /** Tenant the export was limited to, or null for every tenant. */
  tenant: string | null;
  /** Outcome the export was limited to, or null for every outcome. */
  outcome: string | null;
  /** Half-open range [from, to) of decision createdAt, as ISO 8601 UTC strings. */
  period: { from: string; to: string };
  counts: { decisions: number; ledgerEntries: number };
  /** Size and SHA-256 of every other file: the two JSONL files, and the derived CSV and Parquet files. */
  files: { [DECISIONS_FILE]: BundleFileDigest; [LEDGER_FILE]: BundleFileDigest } & Record<string, BundleFileDigest>;
  ledger: {
    hashDefinition: string;
    /** First and last seq in ledger.jsonl, or null when the bundle contains no decisions. */
    firstSeq: number | null;
    lastSeq: number | null;
    /** prevHash of the entry at firstSeq, or null when the bundle contains no decisions. */
    segmentPrevHash: string | null;
    /** The ledger's last entry when the export ran. */
    head: { seq: number; hash: string };
  };
  /** ISO 8601 UTC time of the export. */
  createdAt: string;
  manifestDigest: string;
}

export type UnsignedManifest = Omit<BundleManifest, 'manifestDigest'>;

/** Adds `manifestDigest` and returns the manifest with the exact bytes of manifest.json. */
export function sealManifest(unsigned: UnsignedManifest): { manifest: BundleManifest; text: string } {
  const manifest: BundleManifest = { ...unsigned, manifestDigest: computeManifestDigest(unsigned) };
  return { manifest, text: `${canonicalJson(manifest)}\n` };
}

/** SHA-256 of the canonical JSON of a manifest without its `manifestDigest` field. */
export function computeManifestDigest(manifest: Record<string, unknown>): string {
  const { manifestDigest: _ignored, ...rest } = manifest;
  return sha256Hex(canonicalJson(rest));
}

/** Formats one JSON Lines record: canonical JSON and a newline. */
export function toJsonLine(value: unknown): string {
  return `${canonicalJson(value)}\n`;
}
