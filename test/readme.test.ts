/** The README's usage example, run as written, with the output it promises. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { kernels, matrix } from '../src/index.js';

it('the README example gives the results it shows', async () => {
  const corpus = matrix([
    [0.1, 0.9, 0.0],
    [0.8, 0.1, 0.1],
    [0.5, 0.5, 0.0],
  ]);
  const queries = matrix([[1, 0, 0]]);
  const { k, indices, scores } = await kernels.topK(queries, corpus, 2);
  assert.equal(k, 2);
  assert.deepEqual(Array.from(indices), [1, 2]);
  assert.deepEqual(
    Array.from(scores, (s) => Number(s.toFixed(4))),
    [0.9847, 0.7071],
  );

  const head = matrix(new Float32Array(1024 * 3).fill(0.01), 1024, 3);
  const y = await kernels.dense(corpus, head, null, { activation: 'tanh' });
  assert.deepEqual([y.rows, y.cols], [3, 1024]);

  const { loss, gradAnchors, gradPositives } = await kernels.infoNCE(queries, matrix([[0.9, 0.1, 0]]), { scale: 20 });
  assert.equal(loss, 0); // one pair: the positive is the only candidate
  assert.equal(gradAnchors.rows, 1);
  assert.equal(gradPositives.cols, 3);
});

it('the README matching and skills examples run as written', async () => {
  const { MatchIndex, SkillIndex, TfIdfEncoder } = await import('../src/index.js');
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const titles = [
    { id: '1', text: 'Software Engineer', lang: 'en' },
    { id: '2', text: 'Softwareentwickler', lang: 'de' },
    { id: '3', text: 'Data Scientist', lang: 'en' },
  ];
  const encoder = TfIdfEncoder.fit(titles.map((t) => t.text));
  const index = await MatchIndex.build(encoder, titles);
  const [hits] = await index.search(['software developer'], { k: 2 });
  assert.equal(hits[0].id, '1');
  assert.equal(hits.length, 2);
  const [german] = await index.search(['software developer'], { lang: 'de' });
  assert.deepEqual(
    german.map((h) => h.id),
    ['2'],
  );
  const dir = await mkdtemp(join(tmpdir(), 'jobbert-readme-'));
  try {
    await index.save(join(dir, 'titles.jbi'));
    const again = await MatchIndex.load(join(dir, 'titles.jbi'), encoder);
    assert.deepEqual(await again.search(['software developer'], { k: 3 }), await index.search(['software developer'], { k: 3 }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const skills = await SkillIndex.build(encoder, [
    { id: 's1', name: 'Python', aliases: ['python programming'] },
    { id: 's2', name: 'patient care', aliases: ['Patientenversorgung'] },
  ]);
  assert.equal((await skills.rank(['data scientist'], { k: 5 }))[0].length, 2);
  assert.equal((await skills.explain('data scientist', 'ML engineer')).length, 2);
});

it("the README's error tables list exactly the codes of src/errors.ts", async () => {
  const { readFile } = await import('node:fs/promises');
  const { ERROR_CODES, SERVICE_ERROR_CODES } = await import('../src/errors.js');
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const listed = [...readme.matchAll(/^\| `(ERR_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]).sort();
  const codes = [...Object.keys(ERROR_CODES), ...Object.keys(SERVICE_ERROR_CODES)].sort();
  assert.deepEqual(listed, codes);
});

it('the README int8 search example runs as written', async () => {
  const { kernels, QuantizedMatrix } = await import('../src/index.js');
  const { randomMatrix, rng } = await import('./reference.js');
  const next = rng(17);
  const labelVectors = randomMatrix(next, 500, 24);
  const queries = randomMatrix(next, 3, 24);
  const labels = kernels.resident(labelVectors);
  const int8 = await QuantizedMatrix.fromMatrix(labels);
  const { k, indices, scores } = await int8.search(queries, 40, { metric: 'dot' });
  const want = await kernels.topK(queries, labels, 40, { metric: 'dot', device: 'cpu' });
  assert.equal(k, 40);
  assert.deepEqual(indices, want.indices);
  assert.deepEqual(scores, want.scores);
  int8.dispose();
  labels.dispose();
});

it("the README's outputs of the built-in model are what it gives: the embeddings example, the fingerprint, and the service's match example (with ../shared/data)", async () => {
  const { readFile, mkdtemp, rm } = await import('node:fs/promises');
  const { existsSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { LiteEncoder, MatchIndex } = await import('../src/index.js');
  const { main } = await import('../src/cli/index.js');
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  /** A number the README shows cut short ("0.6827…") is a prefix of the figure's text. */
  const shows = (cut: string, value: number) => assert.ok(String(value).startsWith(cut), `README shows ${cut}…, the model gives ${value}`);
  const encoder = await LiteEncoder.load();
  try {
    const embedding = /"embedding":\[(-?[\d.]+)…,(-?[\d.]+)…/.exec(readme);
    assert.ok(embedding, 'the embeddings example');
    const v = (await encoder.encode(['data scientist'])).data;
    shows(embedding[1], v[0]);
    shows(embedding[2], v[1]);
    const fingerprint = /e\.g\. `(lite:[0-9a-f]+)…`/.exec(readme);
    assert.ok(
      fingerprint && encoder.fingerprint.startsWith(fingerprint[1]),
      `README: ${fingerprint?.[1]}…, the model: ${encoder.fingerprint}`,
    );
  } finally {
    await encoder.dispose();
  }
  const corpus = join(import.meta.dirname, '..', '..', 'shared', 'data', 'talentclef-a', 'validation', 'en', 'corpus_elements');
  if (!existsSync(corpus)) return; // the match example needs the data
  const shown = /# \{"results":\[\[\{"id":"(\d+)","text":"([^"]+)","score":([\d.]+)…\}/.exec(readme);
  assert.ok(shown, 'the /v1/match example');
  const dir = await mkdtemp(join(tmpdir(), 'jobbert-readme-'));
  try {
    const out = join(dir, 'titles.jbi');
    assert.equal(await main(['index', 'build', '--input', corpus, '--lang', 'en', '--out', out], () => {}), 0);
    const index = await MatchIndex.load(out);
    const [[top]] = await index.search(['data scientist'], { k: 3 });
    await index.dispose();
    assert.deepEqual([top.id, top.text], [shown[1], shown[2]]);
    shows(shown[3], top.score);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
