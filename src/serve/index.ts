/**
 * The HTTP service as a library: `createServer` (a ready `http` server with
 * batching, limits, auth and graceful close) and `createMatcher` (the same
 * matcher as JSON-level functions and a `(req, res)` handler to mount in an
 * existing app).
 */
export { createServer } from './server.js';
export type { JobbertServer, ServeOptions } from './server.js';
export { createMatcher } from './matcher.js';
export type {
  CallOptions,
  EncodeResponse,
  HealthResponse,
  MatchResponse,
  Matcher,
  MatcherOptions,
  MatcherSettings,
  ServedIndex,
} from './matcher.js';
export { ServeError } from './http.js';
export { loadIndexWithEncoder, readSkillsFile, type IndexWithEncoder } from './load.js';
export { openApiDocument } from './openapi.js';
export type { Embedding, EmbeddingsResponse } from './openai.js';
