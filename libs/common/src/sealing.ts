import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { FailedPreconditionError } from './errors.js';
import { getLogger } from './logger.js';
import { createPrivateFileOnce, readPrivateFile } from './private-file.js';

/** Bytes of an AES-256 key and of the master key it is derived from. */
export const SEALING_KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Encrypts `plaintext` with AES-256-GCM under `key`, binding `associatedData` into the tag, and
 * returns nonce || ciphertext || tag. A fresh random 96-bit nonce is drawn for every call.
 */
export function sealAesGcm(key: Buffer, plaintext: Buffer | string, associatedData: Buffer): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(associatedData);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, ciphertext, cipher.getAuthTag()]);
}

/** Decrypts what sealAesGcm returned; throws when the key, the associated data or any byte differs. */
export function openAesGcm(key: Buffer, sealed: Buffer, associatedData: Buffer): Buffer {
  if (sealed.length < NONCE_BYTES + TAG_BYTES) throw new Error('sealed value is shorter than a nonce and a tag');
  const nonce = sealed.subarray(0, NONCE_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(associatedData);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
}

/** Derives a 32-byte key from `masterKey` with HKDF-SHA256; `info` names the purpose and the tenant. */
export function deriveKey(masterKey: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), info, SEALING_KEY_BYTES));
}

/**
 * Reads the 32-byte master key (64 hex characters) from `path`, or creates it there with mode
 * 0600 when the file does not exist. `label` names the key in log lines and errors.
 */
export async function loadOrCreateMasterKey(path: string, label: string): Promise<Buffer> {
  const existing = await readMasterKey(path, label);
  if (existing) return existing;

  if (await createPrivateFileOnce(path, `${randomBytes(SEALING_KEY_BYTES).toString('hex')}\n`)) {
    getLogger('sealing').info({ path }, `created ${label}`);
  }
  const key = await readMasterKey(path, label);
  if (!key) throw new FailedPreconditionError(`The ${label} ${path} vanished while it was created. Try again.`);
  return key;
}

async function readMasterKey(path: string, label: string): Promise<Buffer | undefined> {
  const text = await readPrivateFile(path, label);
  if (text === undefined) return undefined;
  const hex = text.trim();
  if (!/^[0-9a-f]{64}$/i.test(hex)) {
    throw new FailedPreconditionError(`The ${label} ${path} must hold 64 hex characters (32 bytes). Restore it from backup.`);
  }
  return Buffer.from(hex, 'hex');
}
