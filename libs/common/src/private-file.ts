import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FailedPreconditionError } from './errors.js';

/**
 * Creates `path` with `contents` and mode 0600 (its folder 0700) unless the file already exists,
 * and returns whether this call created it. The contents go to a temporary file that is
 * hard-linked into place, which fails for a second writer, so two processes that start together
 * keep the first file and no reader ever sees half of one.
 */
export async function createPrivateFileOnce(path: string, contents: string): Promise<boolean> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporaryPath = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporaryPath, contents, { mode: 0o600, flag: 'wx' });
  try {
    await link(temporaryPath, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return false;
  } finally {
    await unlink(temporaryPath);
  }
}

/**
 * Reads a file that contains a secret, such as a signing key. Returns undefined when it does not
 * exist, and raises FAILED_PRECONDITION naming `label` when other users may read it.
 */
export async function readPrivateFile(path: string, label: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }

  // POSIX permission bits carry no meaning on Windows, where Node reports 0666 for every file.
  if (process.platform !== 'win32' && ((await stat(path)).mode & 0o077) !== 0) {
    throw new FailedPreconditionError(`The ${label} ${path} is readable by other users. Run chmod 600 on it.`);
  }
  return text;
}
