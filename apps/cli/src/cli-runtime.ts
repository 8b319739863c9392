import { userInfo } from 'node:os';
import type { WardenConfig } from '../../../libs/common/src/index.js';
import { createRuntime, type WardenRuntime } from '../../../libs/decisions/src/index.js';

/** Returns the ledger actor of commands run by an operator at the shell, such as `cli:alice`. */
export function operatorActor(): string {
  return `cli:${userInfo().username}`;
}

/** Runs `work` with a runtime opened from the configuration, and closes the runtime afterwards. */
export async function withRuntime<T>(loadConfig: () => WardenConfig, work: (runtime: WardenRuntime) => Promise<T>): Promise<T> {
  const runtime = await createRuntime(loadConfig());
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
  }
}

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}
