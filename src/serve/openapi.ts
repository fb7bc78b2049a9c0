/**
 * The OpenAPI 3.1 description served at `GET /openapi.json`, written by hand
 * so it says what the service promises (limits, error codes, batching) rather
 * than what a schema generator could infer. The limits in it are the ones the
 * running service was configured with.
 */
import { normalizeMaxK, type RequestLimits } from './requests.js';

export interface OpenApiOptions {
  version: string;
  limits: RequestLimits & { maxBodyBytes: number };
  /** Whether a bearer token is required on /v1/* and /metrics. */
  auth: boolean;
  /** Whether /v1/skills is served. */
  skills: boolean;
  /** Whether /v1/encode and /v1/embeddings are served (an encoder is configured). */
  encode: boolean;
  /** The encoder's fingerprint, which /v1/embeddings also takes as a model name. */
  fingerprint?: string;
  /** Whether /v1/normalize is served (a Normalizer is configured). */
  normalize?: boolean;
  /** The taxonomy's label languages (lang / outputLang of /v1/normalize). */
  languages?: string[];
}

const json = (schema: object) => ({ 'application/json': { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errorResponse = (description: string) => ({ description, content: json(ref('Error')) });
const openAIErrorResponse = (description: string) => ({ description, content: json(ref('OpenAIError')) });

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
    description: `How many results per query (clamped to what the index holds); k times the number of texts must be at most ${L.maxResults}.`,
  };
  const security = o.auth ? [{ bearer: [] }] : [];
  const common = {
    '400': errorResponse(
      'The body is not valid JSON or not valid UTF-8, or does not decompress as its Content-Encoding says (ERR_INVALID_JSON, ERR_INVALID_UTF8, ERR_EMPTY_BODY, ERR_INVALID_ENCODING).',
    ),
    ...(o.auth ? { '401': errorResponse('Missing or wrong bearer token (ERR_UNAUTHORIZED).') } : {}),
    '413': errorResponse(`The body is larger than ${L.maxBodyBytes} bytes (ERR_BODY_TOO_LARGE).`),
    '415': errorResponse(
      'The Content-Type is not application/json, or the Content-Encoding is not gzip, deflate or br (ERR_UNSUPPORTED_MEDIA_TYPE).',
    ),
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
    '/v1/embeddings': {
      post: {
        summary: 'Vectors for texts, in the OpenAI embeddings API',
        description:
          "OpenAI's `POST /v1/embeddings`, so OpenAI clients (the `openai` package, LangChain, LlamaIndex) work with their base URL set to this server's `/v1` and the bearer token as API key. " +
          `\`model\` names a branch: 'anchor' (job titles; the default), 'positive' (skill lists) or 'base' (the pooled encoder output)${o.fingerprint ? `, or '${o.fingerprint}' (this server's encoder, meaning 'anchor')` : ''}; the response's \`model\` is the name asked for. ` +
          "Vectors are L2-normalised and identical to /v1/encode's. `encoding_format: 'base64'` sends each vector as the base64 of its little-endian float32 bytes (what the `openai` package asks for by default). " +
          '`usage` counts tokens as the encoder does (JobBERT: tokenizer tokens after truncation, with <s> and </s>; LiteEncoder: words, one per CJK character; other encoders: words). ' +
          "Errors carry OpenAI's `type` and `param` beside `code`, `message` and `field`. Token-id input, `dimensions` other than the model's, empty lists and blank strings are refused with 400. " +
          (o.encode ? '' : 'Not available on this server: it was started without an encoder (404 ERR_NOT_CONFIGURED).'),
        security,
        requestBody: { required: true, content: json(ref('EmbeddingsRequest')) },
        responses: {
          '200': { description: 'Success.', content: json(ref('EmbeddingsResponse')) },
          '400': openAIErrorResponse(
            'A field is missing, of the wrong type or out of range, `param` naming it (ERR_INVALID_REQUEST); or the body is not valid JSON or UTF-8, or does not decompress (ERR_INVALID_JSON, ERR_INVALID_UTF8, ERR_EMPTY_BODY, ERR_INVALID_ENCODING).',
          ),
          ...(o.auth ? { '401': openAIErrorResponse('Missing or wrong bearer token (API key) (ERR_UNAUTHORIZED).') } : {}),
          '404': openAIErrorResponse(
            `\`model\` is not served here (ERR_MODEL_NOT_FOUND)${o.encode ? '' : ', or no encoder is configured (ERR_NOT_CONFIGURED)'}.`,
          ),
          '413': openAIErrorResponse(`The body is larger than ${L.maxBodyBytes} bytes (ERR_BODY_TOO_LARGE).`),
          '415': openAIErrorResponse(
            'The Content-Type is not application/json, or the Content-Encoding is not gzip, deflate or br (ERR_UNSUPPORTED_MEDIA_TYPE).',
          ),
          '503': openAIErrorResponse(
            'The batch queue is full or the service is shutting down (ERR_OVERLOADED, ERR_SHUTTING_DOWN); retry later.',
          ),
        },
      },
    },
    '/v1/models': {
      get: {
        summary: 'The model names /v1/embeddings takes, as OpenAI lists models',
        description:
          "The encoder's branches ('anchor', 'positive', 'base') and its fingerprint, each as OpenAI's model object; empty when the server has no encoder.",
        security,
        responses: {
          '200': { description: 'Success.', content: json(ref('ModelList')) },
          ...(o.auth ? { '401': openAIErrorResponse('Missing or wrong bearer token (API key) (ERR_UNAUTHORIZED).') } : {}),
        },
      },
    },
    '/v1/models/{id}': {
      get: {
        summary: 'One model /v1/embeddings takes',
        security,
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '200': { description: 'Success.', content: json(ref('Model')) },
          '400': openAIErrorResponse('The id is not valid percent-encoding (ERR_INVALID_REQUEST).'),
          ...(o.auth ? { '401': openAIErrorResponse('Missing or wrong bearer token (API key) (ERR_UNAUTHORIZED).') } : {}),
          '404': openAIErrorResponse('No model of that name is served here (ERR_MODEL_NOT_FOUND); the message lists those that are.'),
        },
      },
    },
    '/v1/skills': post(
      'The best skills for each job title',
      "A skill's score is the best cosine between the title and any of its name and aliases; skills are ranked by it, best first. " +
        (o.skills ? '' : 'Not available on this server: start it with --skills FILE (404 ERR_NOT_CONFIGURED).'),
      'SkillsRequest',
      'MatchResponse',
      o.skills ? {} : { '404': errorResponse('No skills file is configured (ERR_NOT_CONFIGURED).') },
    ),
    '/v1/normalize': post(
      'ESCO occupations for vacancy titles',
      'One result per title, in request order (`id` is the position in `titles`): `alternatives` are the k best distinct occupations, best first, each scored by its best matching label or example (`matched` says which), plus, when the server has examples, the evidence of all the examples of that occupation (so a score may exceed 1); `occupation` is the first alternative when the calibrated `confidence` reaches the threshold, else null. Empty or meaningless titles give `occupation: null`, never an error. Concurrent requests are micro-batched; results are identical to unbatched ones. ' +
        (o.normalize === false ? 'Not available on this server (404 ERR_NOT_CONFIGURED).' : ''),
      'NormalizeRequest',
      'NormalizeResponse',
      o.normalize === false ? { '404': errorResponse('No Normalizer is configured (ERR_NOT_CONFIGURED).') } : {},
    ),
    '/healthz': {
      get: {
        summary: 'Liveness and what is being served',
        security: [],
        responses: {
          '200': { description: 'The service is up.', content: json(ref('Health')) },
          '503': {
            description:
              "The service is shutting down, or (a shard router) no replica of a shard answers the router's pings: see `problem`.",
            content: json(ref('Health')),
          },
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
        NormalizeRequest: {
          type: 'object',
          additionalProperties: false,
          required: ['titles'],
          properties: {
            titles: {
              type: 'array',
              maxItems: L.maxQueries,
              items: {
                type: 'string',
                maxLength: L.maxTextLength,
                description: 'A vacancy title in any language; may be empty (occupation null).',
              },
            },
            k: {
              ...k,
              maximum: normalizeMaxK(L),
              default: Math.min(5, normalizeMaxK(L)),
              description: `How many distinct occupations in \`alternatives\`; k times the number of titles must be at most ${L.maxResults}.`,
            },
            lang: {
              ...((o.languages ?? []).length ? { enum: o.languages } : { type: 'string' }),
              description: "The titles' language: match only labels in it (and the examples). Default: every language.",
            },
            outputLang: {
              ...((o.languages ?? []).length ? { enum: o.languages } : { type: 'string' }),
              default: 'en',
              description: 'Language of the output labels (the preferred label).',
            },
            threshold: {
              type: 'number',
              minimum: 0,
              maximum: 1,
              description:
                "Confidence under which this request's `occupation` is null (lower: more answers, fewer of them right; see the reliability diagram). Default: the server's threshold (`--threshold`, else the calibration's).",
            },
          },
        },
        Occupation: {
          type: 'object',
          required: ['uri', 'label', 'isco'],
          properties: {
            uri: { type: 'string', description: 'The ESCO occupation URI.' },
            label: { type: 'string', description: 'Its preferred label in outputLang.' },
            isco: { type: 'string', description: 'Its ISCO-08 unit group code.' },
          },
        },
        NormalizeResult: {
          type: 'object',
          required: ['id', 'input', 'occupation', 'confidence', 'alternatives'],
          properties: {
            id: { type: 'string' },
            input: { type: 'string' },
            occupation: { oneOf: [ref('Occupation'), { type: 'null' }] },
            confidence: {
              type: 'number',
              minimum: 0,
              maximum: 1,
              description: 'Calibrated probability that the first alternative is right.',
            },
            alternatives: {
              type: 'array',
              items: {
                allOf: [ref('Occupation')],
                type: 'object',
                required: ['uri', 'label', 'isco', 'score', 'matched'],
                properties: {
                  score: {
                    type: 'number',
                    description:
                      "Cosine of the best matching label or example; with examples, plus the evidence of all of the occupation's examples (may exceed 1).",
                  },
                  matched: {
                    type: 'object',
                    required: ['text', 'source'],
                    properties: { text: { type: 'string' }, lang: { type: 'string' }, source: { enum: ['label', 'example'] } },
                  },
                },
              },
            },
          },
        },
        NormalizeResponse: {
          type: 'object',
          required: ['results'],
          properties: { results: { type: 'array', items: ref('NormalizeResult') } },
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
        EmbeddingsRequest: {
          type: 'object',
          additionalProperties: false,
          required: ['input'],
          properties: {
            input: {
              oneOf: [
                { ...texts('A text').items, description: 'One text.' },
                { ...texts('A text'), minItems: 1, maxItems: L.maxInputs },
              ],
              description: 'A text or a list of texts (token-id arrays are not supported).',
            },
            model: {
              type: ['string', 'null'],
              default: 'anchor',
              description: `'anchor', 'positive' or 'base'${o.fingerprint ? `, or '${o.fingerprint}' (meaning 'anchor')` : ''}.`,
            },
            encoding_format: { enum: ['float', 'base64', null], default: 'float' },
            dimensions: { type: ['integer', 'null'], description: "Accepted only when equal to the model's dimension." },
            user: { type: ['string', 'null'], description: 'Accepted and unused.' },
          },
        },
        EmbeddingsResponse: {
          type: 'object',
          required: ['object', 'data', 'model', 'usage'],
          properties: {
            object: { const: 'list' },
            data: {
              type: 'array',
              description: 'One embedding per input text, in request order.',
              items: {
                type: 'object',
                required: ['object', 'index', 'embedding'],
                properties: {
                  object: { const: 'embedding' },
                  index: { type: 'integer' },
                  embedding: {
                    oneOf: [
                      { type: 'array', items: { type: 'number' } },
                      { type: 'string', contentEncoding: 'base64', description: 'Little-endian float32 bytes.' },
                    ],
                  },
                },
              },
            },
            model: { type: 'string' },
            usage: {
              type: 'object',
              required: ['prompt_tokens', 'total_tokens'],
              properties: { prompt_tokens: { type: 'integer' }, total_tokens: { type: 'integer' } },
            },
          },
        },
        Model: {
          type: 'object',
          required: ['id', 'object', 'created', 'owned_by'],
          properties: {
            id: { type: 'string' },
            object: { const: 'model' },
            created: { type: 'integer', description: 'Unix seconds: when this server started serving it.' },
            owned_by: { const: 'jobbert' },
          },
        },
        ModelList: {
          type: 'object',
          required: ['object', 'data'],
          properties: { object: { const: 'list' }, data: { type: 'array', items: ref('Model') } },
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
            status: { enum: ['ok', 'unavailable', 'shutting-down'] },
            problem: { type: ['string', 'null'], description: "Why the service is unavailable (a shard router's lost shard), else null." },
            version: { type: 'string' },
            entries: { type: 'integer' },
            dim: { type: 'integer' },
            fingerprint: { type: 'string', description: 'Identifies the encoder that made the index vectors.' },
            languages: { type: 'array', items: { type: 'string' } },
            indexVersion: {
              type: ['string', 'null'],
              description: 'The published index version served (jobbert serve --nats), else null.',
            },
            skills: { type: ['integer', 'null'], description: 'Skills served by /v1/skills, or null.' },
            encode: { type: 'boolean' },
            normalize: { type: ['integer', 'null'], description: 'Occupations served by /v1/normalize, or null.' },
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
        OpenAIError: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message', 'type', 'param'],
              properties: {
                code: { type: 'string' },
                message: { type: 'string' },
                field: { type: 'string', description: 'The request field at fault, e.g. input[3].' },
                type: { enum: ['invalid_request_error', 'authentication_error', 'server_error'], description: "OpenAI's error type." },
                param: { type: ['string', 'null'], description: 'The same as `field`, or null.' },
              },
            },
          },
        },
      },
    },
  };
}
