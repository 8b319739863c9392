/**
 * Signed checkpoints of the ledger's Merkle tree, in the C2SP formats that transparency logs use
 * (c2sp.org/tlog-checkpoint inside a c2sp.org/signed-note), so tools written for those logs can
 * check Warden's checkpoints. Plain TypeScript: an auditor can reimplement it from this comment.
 *
 * A note is UTF-8 text. Warden writes exactly this layout ("\n" is the byte 0x0A):
 *
 *   <origin>\n
 *   <tree size>\n
 *   <root hash>\n
 *   time <created at>\n
 *   \n
 *   — <key name> <signature>\n
 *
 * - The body is the first four lines, each with its "\n". It is the exact message that Ed25519
 *   signs. The blank line and the signature lines are not signed.
 * - origin names the log: no whitespace and no "+", at most 255 characters.
 * - tree size is the number of leaves in decimal, without leading zeros ("0" for an empty tree).
 * - root hash is the 32-byte RFC 6962 root, in standard base64 with padding (44 characters).
 * - "time <created at>" is an extension line: C2SP lets a log add non-empty lines after the root,
 *   and they are signed with the rest of the body. Warden carries the checkpoint time there as a
 *   UTC ISO 8601 time with milliseconds ("2026-01-31T09:15:00.123Z").
 * - A signature line starts with U+2014 (em dash) and a space. The key name is the origin. The
 *   signature is standard base64 of 68 bytes: the 4-byte key hash followed by the 64-byte Ed25519
 *   signature of the body.
 * - key hash = the first 4 bytes of SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public
 *   key), where 0x01 is the signed-note algorithm byte for Ed25519. It only selects the key, and
 *   the signature itself decides.
 * - The verifier key string (vkey) is `<key name>+<key hash as 8 lowercase hex>+<base64(0x01 ||
 *   public key)>`. A key id is its first two parts, `<key name>+<key hash>`.
 * - Verification follows the signed-note rule that a note passes when a known key's signature
 *   verifies and fails when any known key's signature does not, while unknown keys are ignored.
 *
 * The same signed-note layout, with another body, signs the manifest of an export bundle
 * (signNote and verifySignedNote). tools/interop/checkpoint_check.go checks these notes with the
 * Go module mirror's note package, an independent implementation.
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { BadUserInputError } from '../../../common/src/index.js';

/** Signed-note algorithm byte of Ed25519. */
const ED25519_ALGORITHM = 0x01;
const ED25519_PUBLIC_KEY_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;
const KEY_HASH_BYTES = 4;

/** Signature lines start with an em dash and a space. */
const SIGNATURE_PREFIX = '\u2014 ';

/** The time extension line's prefix. */
const TIME_EXTENSION_PREFIX = 'time ';

/** Upper bounds that keep a hostile note from costing much to parse. */
const MAX_NOTE_BYTES = 64 * 1024;
const MAX_SIGNATURES = 100;
const MAX_ORIGIN_LENGTH = 255;

/** An origin or key name: no whitespace, no "+", no control characters. */
const NAME_PATTERN = /^[^\s+\p{Cc}]+$/u;
const ISO_TIME_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const DECIMAL_PATTERN = /^(0|[1-9]\d*)$/;
const HEX_HASH_PATTERN = /^[0-9a-f]{64}$/;

/** The signed statement: the log, its size and root at a point in time. */
export interface CheckpointBody {
  origin: string;
  treeSize: number;
  /** RFC 6962 root hash of the first treeSize leaves, lowercase hex. */
  rootHash: string;
  /** UTC ISO 8601 time with milliseconds, as Date.prototype.toISOString writes it. */
  time: string;
}

/** One signature line of a note. */
export interface NoteSignature {
  keyName: string;
  /** Key hash as 8 lowercase hex characters. */
  keyHash: string;
  /** The 64-byte Ed25519 signature, base64. */
  signature: string;
}

export interface ParsedCheckpoint extends CheckpointBody {
  /** The signed text: every line before the blank line, each with its "\n". */
  body: string;
  /** Extension lines other than the time line, in order. */
  extensions: string[];
  signatures: NoteSignature[];
}

/** An Ed25519 key that signs checkpoints. */
export interface CheckpointSigner {
  keyName: string;
  privateKey: KeyObject;
  /** The raw 32-byte public key. */
  publicKey: Uint8Array;
}

/** A public key that verifies checkpoints, as stored in audit.checkpoint_keys. */
export interface CheckpointVerifierKey {
  keyName: string;
  /** The raw 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
}

/** Stable code for the reason a note failed verification. */
export type CheckpointProblem = 'malformed' | 'unknown-key' | 'bad-signature';

export type CheckpointVerification =
  | { ok: true; checkpoint: ParsedCheckpoint; keyIds: string[] }
  | { ok: false; problem: CheckpointProblem; reason: string };

/** Checks that a string can be an origin or key name, and raises BadUserInputError otherwise. */
export function assertValidOrigin(origin: string, field = '/origin'): void {
  if (typeof origin !== 'string' || !NAME_PATTERN.test(origin) || origin.length > MAX_ORIGIN_LENGTH) {
    throw new BadUserInputError(`The checkpoint origin "${String(origin)}" is invalid.`, [
      { field, message: `must be 1 to ${MAX_ORIGIN_LENGTH} characters without whitespace or "+", such as warden.example-bank.test/ledger` },
    ]);
  }
}

/** Writes the checkpoint body (the signed text) of a tree size and root. */
export function formatCheckpoint(checkpoint: CheckpointBody): string {
  assertValidOrigin(checkpoint.origin);
  const fieldErrors = [];
  if (!Number.isSafeInteger(checkpoint.treeSize) || checkpoint.treeSize < 0) {
    fieldErrors.push({ field: '/treeSize', message: `must be a whole number from 0, got ${String(checkpoint.treeSize)}` });
  }
  if (!HEX_HASH_PATTERN.test(checkpoint.rootHash)) {
    fieldErrors.push({ field: '/rootHash', message: 'must be 64 lowercase hex characters (a SHA-256 hash)' });
  }
  if (!isIsoTime(checkpoint.time)) {
    fieldErrors.push({ field: '/time', message: 'must be a UTC ISO 8601 time with milliseconds, such as 2026-01-31T09:15:00.123Z' });
  }
  if (fieldErrors.length > 0) throw new BadUserInputError('The checkpoint is invalid. Fix the listed fields.', fieldErrors);

  const root = Buffer.from(checkpoint.rootHash, 'hex').toString('base64');
  return `${checkpoint.origin}\n${checkpoint.treeSize}\n${root}\n${TIME_EXTENSION_PREFIX}${checkpoint.time}\n`;
}

/** Signs a checkpoint body and returns the whole note: body, blank line, one signature line. */
export function signCheckpoint(body: string, signer: CheckpointSigner): string {
  parseBody(body);
  return signNote(body, signer);
}

/**
 * Signs any signed-note body (non-empty lines without control characters, each ending in "\n")
 * and returns the note with one signature line. Raises BadUserInputError for an invalid body.
 */
export function signNote(body: string, signer: CheckpointSigner): string {
  assertValidNoteBody(body);
  assertValidOrigin(signer.keyName, '/keyName');
  const keyHash = computeKeyHash(signer.keyName, signer.publicKey);
  const signature = sign(null, Buffer.from(body, 'utf8'), signer.privateKey);
  const signatureField = Buffer.concat([keyHash, signature]).toString('base64');
  return `${body}\n${SIGNATURE_PREFIX}${signer.keyName} ${signatureField}\n`;
}

/**
 * Splits a note into its checkpoint body and signature lines without checking any signature.
 * Raises BadUserInputError naming the first malformed part.
 */
export function parseCheckpoint(note: string): ParsedCheckpoint {
  const { body, signatureLines } = splitNote(note);
  const fields = parseBody(body);
  return { ...fields, body, signatures: parseSignatureLines(signatureLines) };
}

/** Splits a signed note into its body and signature lines. Raises BadUserInputError when malformed. */
function splitNote(note: string): { body: string; signatureLines: string[] } {
  if (typeof note !== 'string') throw malformed('must be a string');
  if (Buffer.byteLength(note, 'utf8') > MAX_NOTE_BYTES) throw malformed(`must be at most ${MAX_NOTE_BYTES} bytes`);
  if (!note.endsWith('\n')) throw malformed('must end with a newline');

  // A note body has no blank line, so the last blank line starts the signatures.
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw malformed('must have a blank line between the body and the signatures');
  return { body: note.slice(0, split + 1), signatureLines: note.slice(split + 2, -1).split('\n') };
}

function parseSignatureLines(lines: string[]): NoteSignature[] {
  if (lines.length > MAX_SIGNATURES) throw malformed(`must have at most ${MAX_SIGNATURES} signature lines`);
  return lines.map((line, index) => parseSignatureLine(line, index + 1));
}

function assertValidNoteBody(body: string): void {
  if (typeof body !== 'string' || !body.endsWith('\n')) throw malformed('the note body must end with a newline');
  for (const [index, line] of body.slice(0, -1).split('\n').entries()) {
    if (line === '' || /\p{Cc}/u.test(line)) throw malformed(`line ${index + 1} of the note body must be non-empty, without control characters`);
  }
}

/**
 * Verifies a note against the known public keys. The note passes when at least one signature
 * comes from a known key and every signature from a known key is valid. Signatures of keys not
 * in `publicKeys`, such as a witness's cosignature, are ignored, but a note signed by no known key
 * fails as `unknown-key`.
 */
export function verifyCheckpoint(note: string, publicKeys: readonly CheckpointVerifierKey[]): CheckpointVerification {
  let checkpoint: ParsedCheckpoint;
  try {
    checkpoint = parseCheckpoint(note);
  } catch (error) {
    if (!(error instanceof BadUserInputError)) throw error;
    return { ok: false, problem: 'malformed', reason: error.fieldErrors[0]?.message ?? error.message };
  }
  const signatures = verifyNoteSignatures(checkpoint.body, checkpoint.signatures, publicKeys, 'checkpoint body');
  return signatures.ok ? { ok: true, checkpoint, keyIds: signatures.keyIds } : signatures;
}

/** Result of checking a signed note whose body is not a checkpoint. */
export type SignedNoteVerification =
  | { ok: true; body: string; keyIds: string[] }
  | { ok: false; problem: CheckpointProblem; reason: string };

/** Verifies any signed note by the same rule as verifyCheckpoint, without reading its body. */
export function verifySignedNote(note: string, publicKeys: readonly CheckpointVerifierKey[]): SignedNoteVerification {
  let body: string;
  let signatures: NoteSignature[];
  try {
    const split = splitNote(note);
    assertValidNoteBody(split.body);
    body = split.body;
    signatures = parseSignatureLines(split.signatureLines);
  } catch (error) {
    if (!(error instanceof BadUserInputError)) throw error;
    return { ok: false, problem: 'malformed', reason: error.fieldErrors[0]?.message ?? error.message };
  }
  const verification = verifyNoteSignatures(body, signatures, publicKeys, 'note body');
  return verification.ok ? { ok: true, body, keyIds: verification.keyIds } : verification;
}

function verifyNoteSignatures(
  body: string,
  signatures: readonly NoteSignature[],
  publicKeys: readonly CheckpointVerifierKey[],
  bodyName: string,
): { ok: true; keyIds: string[] } | { ok: false; problem: CheckpointProblem; reason: string } {
  const keysById = new Map<string, KeyObject[]>();
  for (const key of publicKeys) {
    const id = keyIdOf(key.keyName, key.publicKey);
    keysById.set(id, [...(keysById.get(id) ?? []), toPublicKeyObject(key.publicKey)]);
  }

  const message = Buffer.from(body, 'utf8');
  const verifiedIds: string[] = [];
  for (const signature of signatures) {
    const id = `${signature.keyName}+${signature.keyHash}`;
    const candidates = keysById.get(id);
    if (!candidates) continue;
    const bytes = Buffer.from(signature.signature, 'base64');
    // Two keys may share a 4-byte hash, so any candidate with a valid signature counts.
    if (!candidates.some((key) => verify(null, message, key, bytes))) {
      return { ok: false, problem: 'bad-signature', reason: `the signature of key ${id} does not match the ${bodyName}` };
    }
    verifiedIds.push(id);
  }

  if (verifiedIds.length === 0) {
    const named = signatures.map((signature) => `${signature.keyName}+${signature.keyHash}`).join(', ');
    return { ok: false, problem: 'unknown-key', reason: `no signature is from a known key (signed by ${named})` };
  }
  return { ok: true, keyIds: verifiedIds };
}

/** Computes the 4-byte key hash that names an Ed25519 key in signature lines. */
export function computeKeyHash(keyName: string, publicKey: Uint8Array): Buffer {
  assertPublicKeyLength(publicKey);
  const digest = createHash('sha256')
    .update(Buffer.from(`${keyName}\n`, 'utf8'))
    .update(Buffer.from([ED25519_ALGORITHM]))
    .update(publicKey)
    .digest();
  return digest.subarray(0, KEY_HASH_BYTES);
}

/** Returns `<key name>+<key hash hex>`, the id of a checkpoint key. */
export function keyIdOf(keyName: string, publicKey: Uint8Array): string {
  return `${keyName}+${computeKeyHash(keyName, publicKey).toString('hex')}`;
}

/** Returns the verifier key string `<key name>+<key hash hex>+<base64(0x01 || public key)>`. */
export function formatVerifierKey(keyName: string, publicKey: Uint8Array): string {
  const encoded = Buffer.concat([Buffer.from([ED25519_ALGORITHM]), publicKey]).toString('base64');
  return `${keyIdOf(keyName, publicKey)}+${encoded}`;
}

/** Reads a verifier key string written by formatVerifierKey, checking its key hash. */
export function parseVerifierKey(vkey: string): CheckpointVerifierKey {
  const invalid = (message: string) => new BadUserInputError(`The verifier key "${vkey}" is invalid.`, [{ field: '/vkey', message }]);
  // Only the first two "+" separate fields, because base64 itself contains "+".
  const match = /^([^+]*)\+([0-9a-f]{8})\+(.*)$/s.exec(vkey);
  if (!match) throw invalid('must have the form <name>+<8 hex key hash>+<base64 key>');
  const [, keyName, keyHash, encoded] = match;
  if (!NAME_PATTERN.test(keyName)) throw invalid('must start with a key name without whitespace');
  const bytes = decodeCanonicalBase64(encoded);
  if (!bytes || bytes.length !== 1 + ED25519_PUBLIC_KEY_BYTES || bytes[0] !== ED25519_ALGORITHM) {
    throw invalid('must end with base64 of the byte 0x01 followed by a 32-byte Ed25519 public key');
  }
  const publicKey = bytes.subarray(1);
  if (computeKeyHash(keyName, publicKey).toString('hex') !== keyHash) throw invalid('has a key hash that does not match its key');
  return { keyName, publicKey };
}

/** Returns the raw 32-byte public key of an Ed25519 KeyObject (public or private). */
export function rawEd25519PublicKey(key: KeyObject): Buffer {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  if (publicKey.asymmetricKeyType !== 'ed25519') throw new TypeError(`expected an Ed25519 key, got ${publicKey.asymmetricKeyType}`);
  const jwk = publicKey.export({ format: 'jwk' });
  return Buffer.from(jwk.x as string, 'base64url');
}

function toPublicKeyObject(publicKey: Uint8Array): KeyObject {
  assertPublicKeyLength(publicKey);
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') }, format: 'jwk' });
}

function assertPublicKeyLength(publicKey: Uint8Array): void {
  if (publicKey.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new BadUserInputError('The checkpoint public key is invalid.', [
      { field: '/publicKey', message: `must be ${ED25519_PUBLIC_KEY_BYTES} bytes, got ${publicKey.length}` },
    ]);
  }
}

function parseBody(body: string): Omit<ParsedCheckpoint, 'body' | 'signatures'> {
  if (!body.endsWith('\n')) throw malformed('the checkpoint body must end with a newline');
  const lines = body.slice(0, -1).split('\n');
  if (lines.length < 4) throw malformed('the checkpoint body must have an origin, tree size, root hash and time line');
  const [origin, size, root, ...extensionLines] = lines;

  if (!NAME_PATTERN.test(origin) || origin.length > MAX_ORIGIN_LENGTH) {
    throw malformed('line 1 must be the origin, without whitespace or "+"');
  }
  if (!DECIMAL_PATTERN.test(size) || !Number.isSafeInteger(Number(size))) {
    throw malformed('line 2 must be the tree size in decimal without leading zeros');
  }
  const rootBytes = decodeCanonicalBase64(root);
  if (!rootBytes || rootBytes.length !== 32) throw malformed('line 3 must be the 32-byte root hash in standard base64');

  let time: string | undefined;
  const extensions: string[] = [];
  for (const [index, line] of extensionLines.entries()) {
    if (line === '' || /\p{Cc}/u.test(line)) throw malformed(`line ${index + 4} must be a non-empty extension line without control characters`);
    if (line.startsWith(TIME_EXTENSION_PREFIX)) {
      const value = line.slice(TIME_EXTENSION_PREFIX.length);
      if (time !== undefined || !isIsoTime(value)) throw malformed(`line ${index + 4} must be the only time line, with a UTC ISO 8601 time`);
      time = value;
    } else {
      extensions.push(line);
    }
  }
  if (time === undefined) throw malformed('the checkpoint body must have a "time <ISO 8601 time>" extension line');

  return { origin, treeSize: Number(size), rootHash: rootBytes.toString('hex'), time, extensions };
}

function parseSignatureLine(line: string, lineNumber: number): NoteSignature {
  if (!line.startsWith(SIGNATURE_PREFIX)) throw malformed(`signature line ${lineNumber} must start with "\u2014 "`);
  const parts = line.slice(SIGNATURE_PREFIX.length).split(' ');
  if (parts.length !== 2 || !NAME_PATTERN.test(parts[0])) {
    throw malformed(`signature line ${lineNumber} must be "\u2014 <key name> <base64 signature>"`);
  }
  const bytes = decodeCanonicalBase64(parts[1]);
  if (!bytes || bytes.length !== KEY_HASH_BYTES + ED25519_SIGNATURE_BYTES) {
    throw malformed(`signature line ${lineNumber} must carry base64 of a 4-byte key hash and a 64-byte Ed25519 signature`);
  }
  return {
    keyName: parts[0],
    keyHash: bytes.subarray(0, KEY_HASH_BYTES).toString('hex'),
    signature: bytes.subarray(KEY_HASH_BYTES).toString('base64'),
  };
}

/** Decodes standard padded base64, or returns undefined when the text is not its canonical form. */
function decodeCanonicalBase64(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

function isIsoTime(value: string): boolean {
  if (typeof value !== 'string' || !ISO_TIME_PATTERN.test(value)) return false;
  const date = new Date(value);
  return !Number.isNaN(date.getTime()) && date.toISOString() === value;
}

function malformed(message: string): BadUserInputError {
  return new BadUserInputError('The checkpoint note is malformed.', [{ field: '/note', message }]);
}
