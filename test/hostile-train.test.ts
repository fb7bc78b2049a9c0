/**
 * Training input from a hostile or careless source: a huge line, a file with
 * one pair or only copies of one, a BOM, a missing or non-regular data path,
 * a bad line — for both trainers (JobBERT heads and LiteEncoder). Each gets a
 * JobBERTError with the README's code, and a huge text costs what the model
 * can read of it, not gigabytes.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { JobBERTError } from '../src/errors.js';
import { featurize, MAX_TEXT_UNITS } from '../src/lite/features.js';
import { readPairs as readLitePairs } from '../src/lite/train.js';
import { Tokenizer } from 'tokenizers';
import { JobBERT } from '../src/model/jobbert.js';
import { train } from '../src/train/index.js';
import { clipForTokens } from '../src/util/text.js';
import { makeTinyModel, type TinyModel } from './fixtures/tiny-model.js';

let dir: string;
let model: TinyModel;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jobbert-hostile-train-'));
  model = await makeTinyModel({ seed: 19 });
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(model.dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

async function refuses(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: Error) => {
    assert.ok(e instanceof JobBERTError, `expected JobBERTError ${code}; received ${e?.name}: ${e?.message}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

const line = (anchor: string, positive: string) => `${JSON.stringify({ anchor, positive, lang: 'en' })}\n`;

describe('training data: too little to train on', () => {
  for (const [what, text] of [
    ['one pair', line('Software Engineer', 'python, git')],
    ['only copies of one pair', line('Nurse', 'patient care, hygiene').repeat(5)],
  ] as const) {
    it(`${what}: ERR_BAD_FILE from both trainers (not one step at loss 0)`, async () => {
      const path = await file(`${what.replace(/\W+/g, '-')}.jsonl`, text);
      await refuses(
        train({ model: model.dir, data: path, out: join(dir, `out-${what.length}`), cacheDir: join(dir, 'cache') }),
        'ERR_BAD_FILE',
        /need at least 2/,
      );
      await refuses(readLitePairs(path), 'ERR_BAD_FILE', /need at least 2/);
    });
  }
});

describe('training data: the lite trainer reads files as the JobBERT one does', () => {
  it('a missing file is ERR_NOT_FOUND and a directory ERR_IO, not a raw ENOENT/EISDIR', async () => {
    await refuses(readLitePairs(join(dir, 'nope.jsonl')), 'ERR_NOT_FOUND', /nope\.jsonl/);
    await refuses(readLitePairs(dir), 'ERR_IO', /is a directory/);
  });

  it('a BOM at the start is accepted; a bad line is ERR_BAD_FILE naming file:line (as the README says)', async () => {
    const { pairs } = await readLitePairs(await file('bom.jsonl', `\uFEFF${line('Nurse', 'care')}${line('Baker', 'bread')}`));
    assert.deepEqual(
      pairs.map((p) => p.anchor),
      ['Nurse', 'Baker'],
    );
    const bad = await file('bad.jsonl', `${line('Nurse', 'care')}\n{"anchor": 1}\n`);
    await refuses(readLitePairs(bad), 'ERR_BAD_FILE', /bad\.jsonl:3/);
  });
});

describe('training data: one huge line', () => {
  const huge = `${'Krankenpfleger '.repeat(200_000)}`; // 3 MB of words

  it('the lite trainer keeps only what the encoder reads of a text, as it reads it', async () => {
    const path = await file('huge.jsonl', `${line(huge, 'care, hygiene')}${line('Baker', 'bread')}`);
    const { pairs } = await readLitePairs(path);
    assert.ok(pairs[0].anchor.length <= MAX_TEXT_UNITS, `kept ${pairs[0].anchor.length} units`);
    // And the encoder's features of the huge text are those of what was kept.
    const cfg = { buckets: 1 << 10, minN: 2, maxN: 4 };
    assert.deepEqual(featurize([huge], cfg), featurize([pairs[0].anchor], cfg));
  });

  it('JobBERT tokenises only what max_seq_length can cover: a huge text encodes as its clipped prefix', async () => {
    const jobbert = await JobBERT.load(model.dir);
    try {
      const words = ['software', 'engineer', 'Pflege', 'datos', '高级软件'];
      const text = Array.from({ length: 400_000 }, (_, i) => words[i % words.length]).join(' '); // megabytes
      const clipped = clipForTokens(text, jobbert.maxSeqLength);
      assert.ok(clipped.length < text.length && clipped.length <= jobbert.maxSeqLength * 64);
      // Watch what reaches the tokenizer (tokenising a whole 50 MB line took gigabytes with XLM-R's).
      const proto = Tokenizer.prototype as unknown as { encodeBatch: (input: string[], ...rest: unknown[]) => unknown };
      const original = proto.encodeBatch;
      let longest = 0;
      proto.encodeBatch = function (this: unknown, input: string[], ...rest: unknown[]) {
        for (const t of input) longest = Math.max(longest, t.length);
        return original.call(this, input, ...rest);
      };
      let a: Awaited<ReturnType<JobBERT['encode']>>;
      try {
        a = await jobbert.encode([text]);
      } finally {
        proto.encodeBatch = original;
      }
      assert.ok(longest <= jobbert.maxSeqLength * 64, `the tokenizer was given ${longest} characters`);
      assert.deepEqual(a.data, (await jobbert.encode([clipped])).data);
    } finally {
      await jobbert.dispose();
    }
  });
});

describe('clipForTokens', () => {
  it('keeps short texts, cuts at whitespace when it can, never inside a surrogate pair', () => {
    assert.equal(clipForTokens('a b c', 1), 'a b c');
    const words = 'word '.repeat(100);
    const cut = clipForTokens(words, 2);
    assert.ok(cut.length <= 128 && cut.length > 64);
    assert.ok(words.startsWith(cut) && /\s/.test(words[cut.length]));
    const left = clipForTokens(words, 2, 'left');
    assert.ok(left.length <= 128 && left.length > 64 && words.endsWith(left) && /\s/.test(words[words.length - left.length - 1]));
    const emoji = 'a'.repeat(63) + '😀'.repeat(10);
    const c = clipForTokens(emoji, 1);
    assert.equal(c.length, 63);
  });
});

describe('LiteEncoder training: checkpoints, resume and a used out directory', () => {
  const pairsText = Array.from({ length: 48 }, (_, i) => line(`title number ${i}`, `skill ${i % 7}, skill ${i % 5}, thing ${i}`)).join('');
  const options = (data: string, out: string) => ({
    encoder: 'lite' as const,
    data,
    out,
    epochs: 2,
    batchSize: 8,
    seed: 7,
    buckets: 1 << 10,
    dim: 16,
    checkpointEvery: 3,
  });

  it('--checkpoint-every writes checkpoints, and --resume after a crash continues bit for bit', { timeout: 120_000 }, async () => {
    const data = await file('lite-pairs.jsonl', pairsText);
    const whole = await train(options(data, join(dir, 'lite-whole')));
    // A run that dies at step 8 (after its checkpoint at 6).
    const out = join(dir, 'lite-crashed');
    await assert.rejects(
      train({
        ...options(data, out),
        onProgress: (p: { step: number }) => {
          if (p.step === 8) throw new Error('killed');
        },
      }),
      /killed/,
    );
    const { readdir, readFile } = await import('node:fs/promises');
    assert.ok((await readdir(out)).includes('checkpoint-6'), `checkpoints written: ${await readdir(out)}`);
    // Without --resume the used out directory is refused, as on the JobBERT path.
    await refuses(train(options(data, out)), 'ERR_EXISTS', /not empty/);
    await refuses(train({ ...options(data, out), lr: 0.5, resume: true }), 'ERR_RESUME_MISMATCH', /lr/);
    // A checkpoint of another batch plan (or of a trainer from before plans were recorded) would continue into other batches.
    const { writeFile: write } = await import('node:fs/promises');
    const stateFile = join(out, 'checkpoint-6', 'trainer_state.json');
    const saved = await readFile(stateFile, 'utf8');
    const state = JSON.parse(saved);
    assert.equal(state.options.batchPlan, 2);
    for (const [plan, why] of [
      [undefined, /did not record its batch plan \(batchPlan none → 2\)/],
      [0, /made under batch plan 0, and this trainer plans batch plan 2/],
    ] as const) {
      await write(stateFile, JSON.stringify({ ...state, options: { ...state.options, batchPlan: plan } }));
      await refuses(train({ ...options(data, out), resume: true }), 'ERR_RESUME_MISMATCH', why);
    }
    await write(stateFile, saved);
    const firstSteps: number[] = [];
    const resumed = await train({ ...options(data, out), resume: true, onProgress: (p: { step: number }) => firstSteps.push(p.step) });
    assert.equal(firstSteps[0], 7, 'the resumed run starts after the checkpoint');
    assert.deepEqual(resumed.losses, whole.losses);
    for (const f of ['table.bin', 'heads.safetensors']) {
      assert.ok((await readFile(join(out, f))).equals(await readFile(join(whole.out, f))), `${f} is bit-identical`);
    }
  });
});

describe('folders under /proc', { skip: process.platform !== 'linux' && 'a Linux /proc' }, () => {
  /** Settles, or fails the test after 10 s (Node's own mkdir -p never settled there). */
  const bounded = <T>(p: Promise<T>) =>
    Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('did not settle in 10 s')), 10_000).unref())]);

  it('an out directory there fails at once (mkdir -p looped for good), with the error of the folder that cannot be made', async () => {
    const { makeDirs } = await import('../src/util/make-dirs.js');
    const { trainLiteEncoder } = await import('../src/lite/train.js');
    const { LiteEncoder } = await import('../src/lite/encoder.js');
    await assert.rejects(bounded(makeDirs('/proc/jobbert-test/a/b')), { code: 'ENOENT', message: /mkdir '\/proc\/jobbert-test'/ });
    await assert.rejects(bounded(makeDirs('/proc/self/jobbert-test')), { code: 'ENOENT' });
    const data = join(dir, 'proc-pairs.jsonl');
    await writeFile(data, '{"anchor":"nurse","positive":"care"}\n{"anchor":"cook","positive":"food"}\n');
    await assert.rejects(bounded(trainLiteEncoder({ data, out: '/proc/jobbert-test/m', dim: 8, buckets: 1024 })), {
      code: 'ERR_IO',
      message: /cannot write the out directory \/proc\/jobbert-test\/m/,
    });
    const encoder = await LiteEncoder.load();
    try {
      await assert.rejects(bounded(encoder.save('/proc/jobbert-test/model')), {
        code: 'ERR_IO',
        message: /cannot write the model to \/proc\/jobbert-test\/model: .*mkdir '\/proc\/jobbert-test'/,
      });
    } finally {
      await encoder.dispose();
    }
  });

  it('makeDirs makes what is missing, accepts what is there, and refuses a file in the way', async () => {
    const { makeDirs } = await import('../src/util/make-dirs.js');
    const deep = join(dir, 'made', 'a', 'b');
    await makeDirs(deep);
    await makeDirs(deep);
    await Promise.all([makeDirs(join(deep, 'c1', 'd')), makeDirs(join(deep, 'c1', 'e')), makeDirs(join(deep, 'c1', 'd'))]);
    const file = join(dir, 'made', 'file');
    await writeFile(file, 'x');
    await assert.rejects(makeDirs(file), { code: 'EEXIST' });
    await assert.rejects(makeDirs(join(file, 'below')), { code: 'ENOTDIR' });
  });
});

describe('training runs that went wrong quietly (found by an adversarial helper)', () => {
  const pairs = Array.from({ length: 40 }, (_, i) =>
    line(`title ${i} ${'abcdefgh'[i % 8]}`, `skill ${i % 13}, skill ${(i * 7) % 11}`),
  ).join('');
  const lite = (out: string, more: Record<string, unknown> = {}) => ({
    encoder: 'lite' as const,
    data: join(dir, 'quiet.jsonl'),
    out: join(dir, out),
    buckets: 1024,
    dim: 8,
    batchSize: 8,
    epochs: 2,
    ...more,
  });
  before(async () => {
    await file('quiet.jsonl', pairs);
  });

  it('two runs into one out directory: the second is ERR_BUSY (both finished, one model lost); a lock left by a dead process is taken over', async () => {
    const { trainLiteEncoder } = await import('../src/lite/train.js');
    // The first run waits in its first step until the second has been answered (else it may be done first).
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const first = trainLiteEncoder(lite('busy', { resume: true, onProgress: () => gate }));
    const { existsSync } = await import('node:fs');
    for (let i = 0; i < 1000 && !existsSync(join(dir, 'busy', '.jobbert-training.lock')); i++) await new Promise((r) => setTimeout(r, 10));
    await assert.rejects(trainLiteEncoder(lite('busy', { resume: true, seed: 2 })), {
      code: 'ERR_BUSY',
      message: /another training run of this process is training into/,
    });
    open();
    await first;
    const { readdir } = await import('node:fs/promises');
    assert.ok(!(await readdir(join(dir, 'busy'))).includes('.jobbert-training.lock'), 'the lock is released');
    // A lock of a process that has ended.
    const { spawnSync } = await import('node:child_process');
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'stale'));
    await writeFile(join(dir, 'stale', '.jobbert-training.lock'), String(dead));
    await trainLiteEncoder(lite('stale'));
  });

  it('an async onProgress that rejects rejects the training (it ended the process as an unhandled rejection)', async () => {
    const boom = new Error('callback failed');
    for (const opts of [
      lite('async-lite'),
      { model: model.dir, data: join(dir, 'quiet.jsonl'), out: join(dir, 'async-jb'), cacheDir: join(dir, 'cache') },
    ])
      await assert.rejects(
        train({
          ...opts,
          onProgress: async () => {
            throw boom;
          },
        }),
        (e) => e === boom,
      );
  });

  it('a learning rate that carries weights past float32 is ERR_DIVERGED, from both trainers (ERR_INTERNAL from a kernel at the next step)', async () => {
    await refuses(train(lite('diverged', { lr: 1e38, weightDecay: 0 })), 'ERR_DIVERGED', /lower lr/);
    await refuses(
      train({
        model: model.dir,
        data: join(dir, 'quiet.jsonl'),
        out: join(dir, 'diverged-jb'),
        cacheDir: join(dir, 'cache'),
        lr: 1e38,
        weightDecay: 0,
        batchSize: 8,
        epochs: 3,
      }),
      'ERR_DIVERGED',
      /no longer finite/,
    );
  });

  it('trainLiteEncoder refuses what it would ignore or fail on at the end: a misspelt option, trainedWith that JSON cannot hold; trainedWith cannot replace the run figures', async () => {
    const { trainLiteEncoder } = await import('../src/lite/train.js');
    await assert.rejects(trainLiteEncoder({ ...lite('typo'), epoch: 3 } as never), {
      name: 'TypeError',
      message: /unknown option 'epoch'/,
    });
    await assert.rejects(trainLiteEncoder({ ...lite('val'), validation: dir } as never), {
      name: 'TypeError',
      message: /unknown option 'validation'/,
    });
    await assert.rejects(trainLiteEncoder(lite('dev', { device: 'cuda' })), { name: 'RangeError', message: /device/ });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await assert.rejects(trainLiteEncoder(lite('circular', { trainedWith: circular })), {
      name: 'TypeError',
      message: /trainedWith must be plain JSON data/,
    });
    await trainLiteEncoder(lite('provenance', { trainedWith: { steps: -1, note: 'kept' } }));
    const { readFile } = await import('node:fs/promises');
    const saved = JSON.parse(await readFile(join(dir, 'provenance', 'lite.json'), 'utf8')).trainedWith;
    assert.equal(saved.note, 'kept');
    assert.equal(saved.steps, 10);
  });

  it('LiteEncoder data with one positive for every pair is ERR_BAD_FILE, as for JobBERT (it trained to exit 0 at loss ln(batch))', async () => {
    const path = await file('one-positive.jsonl', Array.from({ length: 30 }, (_, i) => line(`title ${i}`, 'the same skill list')).join(''));
    await refuses(train(lite('one-positive', { data: path })), 'ERR_BAD_FILE', /1 distinct positive/);
  });

  it('a LiteEncoder resume: other data is ERR_RESUME_MISMATCH (it was ERR_BAD_CHECKPOINT), a non-finite weight ERR_BAD_CHECKPOINT (it was trained into the model); events and loss.svg as JobBERT training gives them', async () => {
    const events: string[] = [];
    const opts = lite('resumed', { checkpointEvery: 3, onEvent: (e: { type: string }) => events.push(e.type) });
    await train(opts);
    assert.ok(events.includes('checkpoint'), events.join());
    const { readdir, readFile } = await import('node:fs/promises');
    assert.ok((await readdir(join(dir, 'resumed'))).includes('loss.svg'));
    const other = await file('other.jsonl', pairs.replace('title 0', 'title zero'));
    await refuses(train({ ...opts, data: other, resume: true }), 'ERR_RESUME_MISMATCH', /training pairs .* changed/);
    // A NaN in the newest checkpoint's weights.
    const newest = (await readdir(join(dir, 'resumed')))
      .filter((n) => n.startsWith('checkpoint-'))
      .sort((a, b) => Number(b.slice(11)) - Number(a.slice(11)))[0];
    const state = join(dir, 'resumed', newest, 'lite-state.safetensors');
    const bytes = await readFile(state);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    bytes.writeFloatLE(Number.NaN, 8 + headerLength);
    await writeFile(state, bytes);
    await refuses(train({ ...opts, resume: true }), 'ERR_BAD_CHECKPOINT', /not finite/);
  });

  it('--resume into a folder of other files, with no checkpoint, is ERR_EXISTS (it trained from scratch there and replaced them)', async () => {
    const { mkdir, readFile } = await import('node:fs/promises');
    await mkdir(join(dir, 'mine'));
    await writeFile(join(dir, 'mine', 'config.json'), '{"mine": true}');
    await refuses(
      train(lite('mine', { resume: true })),
      'ERR_EXISTS',
      /holds no checkpoint to resume from, but other files \(config\.json\)/,
    );
    assert.equal(await readFile(join(dir, 'mine', 'config.json'), 'utf8'), '{"mine": true}');
  });

  it('a --cache-dir that is a file is ERR_IO naming it (an uncaught ENOTDIR with its stack)', async () => {
    const notDir = await file('cache-file', 'x');
    await refuses(
      train({ model: model.dir, data: join(dir, 'quiet.jsonl'), out: join(dir, 'cache-out'), cacheDir: notDir }),
      'ERR_IO',
      /embedding cache folder/,
    );
  });
});
