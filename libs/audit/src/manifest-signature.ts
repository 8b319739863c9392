/**
 * The signature of an export bundle's manifest: manifest.sig is a signed note (c2sp.org/signed-note,
 * the layout of checkpoint-note.ts) whose body is two lines,
 *
 *   <formatVersion> manifest\n
 *   sha256 <lowercase hex SHA-256 of the exact bytes of manifest.json>\n
 *
 * where <formatVersion> is the manifest's, such as warden.audit-export.v5,
 * signed with the ledger's checkpoint key. manifest.json lists the size and SHA-256 of every other
 * file, so the signature covers the whole bundle, the PDF and the analyst files included. The body
 * cannot be read as a checkpoint, whose second line is a tree size, so one key signs both safely.
 */
import { sha256Hex } from '../../common/src/index.js';
import { BUNDLE_FORMAT_VERSION, type BundleFormatVersion } from './bundle-format.js';
import { signNote, verifySignedNote, type CheckpointSigner, type CheckpointVerifierKey } from './checkpoints/checkpoint-note.js';

export const MANIFEST_SIGNATURE_FILE = 'manifest.sig';

/** Returns the signed body that states the SHA-256 of manifest.json. */
export function formatManifestStatement(manifestBytes: Uint8Array, formatVersion: BundleFormatVersion = BUNDLE_FORMAT_VERSION): string {
  return `${formatVersion} manifest\nsha256 ${sha256Hex(manifestBytes)}\n`;
}

/** Signs the manifest's bytes and returns the text of manifest.sig. */
export function signManifest(manifestBytes: Uint8Array, signer: CheckpointSigner, formatVersion: BundleFormatVersion = BUNDLE_FORMAT_VERSION): string {
  return signNote(formatManifestStatement(manifestBytes, formatVersion), signer);
}

export type ManifestSignatureVerification = { ok: true; keyIds: string[] } | { ok: false; reason: string };

/**
 * Checks that manifest.sig is signed by one of the bundle's keys and states the SHA-256 of these
 * manifest bytes. The keys come from the bundle's keys.json, so, as for the checkpoint, compare
 * the key ids with the keys the bank publishes.
 */
export function verifyManifestSignature(
  signatureText: string,
  manifestBytes: Uint8Array,
  publicKeys: readonly CheckpointVerifierKey[],
  formatVersion: BundleFormatVersion = BUNDLE_FORMAT_VERSION,
): ManifestSignatureVerification {
  const verification = verifySignedNote(signatureText, publicKeys);
  if (!verification.ok) return { ok: false, reason: verification.reason };
  if (verification.body !== formatManifestStatement(manifestBytes, formatVersion)) {
    return { ok: false, reason: 'the signed statement is not the SHA-256 of this manifest.json; the manifest was changed after signing' };
  }
  return { ok: true, keyIds: verification.keyIds };
}
