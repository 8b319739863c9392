import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './databases.js';

/** The single-file verifier that a regulator runs with plain Node.js. */
export const STANDALONE_VERIFIER = join(REPO_ROOT, 'tools', 'warden-verify-bundle.mjs');

/** The JSON report the standalone verifier prints, with the fields the tests read. */
export interface StandaloneReport {
  ok: boolean;
  problems: string[];
  checked: { decisions: number; purgedRecords: number; reviewEntries: number | null; accessDenials: number | null };
}

/** Runs the standalone verifier on a bundle folder and returns its exit code and parsed report. */
export function runStandaloneVerifier(dir: string): Promise<{ code: number | null; report: StandaloneReport }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [STANDALONE_VERIFIER, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, report: JSON.parse(stdout) as StandaloneReport }));
  });
}
