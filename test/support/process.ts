import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';

export interface ProcessResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program to completion and collects its output. Asynchronous on purpose: a blocking spawn
 * would stall the test file's other work while the program runs. The working folder is the system
 * temporary folder, so the program cannot depend on the repository's layout.
 */
export function runProcess(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: tmpdir(), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (exitCode) => resolve({ exitCode, stdout, stderr }));
  });
}
