import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Warden's version from package.json, recorded in export manifests and printed by `warden --version`. */
export const WARDEN_VERSION: string = (() => {
  // Compiled code lives in dist/libs/common/src, four levels below the repository root.
  const manifest = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
  return manifest.version;
})();
