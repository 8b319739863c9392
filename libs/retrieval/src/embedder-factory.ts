import type { EmbeddingConfig } from '../../common/src/index.js';
import type { Embedder } from './embedder.js';
import { DEFAULT_LEXICAL_DIMENSION, LexicalEmbedder } from './lexical-embedder.js';
import { OnnxEmbedder } from './onnx-embedder.js';
import { OpenAiEmbedder } from './openai-embedder.js';

/** Creates the embedder that WARDEN_EMBEDDING_PROVIDER selects; loadConfig has already checked the variables each provider needs. */
export async function createEmbedder(config: EmbeddingConfig): Promise<Embedder> {
  switch (config.provider) {
    case 'lexical':
      return new LexicalEmbedder(config.dimension ?? DEFAULT_LEXICAL_DIMENSION);
    case 'onnx':
      return OnnxEmbedder.load(config.modelDir!, { model: config.model });
    case 'openai':
      return OpenAiEmbedder.create({ baseUrl: config.url!, apiKey: config.apiKey, model: config.model!, dimension: config.dimension });
  }
}
