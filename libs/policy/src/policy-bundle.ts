import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { digestJson } from '../../common/src/index.js';

/** One file of a policy bundle, named relative to the bundle's folder. */
export interface PolicyBundleFile {
  name: string;
  content: string;
}

/**
 * Computes the policy hash that decision records carry: the SHA-256 (hex) of the RFC 8785 JSON
 * array of `{ name, content }`, sorted by name in UTF-16 code-unit order. CRLF line endings are
 * hashed as LF because casbin parses both the same, so a checkout with Windows line endings keeps
 * the hash of the same rules.
 */
export function hashPolicyBundle(files: readonly PolicyBundleFile[]): string {
  const names = new Set<string>();
  for (const file of files) {
    if (names.has(file.name)) throw new TypeError(`hashPolicyBundle: the file name "${file.name}" occurs twice`);
    names.add(file.name);
  }

  const canonical = files
    .map((file) => ({ name: file.name, content: file.content.replace(/\r\n/g, '\n') }))
    .sort(compareNames);
  return digestJson(canonical);
}

/** Orders by UTF-16 code units, like RFC 8785 orders keys, and unlike localeCompare. */
function compareNames(left: PolicyBundleFile, right: PolicyBundleFile): number {
  if (left.name < right.name) return -1;
  if (left.name > right.name) return 1;
  return 0;
}

/** Reads the named files of a policy folder as UTF-8 text. */
export async function readPolicyBundle(folder: string, fileNames: readonly string[]): Promise<PolicyBundleFile[]> {
  return Promise.all(
    fileNames.map(async (name) => ({ name, content: await readFile(join(folder, name), 'utf8') })),
  );
}
