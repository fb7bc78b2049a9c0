/**
 * The OpenAI-compatible side of `POST /v1/embeddings`: the response body
 * (float arrays, or base64 of the little-endian float32 bytes as OpenAI
 * sends them), token usage, and errors that carry OpenAI's `type` and
 * `param` beside our `code`, `message` and `field`.
 */
import { endianness } from 'node:os';
import { BRANCHES, type Encoder } from '../encoders/encoder.js';
import { words } from '../encoders/tfidf.js';
import { ServeError } from './http.js';
import type { EmbeddingsRequest } from './requests.js';

export interface Embedding {
  object: 'embedding';
  index: number;
  /** The vector, or with `encoding_format: 'base64'` its little-endian float32 bytes in base64. */
  embedding: number[] | string;
}

export interface EmbeddingsResponse {
  object: 'list';
  data: Embedding[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

const littleEndian = endianness() === 'LE';

/** The little-endian float32 bytes of `vector`, base64-encoded (what OpenAI's clients decode). Sync. */
export function float32Base64(vector: ArrayLike<number>): string {
  const floats = Float32Array.from(vector);
  const bytes = Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength);
  if (!littleEndian) bytes.swap32();
  return bytes.toString('base64');
}

/**
 * Tokens per text for `usage`: the encoder's own count (countTokens), else
 * words as jobbert splits them (the TF-IDF encoder's tokens). Async.
 */
export function countTokens(encoder: Encoder, texts: string[]): Promise<number[]> {
  if (typeof encoder.countTokens === 'function') return encoder.countTokens(texts);
  return Promise.resolve(texts.map((t) => words(t).length));
}

/** The response body for `req` from its vectors (one per text, in order) and token counts. Sync. */
export function embeddingsResponse(req: EmbeddingsRequest, vectors: ArrayLike<number>[], tokens: number[]): EmbeddingsResponse {
  const total = tokens.reduce((a, b) => a + b, 0);
  return {
    object: 'list',
    data: vectors.map((v, index) => ({
      object: 'embedding',
      index,
      embedding: req.encodingFormat === 'base64' ? float32Base64(v) : Array.from(v),
    })),
    model: req.model,
    usage: { prompt_tokens: total, total_tokens: total },
  };
}

/** One entry of `GET /v1/models`, as OpenAI lists a model. */
export interface ModelObject {
  id: string;
  object: 'model';
  /** Unix seconds: when this server started serving the model. */
  created: number;
  owned_by: 'jobbert';
}

/**
 * The models `/v1/embeddings` takes, as `GET /v1/models` lists them: the
 * encoder's branches ('anchor' first, the default), then its fingerprint
 * (another name for 'anchor'). Empty without an encoder. Sync.
 */
export function servedModels(encoder: Encoder | undefined, created: number): ModelObject[] {
  if (!encoder) return [];
  return [...BRANCHES, encoder.fingerprint].map((id) => ({ id, object: 'model', created, owned_by: 'jobbert' }));
}

/** OpenAI's error `type` for a status: what its clients and docs show for the same failures. */
function openAIType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status < 500) return 'invalid_request_error';
  return 'server_error';
}

/**
 * A ServeError whose body also carries OpenAI's `type` and `param` (= our
 * `field`, or null), so OpenAI clients show our message and status as they
 * would OpenAI's: `{ error: { code, message, field?, type, param } }`.
 */
export class OpenAIServeError extends ServeError {
  override toJSON(): { error: { code: string; message: string; field?: string; type: string; param: string | null } } {
    return { error: { ...super.toJSON().error, type: openAIType(this.status), param: this.field ?? null } };
  }
}

/** `e` with OpenAI's error fields added (the same status, code, message, field and headers). Sync. */
export function openAIError(e: ServeError): OpenAIServeError {
  if (e instanceof OpenAIServeError) return e;
  return new OpenAIServeError(e.status, e.code, e.message, { field: e.field, headers: e.headers, cause: e.cause });
}
