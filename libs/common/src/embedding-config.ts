import { resolve } from 'node:path';

/** Embedder settings of retrieval, read from the WARDEN_EMBEDDING_* variables. */
export interface EmbeddingConfig {
  /** `lexical` (built in, the default), `onnx` (a local model folder) or `openai` (an OpenAI-compatible server). */
  provider: 'lexical' | 'onnx' | 'openai';
  /** Model name sent to the server (openai) or recorded with chunks (onnx, default: the folder name). */
  model: string | undefined;
  /** Vector size: the lexical embedder's size, or the size the openai server must return (unset: learned from the first response). */
  dimension: number | undefined;
  /** Folder with model.onnx and tokenizer.json, for the onnx provider. */
  modelDir: string | undefined;
  /** Base URL of the OpenAI-compatible server, such as http://127.0.0.1:8080/v1. */
  url: string | undefined;
  /** Bearer key of the OpenAI-compatible server. Secret: never logged. */
  apiKey: string | undefined;
}

const PROVIDERS = ['lexical', 'onnx', 'openai'] as const;

export const EMBEDDING_CONFIG_VARIABLES: ReadonlyArray<{ name: string; description: string; fallback: string }> = [
  { name: 'WARDEN_EMBEDDING_PROVIDER', description: 'embedder of document retrieval: lexical (built in), onnx (local model folder) or openai (OpenAI-compatible server)', fallback: 'lexical' },
  { name: 'WARDEN_EMBEDDING_MODEL', description: 'embedding model name: required for openai; for onnx the name recorded with chunks', fallback: 'unset (onnx: the folder name)' },
  { name: 'WARDEN_EMBEDDING_DIMENSION', description: 'embedding size: lexical vector size (16-4096), or the size an openai server must return', fallback: 'lexical: 512; openai: from the first response' },
  { name: 'WARDEN_EMBEDDING_MODEL_DIR', description: 'folder with model.onnx and tokenizer.json; required for onnx', fallback: 'unset' },
  { name: 'WARDEN_EMBEDDING_URL', description: 'base URL of the OpenAI-compatible embeddings server (https, or http on this machine); required for openai', fallback: 'unset' },
  { name: 'WARDEN_EMBEDDING_API_KEY', description: 'bearer key of the embeddings server (secret)', fallback: 'unset' },
];

/** Builds the error for an invalid variable; config.ts passes one that creates its ConfigError. */
type InvalidVariable = (variable: string, message: string) => Error;

/** Reads and checks the WARDEN_EMBEDDING_* variables. */
export function readEmbeddingConfig(env: NodeJS.ProcessEnv, invalid: InvalidVariable): EmbeddingConfig {
  const provider = (env.WARDEN_EMBEDDING_PROVIDER?.trim().toLowerCase() || 'lexical') as EmbeddingConfig['provider'];
  if (!PROVIDERS.includes(provider)) {
    throw invalid('WARDEN_EMBEDDING_PROVIDER', `must be one of ${PROVIDERS.join(', ')}, got "${env.WARDEN_EMBEDDING_PROVIDER}". Set it to lexical or unset it.`);
  }
  const model = env.WARDEN_EMBEDDING_MODEL?.trim() || undefined;
  const modelDir = env.WARDEN_EMBEDDING_MODEL_DIR?.trim() ? resolve(env.WARDEN_EMBEDDING_MODEL_DIR.trim()) : undefined;
  const apiKey = env.WARDEN_EMBEDDING_API_KEY?.trim() || undefined;
  const dimension = readDimension(env, invalid);
  const url = readEmbeddingUrl(env, invalid);

  if (provider === 'onnx' && !modelDir) {
    throw invalid('WARDEN_EMBEDDING_MODEL_DIR', 'must be set when WARDEN_EMBEDDING_PROVIDER is onnx. Set it to a folder with model.onnx and tokenizer.json.');
  }
  if (provider === 'openai' && !url) {
    throw invalid('WARDEN_EMBEDDING_URL', 'must be set when WARDEN_EMBEDDING_PROVIDER is openai. Set it like http://127.0.0.1:8080/v1.');
  }
  if (provider === 'openai' && !model) {
    throw invalid('WARDEN_EMBEDDING_MODEL', 'must be set when WARDEN_EMBEDDING_PROVIDER is openai. Set it to the served model name, such as BAAI/bge-small-en-v1.5.');
  }
  return { provider, model, dimension, modelDir, url, apiKey };
}

function readDimension(env: NodeJS.ProcessEnv, invalid: InvalidVariable): number | undefined {
  const raw = env.WARDEN_EMBEDDING_DIMENSION?.trim();
  if (!raw) return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 16 || value > 4096) {
    throw invalid('WARDEN_EMBEDDING_DIMENSION', `must be a whole number from 16 to 4096, got "${raw}". Set it to 512 or unset it.`);
  }
  return value;
}

/** Document text travels to this server, so plain http is accepted only on this machine. */
function readEmbeddingUrl(env: NodeJS.ProcessEnv, invalid: InvalidVariable): string | undefined {
  const raw = env.WARDEN_EMBEDDING_URL?.trim();
  if (!raw) return undefined;
  const example = 'https://embeddings.example-bank.test/v1';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid('WARDEN_EMBEDDING_URL', `is not a valid URL. Set it like ${example} or unset it.`);
  }
  const local = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) {
    throw invalid('WARDEN_EMBEDDING_URL', `must use https unless the server is on this machine, got "${raw}". Set it like ${example}.`);
  }
  return raw;
}
