/** adaptLiteEncoder and `jobbert adapt`: the built-in model trained on a user's labelled titles, rehearsing the taxonomy. */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { adaptLiteEncoder, fitCalibration, LiteEncoder, Normalizer } from '../src/index.js';
import { main } from '../src/cli/index.js';
import { OCC, writeTinyTaxonomy } from './fixtures/tiny-taxonomy.js';

let dir: string;
let taxonomy: string;
/** Invented titles no model has seen, all of one occupation of the tiny taxonomy. */
const EXAMPLES = ['Zorblax Operative', 'Senior Zorblax Operative', 'Zorblax Operative (m/w/d)', 'Zorblax-Operative Nachtschicht'].map(
  (title) => ({ title, uri: OCC.driver }),
);
const UNSEEN = 'Zorblax Operative II';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jobbert-adapt-'));
  taxonomy = await writeTinyTaxonomy(join(dir, 'esco'));
});
after(async () => rm(dir, { recursive: true, force: true }));

/** The first occupation `model` (default: built-in) gives `title` zero-shot over the tiny taxonomy. */
async function first(title: string, model?: string): Promise<string | undefined> {
  const encoder = await LiteEncoder.load(model);
  const n = await Normalizer.load({ encoder, taxonomy });
  try {
    return (await n.normalize([title], { k: 1 }))[0].alternatives[0]?.uri;
  } finally {
    await n.dispose();
    await encoder.dispose();
  }
}

describe('adaptLiteEncoder', () => {
  it('teaches the built-in model a user’s titles: an unseen variant goes to their occupation, which it did not before', async () => {
    assert.notEqual(await first(UNSEEN), OCC.driver, 'the premise: the built-in model does not already know these titles');
    const out = join(dir, 'adapted');
    const r = await adaptLiteEncoder({ examples: EXAMPLES, out, taxonomy, epochs: 30, lr: 0.01 });
    assert.equal(r.examples, EXAMPLES.length);
    assert.deepEqual(r.skippedExamples, []);
    assert.ok(r.steps > 0 && r.pairs > EXAMPLES.length * 3, JSON.stringify(r));
    assert.equal(await first(UNSEEN, out), OCC.driver);
    // What it knew of the taxonomy stays: its labels still find their own occupations.
    assert.equal(await first('Bäcker', out), OCC.baker);
    assert.equal(await first('registered nurse', out), OCC.nurse);
    const meta = JSON.parse(await readFile(join(out, 'lite.json'), 'utf8'));
    assert.equal(meta.trainedWith.adaptedFrom, 'the built-in model');
  });

  it('reads an examples file, leaving out (and reporting) titles whose URI the taxonomy lacks; a seed gives the same model', async () => {
    const file = join(dir, 'labelled.csv');
    await writeFile(file, `title,uri\n${EXAMPLES.map((e) => `${e.title},${e.uri}`).join('\n')}\nGhost Title,${OCC.driver}-gone\n`);
    const a = await adaptLiteEncoder({ examples: file, out: join(dir, 'a'), taxonomy, epochs: 2 });
    await adaptLiteEncoder({ examples: file, out: join(dir, 'b'), taxonomy, epochs: 2 });
    assert.equal(a.examples, EXAMPLES.length);
    assert.deepEqual(a.skippedExamples, [{ line: 6, uri: `${OCC.driver}-gone`, reason: 'URI not in the taxonomy' }]);
    assert.deepEqual(await readFile(join(dir, 'a', 'table.bin')), await readFile(join(dir, 'b', 'table.bin')));
  });

  it('holdOut keeps a share of the titles out of training and fits the adapted model’s calibration on it', async () => {
    // 500 titles of the five occupations: words each occupation's titles share, and noise.
    const words: Record<string, string[]> = {
      [OCC.developer]: ['Coder', 'Backend', 'Fullstack'],
      [OCC.nurse]: ['Ward', 'Care', 'Clinic'],
      [OCC.baker]: ['Dough', 'Oven', 'Bread'],
      [OCC.driver]: ['Zorblax', 'Cab', 'Route'],
      [OCC.accountant]: ['Ledger', 'Audit', 'Tax'],
    };
    const uris = Object.keys(words);
    const titles = Array.from({ length: 500 }, (_, i) => {
      const uri = uris[i % 5];
      return { title: `${words[uri][i % 3]} ${['Lead', 'Junior', 'Staff', 'Senior'][i % 4]} ${i % 7 ? 'Operative' : 'Helper'} ${i}`, uri };
    });
    const out = join(dir, 'held');
    const r = await adaptLiteEncoder({ examples: titles, out, taxonomy, epochs: 3, holdOut: 0.3 });
    assert.equal(r.examples, 350, 'trained on the rest');
    assert.ok(r.calibration, 'a calibration');
    assert.equal(r.calibration.path, join(out, 'calibration.json'));
    assert.equal(r.calibration.fit.zeroShotAll.titles, 150);
    // With examples, the held-out titles were normalised with the 350 trained on, as the model will be used.
    assert.match(String(r.calibration.fit.calibration.fit?.data), /with examples: 350 given examples, not the other half/);
    await assert.rejects(fitCalibration({ titles, examples: 'labelled.csv' as never }), /examples must be a file path or an array/);
    const encoder = await LiteEncoder.load(out);
    const n = await Normalizer.load({ encoder, taxonomy, calibration: r.calibration.path });
    try {
      assert.equal(n.calibrated, true);
    } finally {
      await n.dispose();
      await encoder.dispose();
    }
    await assert.rejects(adaptLiteEncoder({ examples: titles, out: join(dir, 'held-small'), taxonomy, holdOut: 0.1 }), {
      code: 'ERR_BAD_DATA',
      message: /holdOut 0\.1 of 500 title\(s\) is 50; a calibration needs at least 100/,
    });
    await assert.rejects(adaptLiteEncoder({ examples: titles, out: join(dir, 'held-bad'), holdOut: 0.95 }), RangeError);
  });

  it('refuses bad options, a model that is not a LiteEncoder, titles of no known occupation and a used out folder', async () => {
    const out = join(dir, 'refused');
    await assert.rejects(adaptLiteEncoder(null as never), TypeError);
    await assert.rejects(adaptLiteEncoder({ examples: 42 as never, out }), /examples must be a file path or an array/);
    await assert.rejects(adaptLiteEncoder({ examples: EXAMPLES, out, epochz: 2 } as never), /epochz/);
    await assert.rejects(adaptLiteEncoder({ examples: EXAMPLES, out: '' }), /out must be a non-empty path/);
    await assert.rejects(adaptLiteEncoder({ examples: EXAMPLES, out, epochs: 0 }), RangeError);
    await assert.rejects(adaptLiteEncoder({ examples: EXAMPLES, out, lr: -1 }), RangeError);
    await assert.rejects(adaptLiteEncoder({ examples: [{ title: '', uri: OCC.driver }], out }), /title must be a non-empty string/);
    const notLite = join(dir, 'not-lite');
    await mkdir(notLite);
    await assert.rejects(adaptLiteEncoder({ examples: EXAMPLES, out, model: notLite }), { code: 'ERR_BAD_MODEL' });
    await assert.rejects(adaptLiteEncoder({ examples: EXAMPLES, out, model: join(dir, 'nowhere') }), { code: 'ERR_NOT_FOUND' });
    await assert.rejects(adaptLiteEncoder({ examples: [{ title: 'x', uri: 'urn:nothing' }], out, taxonomy }), {
      code: 'ERR_BAD_DATA',
      message: /none of the 1 labelled title\(s\) names an occupation.*urn:nothing/,
    });
    const used = join(dir, 'used');
    await mkdir(used);
    await writeFile(join(used, 'keep.txt'), 'mine');
    await assert.rejects(adaptLiteEncoder({ examples: EXAMPLES, out: used, taxonomy }), { code: 'ERR_EXISTS' });
    assert.equal(await readFile(join(used, 'keep.txt'), 'utf8'), 'mine');
  });
});

describe('jobbert adapt', () => {
  it('writes a model --model takes, and says how to calibrate it; usage errors exit 2', async () => {
    const file = join(dir, 'cli.jsonl');
    await writeFile(file, EXAMPLES.map((e) => JSON.stringify(e)).join('\n'));
    const out: string[] = [];
    const err: string[] = [];
    const model = join(dir, 'cli-model');
    const args = ['adapt', '--examples', file, '--out', model, '--taxonomy', taxonomy, '--epochs', '1'];
    assert.equal(
      await main(
        args,
        (s) => out.push(s),
        (s) => err.push(s),
      ),
      0,
      err.join('\n'),
    );
    assert.match(out.join('\n'), /adapted the built-in model to 4 labelled title\(s\).*\n.*--model .*cli-model.*jobbert calibrate/);
    assert.equal(
      await main(
        ['normalize', 'Zorblax', '--model', model, '--taxonomy', taxonomy, '--json'],
        () => {},
        () => {},
      ),
      0,
    );
    const status = (argv: string[]) =>
      main(
        argv,
        () => {},
        (s) => err.push(s),
      );
    assert.equal(await status(['adapt', '--out', join(dir, 'x')]), 2);
    assert.match(err.join('\n'), /adapt needs --examples FILE/);
    assert.equal(await status(['adapt', '--examples', file]), 2);
    assert.match(err.join('\n'), /adapt needs --out DIR/);
    assert.equal(await status(['adapt', '--examples', join(dir, 'missing.csv'), '--out', join(dir, 'x')]), 1);
    assert.match(err.join('\n'), /ERR_NOT_FOUND: --examples .*missing\.csv does not exist/);
    assert.equal(await status(['adapt', '--examples', file, '--out', join(dir, 'x'), '--epochs', '0']), 2);
    assert.equal(await status(['adapt', '--examples', file, '--out', join(dir, 'x'), '--taxonomy', taxonomy, '--hold-out', '0.5']), 1);
    assert.match(err.join('\n'), /ERR_BAD_DATA: .*a calibration needs at least 100/);
  });
});
