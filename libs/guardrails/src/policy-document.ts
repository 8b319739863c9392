import { parse } from 'yaml';
import { BadUserInputError, type FieldError } from '../../common/src/index.js';

/**
 * Parses the YAML text of a guardrail policy file and reads its `version`, adding a field error
 * when it is missing. Raises BadUserInputError naming `source` when the text is not YAML.
 */
export function parseVersionedPolicy(text: string, source: string, errors: FieldError[], exampleVersion: string): { root: Record<string, unknown>; version: string } {
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new BadUserInputError(`${source} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  const root = (document ?? {}) as Record<string, unknown>;
  const version = typeof root.version === 'string' || typeof root.version === 'number' ? String(root.version) : '';
  if (version === '') errors.push({ field: '/version', message: `must be a version string such as "${exampleVersion}"` });
  return { root, version };
}
