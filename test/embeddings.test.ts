/**
 * `POST /v1/embeddings` as OpenAI's own client (the `openai` package) calls
 * it, against servers on 127.0.0.1:0: the vectors in both encodings, model
 * names, token usage per encoder, the bearer token as API key, and every bad
 * input as a clear 4xx that the client surfaces as its typed error.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI, { APIError, AuthenticationError, BadRequestError, NotFoundError } from 'openai';
import { Tokenizer } from 'tokenizers';
import { JobBERT, LiteEncoder, MatchIndex, TfIdfEncoder, type Encoder } from '../src/index.js';
import { createMatcher, createServer, ServeError, type JobbertServer, type ServeOptions } from '../src/serve/index.js';
import { makeTinyModel } from './fixtures/tiny-model.js';
import { writeModel } from '../src/lite/io.js';
import { initWeights } from '../src/lite/train.js';
import { testSeed } from './reference.js';

const TITLES = ['Software Engineer', '高级软件开发人员', 'Produktmanager', 'Científica de datos', 'nurse & data scientist (m/w/d) #1'];
const TOKEN = 's3cret';

let lite: LiteEncoder;
let index: MatchIndex;

before(async () => {
  lite = await LiteEncoder.load();
  index = await MatchIndex.build(
    lite,
    TITLES.map((text, i) => ({ id: String(i), text })),
  );
});
after(async () => {
  await index.dispose();
  await lite.dispose();
});

async function start(opts: Partial<ServeOptions> = {}): Promise<{ url: string; service: JobbertServer }> {
  const service = createServer({ index, encoder: lite, port: 0, token: TOKEN, ...opts });
  const { url } = await service.listen();
  return { url, service };
}

/** OpenAI's client pointed at a server; no retries, so a refusal comes back at once. */
const client = (url: string, apiKey = TOKEN) => new OpenAI({ apiKey, baseURL: `${url}/v1`, maxRetries: 0 });

/** The rows of a Matrix as plain arrays. */
async function vectors(encoder: Encoder, texts: string[], branch: 'anchor' | 'positive' | 'base' = 'anchor'): Promise<number[][]> {
  const m = await encoder.encode(texts, { branch });
  return texts.map((_, i) => Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)));
}

/** Decodes OpenAI's base64 embedding (little-endian float32) without the client's help. */
function decodeBase64(s: string): number[] {
  const bytes = Buffer.from(s, 'base64');
  assert.equal(bytes.length % 4, 0);
  return Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
}

/** Asserts the client rejected with `type` (an openai error class), `status`, our code, param and a message fragment. */
async function refused(
  call: Promise<unknown>,
  type: abstract new (...args: never[]) => APIError,
  status: number,
  code: string,
  param: string | null,
  message: RegExp,
): Promise<void> {
  await assert.rejects(call, (e: unknown) => {
    assert.ok(e instanceof type, `expected ${type.name}; received ${String(e)}`);
    const err = e as APIError;
    assert.equal(err.status, status);
    assert.equal(err.code, code);
    assert.equal(err.param, param);
    assert.equal(err.type, status === 401 ? 'authentication_error' : status >= 500 ? 'server_error' : 'invalid_request_error');
    assert.match(err.message, message);
    return true;
  });
}

describe('/v1/embeddings: the openai client gets the encoder’s vectors', () => {
  let url: string;
  let service: JobbertServer;
  before(async () => ({ url, service } = await start()));
  after(() => service.close());

  it('takes a batch of 512 texts with the default limits, as LangChain’s OpenAIEmbeddings sends them', async () => {
    const texts = Array.from({ length: 512 }, (_, i) => `${TITLES[i % TITLES.length]} ${i}`);
    const r = await client(url).embeddings.create({ input: texts, model: 'anchor', encoding_format: 'float' });
    assert.equal(r.data.length, 512);
    assert.deepEqual(r.data[511].embedding, (await vectors(lite, [texts[511]]))[0]);
  });

  it('float, base64 and the client’s default (base64 it decodes) all give encoder.encode’s vectors exactly', async () => {
    const expected = await vectors(lite, TITLES);
    const openai = client(url);
    const float = await openai.embeddings.create({ input: TITLES, model: 'anchor', encoding_format: 'float' });
    assert.equal(float.object, 'list');
    assert.equal(float.model, 'anchor');
    assert.deepEqual(
      float.data.map((d) => [d.object, d.index]),
      TITLES.map((_, i) => ['embedding', i]),
    );
    assert.deepEqual(
      float.data.map((d) => d.embedding),
      expected,
    );
    const byDefault = await openai.embeddings.create({ input: TITLES, model: 'anchor' });
    assert.deepEqual(
      byDefault.data.map((d) => d.embedding),
      expected,
    );
    const base64 = await openai.embeddings.create({ input: TITLES, model: 'anchor', encoding_format: 'base64' });
    for (const d of base64.data) assert.equal(typeof d.embedding, 'string');
    assert.deepEqual(
      base64.data.map((d) => decodeBase64(d.embedding as unknown as string)),
      expected,
    );
  });

  it('takes a single string as a list of one', async () => {
    const r = await client(url).embeddings.create({ input: 'Registered Nurse', model: 'anchor' });
    assert.equal(r.data.length, 1);
    assert.equal(r.data[0].index, 0);
    assert.deepEqual(r.data[0].embedding, (await vectors(lite, ['Registered Nurse']))[0]);
  });

  it('model names a branch, the encoder’s fingerprint means anchor, and the response says the name asked for', async () => {
    const openai = client(url);
    for (const branch of ['anchor', 'positive', 'base'] as const) {
      const r = await openai.embeddings.create({ input: TITLES.slice(0, 2), model: branch });
      assert.equal(r.model, branch);
      assert.deepEqual(
        r.data.map((d) => d.embedding),
        await vectors(lite, TITLES.slice(0, 2), branch),
      );
    }
    const byName = await openai.embeddings.create({ input: 'nurse', model: lite.fingerprint });
    assert.equal(byName.model, lite.fingerprint);
    assert.deepEqual(byName.data[0].embedding, (await vectors(lite, ['nurse']))[0]);
    // Without a model (plain HTTP: the client always sends one): anchor.
    const plain = await fetch(`${url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ input: ['nurse'], model: null, dimensions: null, encoding_format: null, user: 'u1' }),
    });
    assert.equal(plain.status, 200);
    const body = (await plain.json()) as { model: string; data: { embedding: number[] }[] };
    assert.equal(body.model, 'anchor');
    assert.deepEqual(body.data[0].embedding, (await vectors(lite, ['nurse']))[0]);
  });

  it('reports usage in LiteEncoder tokens: words, one per CJK character', async () => {
    const r = await client(url).embeddings.create({ input: TITLES, model: 'anchor' });
    // Software Engineer: 2; 高级软件开发人员: 8 characters; 3 Spanish words; nurse, data, scientist, m, w, d, #1: 7.
    const counts = await lite.countTokens(TITLES);
    assert.deepEqual(counts, [2, 8, 1, 3, 7]);
    assert.equal(r.usage.prompt_tokens, 21);
    assert.equal(r.usage.total_tokens, 21);
  });

  it('accepts dimensions equal to the model’s and refuses any other with 400 naming dimensions', async () => {
    const openai = client(url);
    const ok = await openai.embeddings.create({ input: 'nurse', model: 'anchor', dimensions: lite.dim });
    assert.equal(ok.data[0].embedding.length, lite.dim);
    await refused(
      openai.embeddings.create({ input: 'nurse', model: 'anchor', dimensions: 32 }),
      BadRequestError,
      400,
      'ERR_INVALID_REQUEST',
      'dimensions',
      new RegExp(`dimensions must be ${lite.dim}.*does not shorten vectors.*received 32`),
    );
    await refused(
      openai.embeddings.create({ input: 'nurse', model: 'anchor', dimensions: 1.5 }),
      BadRequestError,
      400,
      'ERR_INVALID_REQUEST',
      'dimensions',
      /positive integer; received 1.5/,
    );
  });

  it('answers concurrent /v1/embeddings and /v1/encode requests (batched together) exactly as alone', async () => {
    const openai = client(url);
    const texts = Array.from({ length: 24 }, (_, i) => [`${TITLES[i % TITLES.length]} ${i}`, `engineer ${i}`]);
    const expected = await Promise.all(texts.map((t) => vectors(lite, t)));
    const replies = await Promise.all(
      texts.map(async (t, i) => {
        if (i % 3 === 0) {
          const r = await fetch(`${url}/v1/encode`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
            body: JSON.stringify({ texts: t }),
          });
          return ((await r.json()) as { vectors: number[][] }).vectors;
        }
        const r = await openai.embeddings.create({ input: t, model: 'anchor', encoding_format: i % 2 ? 'float' : undefined });
        return r.data.map((d) => d.embedding);
      }),
    );
    assert.deepEqual(replies, expected);
  });

  it('is in /openapi.json with its request, response and OpenAI-style error schemas', async () => {
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as {
      paths: Record<string, { post: { responses: Record<string, unknown>; description: string } }>;
      components: { schemas: Record<string, { properties: Record<string, unknown> }> };
    };
    const route = doc.paths['/v1/embeddings'].post;
    assert.ok(route.responses['200'] && route.responses['400'] && route.responses['401'] && route.responses['404']);
    assert.match(route.description, new RegExp(lite.fingerprint));
    assert.deepEqual(Object.keys(doc.components.schemas.EmbeddingsRequest.properties).sort(), [
      'dimensions',
      'encoding_format',
      'input',
      'model',
      'user',
    ]);
    assert.ok(doc.components.schemas.OpenAIError.properties.error);
  });
});

describe('/v1/embeddings: refusals the openai client surfaces', () => {
  let url: string;
  let service: JobbertServer;
  before(async () => ({ url, service } = await start({ maxQueries: 2, maxInputs: 4, maxTextLength: 64, maxBodyBytes: 4096 })));
  after(() => service.close());

  it('takes the bearer token as the API key: a wrong key is an AuthenticationError (401)', async () => {
    await refused(
      client(url, 'wrong').embeddings.create({ input: 'nurse', model: 'anchor' }),
      AuthenticationError,
      401,
      'ERR_UNAUTHORIZED',
      null,
      /bearer token is not valid/,
    );
    const r = await fetch(`${url}/v1/embeddings`, { method: 'POST', body: '{"input": "nurse"}' });
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.equal((await client(url).embeddings.create({ input: 'nurse', model: 'anchor' })).data.length, 1);
  });

  it('refuses an unknown model with 404 listing the names it serves', async () => {
    await refused(
      client(url).embeddings.create({ input: 'nurse', model: 'text-embedding-3-small' }),
      NotFoundError,
      404,
      'ERR_MODEL_NOT_FOUND',
      'model',
      new RegExp(`'text-embedding-3-small' is not served here; use 'anchor', 'positive', 'base' .* or '${lite.fingerprint}'`),
    );
  });

  it('refuses bad inputs with 400 naming the field: empty, non-strings, token ids, too many, too long, blank, unknown fields', async () => {
    const openai = client(url);
    // biome-ignore lint/suspicious/noExplicitAny: bad bodies on purpose
    const create = (body: any) => openai.embeddings.create(body);
    const bad = (body: unknown, param: string, message: RegExp) =>
      refused(create(body), BadRequestError, 400, 'ERR_INVALID_REQUEST', param, message);
    await bad({ input: [], model: 'anchor' }, 'input', /at least one string; received an empty array/);
    await bad({ model: 'anchor' }, 'input', /input is required/);
    await bad({ input: 42, model: 'anchor' }, 'input', /string or an array of strings; received 42/);
    await bad({ input: ['nurse', 7], model: 'anchor' }, 'input[1]', /input\[1\] must be a string; received 7/);
    await bad({ input: ['nurse', null], model: 'anchor' }, 'input[1]', /must be a string; received null/);
    await bad(
      { input: [101, 2023, 102], model: 'anchor' },
      'input',
      /token ids .* not supported.*send a string.*check_embedding_ctx_length=False/,
    );
    await bad({ input: [[101, 2023], [102]], model: 'anchor' }, 'input', /token ids .* not supported/);
    // /v1/embeddings has its own limit, --max-inputs, not --max-queries (2 here): four inputs pass, five do not.
    assert.equal((await create({ input: ['a', 'b', 'c', 'd'], model: 'anchor' })).data.length, 4);
    await bad({ input: ['a', 'b', 'c', 'd', 'e'], model: 'anchor' }, 'input', /at most 4 strings \(--max-inputs\); received 5/);
    await bad({ input: 'x'.repeat(65), model: 'anchor' }, 'input', /at most 64 characters .*received 65/);
    await bad({ input: ['nurse', 'y'.repeat(200)], model: 'anchor' }, 'input[1]', /at most 64 characters/);
    await bad({ input: '   ', model: 'anchor' }, 'input', /non-empty string/);
    await bad({ input: 'nurse', model: 'anchor', encoding_format: 'int8' }, 'encoding_format', /'float' or 'base64'; received 'int8'/);
    await bad({ input: 'nurse', model: 3 }, 'model', /model must be a string; received 3/);
    await bad({ input: 'nurse', model: 'anchor', user: 5 }, 'user', /user must be a string/);
    await bad({ input: 'nurse', model: 'anchor', temperature: 1 }, 'temperature', /not a field of this request/);
  });

  it('refuses bodies that are too large (413), not JSON (400) or not objects (400), in OpenAI’s error shape', async () => {
    await refused(
      client(url).embeddings.create({ input: ['z'.repeat(60), 'z'.repeat(60)].concat(Array(80).fill('w'.repeat(60))), model: 'anchor' }),
      APIError,
      413,
      'ERR_BODY_TOO_LARGE',
      null,
      /exceeds the limit of 4096 bytes/,
    );
    const raw = async (body: string) => {
      const r = await fetch(`${url}/v1/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body,
      });
      return { status: r.status, error: ((await r.json()) as { error: Record<string, unknown> }).error };
    };
    const notJson = await raw('{"input": ');
    assert.equal(notJson.status, 400);
    assert.deepEqual([notJson.error.code, notJson.error.type, notJson.error.param], ['ERR_INVALID_JSON', 'invalid_request_error', null]);
    const notObject = await raw('["nurse"]');
    assert.equal(notObject.status, 400);
    assert.deepEqual([notObject.error.code, notObject.error.param, notObject.error.field], ['ERR_INVALID_REQUEST', 'body', 'body']);
    // Still serving after all that.
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    assert.equal((await client(url).embeddings.create({ input: 'nurse', model: 'anchor' })).data.length, 1);
  });

  it('without an encoder, answers 404 ERR_NOT_CONFIGURED in OpenAI’s shape; the JSON-level function rejects alike', async () => {
    const bare = await start({ encoder: undefined });
    try {
      await refused(
        client(bare.url).embeddings.create({ input: 'nurse', model: 'anchor' }),
        NotFoundError,
        404,
        'ERR_NOT_CONFIGURED',
        null,
        /needs an encoder/,
      );
    } finally {
      await bare.service.close();
    }
    const matcher = createMatcher({ index, encoder: lite });
    try {
      await assert.rejects(matcher.embeddings({ input: [] }), (e: unknown) => {
        assert.ok(e instanceof ServeError);
        assert.deepEqual(e.toJSON().error, {
          code: 'ERR_INVALID_REQUEST',
          message: 'input must hold at least one string; received an empty array',
          field: 'input',
          type: 'invalid_request_error',
          param: 'input',
        });
        return true;
      });
      const r = await matcher.embeddings({ input: 'nurse', encoding_format: 'base64' });
      assert.deepEqual(decodeBase64(r.data[0].embedding as string), (await vectors(lite, ['nurse']))[0]);
    } finally {
      await matcher.close();
    }
  });
});

describe('/v1/embeddings: token usage and dimensions per encoder', () => {
  it('JobBERT counts tokenizer tokens after truncation, <s> and </s> included; dimensions follows the branch', async () => {
    const maxSeqLength = 12;
    const tiny = await makeTinyModel({ seed: testSeed('embeddings.test'), maxSeqLength });
    const model = await JobBERT.load(tiny.dir, { cache: false });
    const jobIndex = await MatchIndex.build(model, [{ id: '1', text: 'data manager' }]);
    const { url, service } = await start({ index: jobIndex, encoder: model });
    try {
      const texts = ['data manager', 'senior python developer', Array(40).fill('skill').join(' ')];
      // The reference: the same tokenizer.json without truncation, clipped to max_seq_length.
      const reference = Tokenizer.fromFile(join(tiny.dir, 'tokenizer.json'));
      reference.setTruncation(100_000);
      const full = await Promise.all(texts.map(async (t) => (await reference.encode(t)).getIds().length));
      assert.ok(full[2] > maxSeqLength, 'the long text is longer than max_seq_length');
      const expected = full.map((n) => Math.min(n, maxSeqLength));
      assert.deepEqual(await model.countTokens(texts), expected);
      const openai = client(url);
      const r = await openai.embeddings.create({ input: texts, model: 'anchor' });
      const total = expected.reduce((a, b) => a + b, 0);
      assert.deepEqual(r.usage, { prompt_tokens: total, total_tokens: total });
      assert.deepEqual(
        r.data.map((d) => d.embedding),
        await vectors(model, texts),
      );
      // anchor is the head's output (24-d here), base the pooled encoder output (32-d).
      assert.equal(
        (await openai.embeddings.create({ input: 'x', model: 'base', dimensions: model.dimension('base') })).data[0].embedding.length,
        32,
      );
      await refused(
        openai.embeddings.create({ input: 'x', model: 'anchor', dimensions: model.dimension('base') }),
        BadRequestError,
        400,
        'ERR_INVALID_REQUEST',
        'dimensions',
        /dimensions must be 24, the dimension of model 'anchor'.*received 32/,
      );
    } finally {
      await service.close();
      await jobIndex.dispose();
      await model.dispose();
      await rm(tiny.dir, { recursive: true, force: true });
    }
  });

  it('an encoder without countTokens (TF-IDF) reports words', async () => {
    const tfidf = TfIdfEncoder.fit(['software engineer', 'data scientist', 'nurse']);
    const tfIndex = await MatchIndex.build(tfidf, [{ id: '1', text: 'nurse' }]);
    const { url, service } = await start({ index: tfIndex, encoder: tfidf });
    try {
      const r = await client(url).embeddings.create({ input: ['Senior Software Engineer', 'nurse (m/w/d)'], model: 'anchor' });
      assert.deepEqual(r.usage, { prompt_tokens: 7, total_tokens: 7 });
    } finally {
      await service.close();
      await tfIndex.dispose();
    }
  });
});

describe('/v1/embeddings: jobbert serve', () => {
  /** Runs `jobbert serve … --port 0 --json --token TOKEN` with `args`; `body` gets its URL, then it is stopped with SIGTERM (exit 0). */
  async function withServe(args: string[], body: (url: string) => Promise<void>): Promise<void> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, '..', 'src', 'bin.ts'), 'serve', '--port', '0', '--json', '--token', TOKEN, ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const killer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let stdout = '';
        child.stdout.on('data', (d) => {
          stdout += d;
          if (stdout.includes('\n')) resolve(stdout.split('\n')[0]);
        });
        child.once('exit', (code) => reject(new Error(`serve exited with ${code} before listening: ${stderr}`)));
      });
      await body((JSON.parse(line) as { url: string }).url);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
    } finally {
      clearTimeout(killer);
      child.kill('SIGKILL');
    }
  }

  it('the CLI with --token serves the built-in model to the openai client (and --fast normalising beside it)', {
    timeout: 30_000,
  }, async () => {
    await withServe(['--fast'], async (url) => {
      const r = await client(url).embeddings.create({ input: TITLES, model: 'anchor' });
      assert.deepEqual(
        r.data.map((d) => d.embedding),
        await vectors(lite, TITLES),
      );
      const normalized = await fetch(`${url}/v1/normalize`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ titles: ['Krankenschwester'], k: 2 }),
      });
      assert.equal(normalized.status, 200);
      const { results } = (await normalized.json()) as { results: { alternatives: { label: string; score: number }[] }[] };
      assert.equal(results[0].alternatives.length, 2);
      assert.deepEqual([results[0].alternatives[0].label, results[0].alternatives[0].score], ['nurse assistant', 1]);
      await refused(
        client(url, 'nope').embeddings.create({ input: 'x', model: 'anchor' }),
        AuthenticationError,
        401,
        'ERR_UNAUTHORIZED',
        null,
        /not valid/,
      );
    });
  });

  it("serve --model DIR without an index serves that model's vectors on every route (it set up /v1/normalize alone: /v1/embeddings gave the built-in model's)", {
    timeout: 30_000,
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jobbert-serve-model-'));
    try {
      const cfg = { buckets: 1 << 10, dim: 24, minN: 2, maxN: 5 };
      const w = initWeights(cfg, 3);
      await writeModel(dir, { config: cfg, table: w.table, heads: w.heads });
      const mine = await LiteEncoder.load(dir);
      try {
        await withServe(['--model', dir], async (url) => {
          const r = await client(url).embeddings.create({ input: TITLES, model: 'anchor' });
          assert.equal(r.data[0].embedding.length, 24);
          assert.deepEqual(
            r.data.map((d) => d.embedding),
            await vectors(mine, TITLES),
          );
          const ids: string[] = [];
          for await (const m of client(url).models.list()) ids.push(m.id);
          assert.ok(ids.includes(mine.fingerprint), ids.join());
        });
      } finally {
        await mine.dispose();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('/v1/models: the openai client lists and retrieves the model names /v1/embeddings takes', () => {
  let url: string;
  let service: JobbertServer;
  before(async () => ({ url, service } = await start()));
  after(() => service.close());

  it('lists the branches and the fingerprint, each usable as /v1/embeddings model', async () => {
    const openai = client(url);
    const ids: string[] = [];
    const t = Math.floor(Date.now() / 1000);
    for await (const m of openai.models.list()) {
      assert.equal(m.object, 'model');
      assert.equal(m.owned_by, 'jobbert');
      assert.ok(Number.isInteger(m.created) && m.created <= t && m.created > t - 3600, `created ${m.created}`);
      ids.push(m.id);
    }
    assert.deepEqual(ids, ['anchor', 'positive', 'base', lite.fingerprint]);
    for (const id of ids) assert.equal((await openai.embeddings.create({ input: 'nurse', model: id })).model, id);
  });

  it('retrieves one model (percent-encoded ids included) and refuses an unknown one with 404 listing those served', async () => {
    const openai = client(url);
    assert.deepEqual(
      { ...(await openai.models.retrieve('positive')) },
      { id: 'positive', object: 'model', created: (await openai.models.retrieve('anchor')).created, owned_by: 'jobbert' },
    );
    assert.equal((await openai.models.retrieve(lite.fingerprint)).id, lite.fingerprint);
    await refused(
      openai.models.retrieve('gpt-4o'),
      NotFoundError,
      404,
      'ERR_MODEL_NOT_FOUND',
      'model',
      new RegExp(`'gpt-4o' is not served here; this server serves 'anchor', 'positive', 'base', '${lite.fingerprint}'`),
    );
    const r = await fetch(`${url}/v1/models/%E0%A4%A`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 400);
    const body = (await r.json()) as { error: { code: string; param: string; type: string } };
    assert.deepEqual([body.error.code, body.error.param, body.error.type], ['ERR_INVALID_REQUEST', 'model', 'invalid_request_error']);
  });

  it('needs the bearer token, takes only GET/HEAD, and is empty on a server without an encoder', async () => {
    await refused(client(url, 'wrong').models.list(), AuthenticationError, 401, 'ERR_UNAUTHORIZED', null, /bearer token is not valid/);
    const post = await fetch(`${url}/v1/models`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    const bare = createServer({ index, port: 0, token: TOKEN });
    try {
      const { url: bareUrl } = await bare.listen();
      const listed: unknown[] = [];
      for await (const m of client(bareUrl).models.list()) listed.push(m);
      assert.deepEqual(listed, []);
      await refused(client(bareUrl).models.retrieve('anchor'), NotFoundError, 404, 'ERR_MODEL_NOT_FOUND', 'model', /serves no model/);
    } finally {
      await bare.close();
    }
  });
});
