import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from './databases.js';

/** The compiled CLI entry point, found beside this file in the same build folder. */
export const CLI_MAIN = resolve(import.meta.dirname, '..', '..', 'apps', 'cli', 'src', 'main.js');

/** Maximum run time of a short CLI command before the helper kills it, in milliseconds. */
const COMMAND_TIMEOUT_MS = 60_000;

/** Maximum time `warden start` may take to print its GraphQL address, in milliseconds. */
const START_TIMEOUT_MS = 60_000;

/** Outcome of one finished `warden` process. */
export interface CliResult {
  /** Exit code, or null when a signal ended the process. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Environment for a `warden` child: only the given variables plus PATH and HOME, so the tests do
 * not depend on what the calling shell exports. The policy folder defaults to the repository's.
 */
export function cliEnvironment(variables: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    WARDEN_POLICY_DIR: join(REPO_ROOT, 'policies'),
    LOG_LEVEL: 'warn',
  };
  for (const [name, value] of Object.entries(variables)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

function spawnCli(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [CLI_MAIN, ...args], { env, cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs `warden ARGS` to completion and collects its exit code and output. */
export function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolveResult, reject) => {
    const child = spawnCli(args, env);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), COMMAND_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveResult({ code, signal, stdout, stderr });
    });
  });
}

/** Runs `warden ARGS`, requires exit code 0 and parses stdout as JSON. */
export async function runCliJson<T = Record<string, unknown>>(args: string[], env: NodeJS.ProcessEnv): Promise<T> {
  const result = await runCli(args, env);
  if (result.code !== 0) {
    throw new Error(`warden ${args.join(' ')} exited with ${result.code ?? result.signal}: ${result.stderr}`);
  }
  return JSON.parse(result.stdout) as T;
}

/** A `warden start` child that is listening. */
export interface StartedCli {
  child: ChildProcess;
  graphqlUrl: string;
  /** Sends `signal` and resolves with the exit code, signal and all output once the process ends. */
  stop(signal?: NodeJS.Signals): Promise<CliResult>;
}

/** Starts `warden start ARGS` and resolves once it prints its GraphQL address. */
export function startCli(args: string[], env: NodeJS.ProcessEnv): Promise<StartedCli> {
  return new Promise((resolveStarted, reject) => {
    const child = spawnCli(['start', ...args], env);
    let stdout = '';
    let stderr = '';
    let listening = false;
    const exited = new Promise<CliResult>((resolveExit) => {
      child.on('close', (code, signal) => resolveExit({ code, signal, stdout, stderr }));
    });

    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`warden start printed no GraphQL address within ${START_TIMEOUT_MS} ms: ${stderr}`));
    }, START_TIMEOUT_MS);

    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = /GraphQL: (http:\/\/\S+)/.exec(stdout);
      if (!match || listening) return;
      listening = true;
      clearTimeout(timer);
      resolveStarted({
        child,
        graphqlUrl: match[1],
        stop(signal = 'SIGTERM') {
          child.kill(signal);
          return exited;
        },
      });
    });
    void exited.then((result) => {
      if (listening) return;
      clearTimeout(timer);
      reject(new Error(`warden start exited with ${result.code ?? result.signal} before listening: ${result.stderr}`));
    });
  });
}

/** Decodes the payload (middle part) of a compact JWT without checking its signature. */
export function decodeJwtPayload(token: string): Record<string, unknown> {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error(`expected a JWT with 3 parts, got ${parts.length}`);
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as Record<string, unknown>;
}
