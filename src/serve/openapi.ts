/**
 * The OpenAPI 3.1 description served at `GET /openapi.json`, written by hand
 * so it says what the service promises (limits, error codes, batching) rather
 * than what a schema generator could infer. The limits in it are the ones the
 * running service was configured with.
 */
import type { RequestLimits } from './requests.js';

export interface OpenApiOptions {
  version: string;
  limits: RequestLimits & { maxBodyBytes: number };
  /** Whether a bearer token is required on /v1/* and /metrics. */
  auth: boolean;
  /** Whether /v1/skills is served. */
  skills: boolean;
  /** Whether /v1/encode is served (an encoder is configured). */
  encode: boolean;
}

const json = (schema: object) => ({ 'application/json': { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errorResponse = (description: string) => ({ description, content: json(ref('Error')) });

/** The document as a plain object (serialise with JSON.stringify). */
export function openApiDocument(o: OpenApiOptions): Record<string, unknown> {
  const L = o.limits;
  const texts = (what: string) => ({
    type: 'array',
    maxItems: L.maxQueries,
    items: {
      type: 'string',
      minLength: 1,
      maxLength: L.maxTextLength,
      description: `${what}; not blank; at most ${L.maxTextLength} UTF-16 code units`,
    },
  });
  const k = {
    type: 'integer',
    minimum: 1,
    maximum: L.maxK,
    default: Math.min(10, L.maxK),
    description: 'How many results per query (clamped to what the index holds).',
  };
  const security = o.auth ? [{ bearer: [] }] : [];
  const common = {
    '400': errorResponse('The body is not valid JSON or not valid UTF-8 (ERR_INVALID_JSON, ERR_INVALID_UTF8, ERR_EMPTY_BODY).'),
    ...(o.auth ? { '401': errorResponse('Missing or wrong bearer token (ERR_UNAUTHORIZED).') } : {}),
    '413': errorResponse(`The body is larger than ${L.maxBodyBytes} bytes (ERR_BODY_TOO_LARGE).`),
    '415': errorResponse('The Content-Type is not application/json (ERR_UNSUPPORTED_MEDIA_TYPE).'),
    '422': errorResponse('A field is missing, of the wrong type or out of range; `error.field` names it (ERR_VALIDATION).'),
    '503': errorResponse('The batch queue is full or the service is shutting down (ERR_OVERLOADED, ERR_SHUTTING_DOWN); retry later.'),
  };
  const post = (summary: string, description: string, request: string, response: string, extra: Record<string, unknown> = {}) => ({
    post: {
      summary,
      description,
      security,
      requestBody: { required: true, content: json(ref(request)) },
      responses: { '200': { description: 'Success.', content: json(ref(response)) }, ...common, ...extra },
    },
  });
  const paths: Record<string, unknown> = {
    '/v1/match': post(
      'The best index entries for each query',
      'Each query (a job title in any language the encoder knows) is encoded with the anchor branch and compared by exact cosine similarity with every entry of the index (only those of `lang`, if given). Results are best first; equal scores go to the entry added to the index first. Concurrent requests are micro-batched; results are identical to unbatched ones.',
      'MatchRequest',
      'MatchResponse',
    ),
    '/v1/encode': post(
      'Vectors for texts',
      'L2-normalised vectors, one per text, from the given branch (`anchor`: job titles, `positive`: skill lists, `base`: the pooled encoder output). ' +
        (o.encode ? '' : 'Not available on this server: it was started without an encoder (404 ERR_NOT_CONFIGURED).'),
      'EncodeRequest',
      'EncodeResponse',
      o.encode ? {} : { '404': errorResponse('No encoder is configured (ERR_NOT_CONFIGURED).') },
    ),
    '/v1/skills': post(
      'The best skills for each job title',
      "A skill's score is the best cosine between the title and any of its name and aliases; skills are ranked by it, best first. " +
        (o.skills ? '' : 'Not available on this server: start it with --skills FILE (404 ERR_NOT_CONFIGURED).'),
      'SkillsRequest',
      'MatchResponse',
      o.skills ? {} : { '404': errorResponse('No skills file is configured (ERR_NOT_CONFIGURED).') },
    ),
    '/healthz': {
      get: {
        summary: 'Liveness and what is being served',
        security: [],
        responses: {
          '200': { description: 'The service is up.', content: json(ref('Health')) },
          '503': { description: 'The service is shutting down.', content: json(ref('Health')) },
        },
      },
    },
    '/metrics': {
      get: {
        summary: 'Prometheus metrics',
        description:
          'Text exposition format 0.0.4: jobbert_http_requests_total{route,method,status}, jobbert_http_request_duration_seconds (histogram), jobbert_batch_size{op} (histogram of queries per encoder/index call), jobbert_http_requests_in_flight, jobbert_batch_queue_items{op}, process_resident_memory_bytes and more.',
        security,
        responses: {
          '200': { description: 'The metrics.', content: { 'text/plain; version=0.0.4': { schema: { type: 'string' } } } },
          ...(o.auth ? { '401': common['401'] } : {}),
        },
      },
    },
    '/openapi.json': {
      get: {
        summary: 'This document',
        security: [],
        responses: { '200': { description: 'The OpenAPI 3.1 document.', content: json({ type: 'object' }) } },
      },
    },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'jobbert',
      version: o.version,
      description:
        'Cross-lingual job-title matching over HTTP. Errors are `{ "error": { "code", "message", "field"? } }` with a 4xx or 5xx status; 404 ERR_NOT_FOUND for unknown paths, 405 ERR_METHOD_NOT_ALLOWED (with an Allow header) for wrong methods.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: '/' }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'Set with --token or JOBBERT_TOKEN; /healthz and /openapi.json need none.' },
      },
      schemas: {
        MatchRequest: {
          type: 'object',
          additionalProperties: false,
          required: ['queries'],
          properties: {
            queries: texts('A query'),
            k,
            lang: { type: 'string', description: "Keep only entries of this language; one of the index's languages (see /healthz)." },
          },
        },
        SkillsRequest: {
          type: 'object',
          additionalProperties: false,
          required: ['titles'],
          properties: { titles: texts('A job title'), k },
        },
        EncodeRequest: {
          type: 'object',
          additionalProperties: false,
          required: ['texts'],
          properties: { texts: texts('A text'), branch: { enum: ['anchor', 'positive', 'base'], default: 'anchor' } },
        },
        Match: {
          type: 'object',
          required: ['id', 'text', 'score'],
          properties: {
            id: { type: 'string' },
            text: { type: 'string', description: "The entry's text (for /v1/skills, the skill's name)." },
            score: { type: 'number', description: 'Cosine similarity (float32 precision).' },
          },
        },
        MatchResponse: {
          type: 'object',
          required: ['results'],
          properties: {
            results: {
              type: 'array',
              description: 'One list per query, in request order, best first.',
              items: { type: 'array', items: ref('Match') },
            },
          },
        },
        EncodeResponse: {
          type: 'object',
          required: ['dim', 'vectors'],
          properties: { dim: { type: 'integer' }, vectors: { type: 'array', items: { type: 'array', items: { type: 'number' } } } },
        },
        Health: {
          type: 'object',
          required: ['status'],
          properties: {
            status: { enum: ['ok', 'shutting-down'] },
            version: { type: 'string' },
            entries: { type: 'integer' },
            dim: { type: 'integer' },
            fingerprint: { type: 'string', description: 'Identifies the encoder that made the index vectors.' },
            languages: { type: 'array', items: { type: 'string' } },
            skills: { type: ['integer', 'null'], description: 'Skills served by /v1/skills, or null.' },
            encode: { type: 'boolean' },
            batching: { type: 'boolean' },
            uptime: { type: 'number', description: 'Seconds since start.' },
          },
        },
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string' },
                message: { type: 'string' },
                field: { type: 'string', description: 'The request field at fault, e.g. queries[3].' },
              },
            },
          },
        },
      },
    },
  };
}
