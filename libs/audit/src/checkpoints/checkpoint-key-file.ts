import { createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createPrivateFileOnce, FailedPreconditionError, getLogger, readPrivateFile } from '../../../common/src/index.js';

/** Writes a new Ed25519 private key as PKCS#8 PEM and returns it. */
export function generateCheckpointKey(): { privateKey: KeyObject; pem: string } {
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  return { privateKey, pem };
}

/**
 * Loads the checkpoint signing key from a PKCS#8 PEM file, or creates it there with mode 0600 when
 * the file does not exist. Two processes that start together end up with the same key, because
 * the key is written to a temporary file and hard-linked into place, which fails for the second
 * writer.
 */
export async function loadOrCreateCheckpointKey(path: string): Promise<KeyObject> {
  const existing = await readKeyFile(path);
  if (existing !== undefined) return existing;

  if (await createPrivateFileOnce(path, generateCheckpointKey().pem)) {
    getLogger('audit-checkpoints').info({ path }, 'created checkpoint signing key');
  }
  const key = await readKeyFile(path);
  if (key === undefined) throw new FailedPreconditionError(`The checkpoint signing key ${path} vanished while it was created. Try again.`);
  return key;
}

/**
 * Replaces the key file with `pem` in one rename, so a reader sees either the old or the new key
 * and never a partial file.
 */
export async function replaceCheckpointKeyFile(path: string, pem: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporaryPath = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporaryPath, pem, { mode: 0o600, flag: 'wx' });
  try {
    await rename(temporaryPath, path);
  } catch (error) {
    await unlink(temporaryPath).catch(() => undefined);
    throw error;
  }
}

async function readKeyFile(path: string): Promise<KeyObject | undefined> {
  const pem = await readPrivateFile(path, 'checkpoint signing key');
  if (pem === undefined) return undefined;

  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new FailedPreconditionError(`The checkpoint signing key ${path} is not a PEM private key. Restore it from backup or run warden audit rotate-key.`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new FailedPreconditionError(
      `The checkpoint signing key ${path} is a ${String(key.asymmetricKeyType)} key, not Ed25519. Restore it from backup or run warden audit rotate-key.`,
    );
  }
  return key;
}
