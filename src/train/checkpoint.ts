/**
 * Output and checkpoints as sentence-transformers directories.
 *
 *   out/                     the trained model (what JobBERT.load and Python load)
 *   out/checkpoint-<step>/   a complete model + trainer_state.json + optimizer.safetensors
 *   out/loss.svg
 *
 * The frozen files of the input model (transformer, tokenizer, pooling, ONNX
 * graphs) are hard-linked into out/ once (copied across file systems) and from
 * there into each checkpoint, so a checkpoint costs the size of its heads.
 * A checkpoint is assembled in out/.tmp-checkpoint-<step>-<pid> and renamed
 * into place, so it is either complete or absent; files are only ever
 * replaced by rename, never rewritten in place, which keeps hard links safe.
 */
import { copyFile, link, open, readdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { JobBERTError } from '../errors.js';
import { writeCheckpointDir } from '../util/checkpoints.js';
import type { ModelLayout, PostModule } from '../model/modules.js';
import { withSafeTensors, writeSafeTensors } from '../model/safetensors.js';
import type { Head, Heads, OptimizerState } from './step.js';
import { makeDirs } from '../util/make-dirs.js';

const ACTIVATION_CLASS = { tanh: 'torch.nn.modules.activation.Tanh', identity: 'torch.nn.modules.linear.Identity' } as const;
/** Output size of new heads: JobBERT-V3's. */
export const NEW_HEAD_DIM = 1024;
const OWN_FILES = new Set(['trainer_state.json', 'optimizer.safetensors', 'loss.svg']);

/** Where the heads live in the input model and what else it is made of. */
export interface ModelPlan {
  modelDir: string;
  /** Paths relative to the model directory. */
  asymDir: string;
  anchorDir: string;
  positiveDir: string;
  /** True when the input had no Asym module and the trainer adds one (new modules.json and 2_Asym/config.json). */
  created: boolean;
  modules?: unknown[];
  /** Files copied unchanged (relative paths). */
  files: string[];
}

const bad = (msg: string) => new JobBERTError('ERR_BAD_MODEL', msg);

/**
 * Works out where the Asym heads of the model in `modelDir` are, or that new
 * ones are to be added after pooling. Async. Rejects with ERR_BAD_MODEL for a
 * layout the trainer cannot train (modules after pooling other than one Asym
 * whose `anchor` and `positive` routes are one Dense each).
 */
export async function planModel(modelDir: string, layout: ModelLayout): Promise<ModelPlan> {
  const rel = (p: string) => relative(modelDir, p);
  let plan: Omit<ModelPlan, 'files'>;
  if (layout.post.length === 0) {
    let modules: unknown[];
    try {
      modules = JSON.parse(await readFile(join(modelDir, 'modules.json'), 'utf8')) as unknown[];
    } catch {
      modules = [
        { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
        { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
      ];
      if (!layout.configFiles.some((f) => rel(f) === join('1_Pooling', 'config.json'))) {
        throw bad(`${modelDir} has no modules.json: write one (Transformer, Pooling) so the trained model can name its modules`);
      }
    }
    const idx = modules.length;
    modules = [...modules, { idx, name: String(idx), path: `${idx}_Asym`, type: 'sentence_transformers.models.Asym' }];
    plan = {
      modelDir,
      asymDir: `${idx}_Asym`,
      anchorDir: join(`${idx}_Asym`, 'anchor_Dense'),
      positiveDir: join(`${idx}_Asym`, 'positive_Dense'),
      created: true,
      modules,
    };
  } else {
    const asym = layout.post[0];
    if (layout.post.length !== 1 || asym.kind !== 'asym') {
      throw bad(
        `${modelDir}: training needs the modules after pooling to be one Asym (anchor and positive Dense heads); found ${layout.post.map((m) => m.kind).join(', ')}`,
      );
    }
    const route = (name: string): Extract<PostModule, { kind: 'dense' }> => {
      const list = asym.routes.get(name);
      if (list?.length !== 1 || list[0].kind !== 'dense') {
        throw bad(`${join(asym.dir, 'config.json')}: training needs route '${name}' to be exactly one Dense module`);
      }
      return list[0];
    };
    const a = route('anchor');
    const p = route('positive');
    if (a.dir === p.dir)
      throw bad(`${join(asym.dir, 'config.json')}: the anchor and positive routes share one Dense module; training needs two`);
    if (!a.bias || !p.bias) throw bad(`${join(asym.dir, 'config.json')}: training needs Dense heads with a bias`);
    if (a.outFeatures !== p.outFeatures)
      throw bad(
        `${join(asym.dir, 'config.json')}: the anchor and positive heads output ${a.outFeatures} and ${p.outFeatures} dimensions; InfoNCE needs one`,
      );
    plan = { modelDir, asymDir: rel(asym.dir), anchorDir: rel(a.dir), positiveDir: rel(p.dir), created: false };
  }
  const skipDirs = new Set([plan.anchorDir, plan.positiveDir]);
  const skipFiles = new Set(plan.created ? ['modules.json', join(plan.asymDir, 'config.json')] : []);
  const files: string[] = [];
  const walk = async (sub: string) => {
    for (const entry of await readdir(join(modelDir, sub), { withFileTypes: true })) {
      const path = join(sub, entry.name);
      if (entry.name.startsWith('.') || skipDirs.has(path) || skipFiles.has(path)) continue;
      if (sub === '' && (OWN_FILES.has(entry.name) || /^checkpoint-\d+$/.test(entry.name))) continue;
      const s = await stat(join(modelDir, path)); // follows links (hub caches link files to blobs)
      if (s.isDirectory()) await walk(path);
      else if (s.isFile()) files.push(path);
    }
  };
  await walk('');
  return { ...plan, files };
}

/** Reads the heads' weights from the model (or makes new ones with torch.nn.Linear's initialisation). Async. */
export async function loadHeads(plan: ModelPlan, layout: ModelLayout, hidden: number, seed: number): Promise<Heads> {
  if (plan.created) {
    const { Rng, epochState } = await import('./batches.js');
    const rng = new Rng(epochState(seed, -1));
    const fresh = (): Head => {
      const bound = 1 / Math.sqrt(hidden);
      const weight = new Float32Array(NEW_HEAD_DIM * hidden);
      for (let i = 0; i < weight.length; i++) weight[i] = (rng.next() * 2 - 1) * bound;
      const bias = new Float32Array(NEW_HEAD_DIM);
      for (let i = 0; i < bias.length; i++) bias[i] = (rng.next() * 2 - 1) * bound;
      return { weight, bias, out: NEW_HEAD_DIM, in: hidden, activation: 'tanh' };
    };
    return { anchor: fresh(), positive: fresh() };
  }
  const asym = layout.post[0] as Extract<PostModule, { kind: 'asym' }>;
  const read = async (route: string): Promise<Head> => {
    const d = asym.routes.get(route)![0] as Extract<PostModule, { kind: 'dense' }>;
    if (d.inFeatures !== hidden)
      throw bad(`${join(d.dir, 'config.json')}: in_features is ${d.inFeatures} but the pooled vectors have ${hidden} dimensions`);
    return withSafeTensors(join(d.dir, 'model.safetensors'), async (st) => ({
      weight: (await st.read('linear.weight', [d.outFeatures, d.inFeatures])).data,
      bias: (await st.read('linear.bias', [d.outFeatures])).data,
      out: d.outFeatures,
      in: d.inFeatures,
      activation: d.activation,
    }));
  };
  return { anchor: await read('anchor'), positive: await read('positive') };
}

/** Hard-links `from` to `to` (copying across file systems), replacing `to` atomically. */
async function linkOrCopy(from: string, to: string): Promise<void> {
  await makeDirs(dirname(to));
  const tmp = `${to}.${process.pid}.tmp`;
  await rm(tmp, { force: true });
  const source = await realpath(from);
  try {
    await link(source, tmp);
  } catch {
    await copyFile(source, tmp);
  }
  await rename(tmp, to);
}

/** Whether files `a` and `b` hold the same bytes (the same file, linked, without reading it). Async. */
async function sameBytes(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([stat(a), stat(b).catch(() => undefined)]);
  if (!y || x.size !== y.size) return false;
  if (x.ino === y.ino && x.dev === y.dev) return true;
  const [fa, fb] = await Promise.all([open(a, 'r'), open(b, 'r')]);
  try {
    const ba = Buffer.alloc(1 << 20);
    const bb = Buffer.alloc(1 << 20);
    for (let at = 0; at < x.size; at += ba.length) {
      const [ra, rb] = await Promise.all([fa.read(ba, 0, ba.length, at), fb.read(bb, 0, bb.length, at)]);
      if (ra.bytesRead !== rb.bytesRead || !ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead))) return false;
    }
    return true;
  } finally {
    await Promise.all([fa.close(), fb.close()]);
  }
}

/**
 * Puts the input model's frozen files into `out`, skipping those already
 * there with the same bytes: a file of the same size from another base model
 * (a run resumed into `out` with another --model) was kept, and the model
 * written mixed two. Async.
 */
export async function materializeBase(plan: ModelPlan, out: string): Promise<void> {
  await makeDirs(out);
  for (const f of plan.files) {
    const from = join(plan.modelDir, f);
    const to = join(out, f);
    if (await sameBytes(from, to)) continue;
    await linkOrCopy(from, to);
  }
}

/** Writes a head's Dense module (config.json, model.safetensors) into `dir`. */
async function writeHead(dir: string, head: Head): Promise<void> {
  await makeDirs(dir);
  await writeFile(
    join(dir, 'config.json'),
    JSON.stringify(
      {
        in_features: head.in,
        out_features: head.out,
        bias: true,
        activation_function: ACTIVATION_CLASS[head.activation],
      },
      null,
      2,
    ),
  );
  await writeSafeTensors(
    join(dir, 'model.safetensors'),
    new Map([
      ['linear.weight', { shape: [head.out, head.in], data: head.weight }],
      ['linear.bias', { shape: [head.out], data: head.bias }],
    ]),
  );
}

/** Files the trainer writes itself (relative paths), beside plan.files. */
function ownModelFiles(plan: ModelPlan): string[] {
  const list = [
    join(plan.anchorDir, 'config.json'),
    join(plan.anchorDir, 'model.safetensors'),
    join(plan.positiveDir, 'config.json'),
    join(plan.positiveDir, 'model.safetensors'),
  ];
  if (plan.created) list.push('modules.json', join(plan.asymDir, 'config.json'));
  return list;
}

/** What trainer_state.json holds. */
export interface TrainerState {
  format: 'jobbert-trainer-state';
  version: 1;
  /** Updates done. */
  step: number;
  steps: number;
  /** Epoch of the next step, and how many of its batches are done. */
  epoch: number;
  stepInEpoch: number;
  /** The batch order is a pure function of (seed, epoch): this is the generator state of the current epoch's shuffle. */
  rng: { algorithm: 'mulberry32'; seed: number; epoch: number; state: number };
  data: { path: string; sha256: string; pairs: number };
  baseFingerprint: string;
  /** Where the kernels ran ('cpu' or 'cuda'); absent in checkpoints from before 2026-12-05. */
  backend?: 'cpu' | 'cuda';
  options: Record<string, unknown>;
  losses: number[];
  validation: { step: number; map: number }[];
}

/**
 * Writes `out/checkpoint-<step>` atomically: the model (links to the frozen
 * files in `out`), the heads, trainer_state.json and optimizer.safetensors.
 * Resolves to its path. Async.
 */
export async function saveCheckpoint(
  out: string,
  plan: ModelPlan,
  heads: Heads,
  optimizer: OptimizerState,
  state: TrainerState,
): Promise<string> {
  return writeCheckpointDir(out, state.step, async (dir) => {
    for (const f of plan.files) {
      await makeDirs(dirname(join(dir, f)));
      try {
        await link(join(out, f), join(dir, f));
      } catch {
        await copyFile(join(out, f), join(dir, f));
      }
    }
    await writeHead(join(dir, plan.anchorDir), heads.anchor);
    await writeHead(join(dir, plan.positiveDir), heads.positive);
    if (plan.created) {
      await writeFile(join(dir, 'modules.json'), JSON.stringify(plan.modules, null, 2));
      await writeFile(
        join(dir, plan.asymDir, 'config.json'),
        JSON.stringify(
          {
            types: { anchor_Dense: 'sentence_transformers.models.Dense', positive_Dense: 'sentence_transformers.models.Dense' },
            structure: { anchor: ['anchor_Dense'], positive: ['positive_Dense'] },
            parameters: { allow_empty_key: true },
          },
          null,
          2,
        ),
      );
    }
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [key, mo] of Object.entries(optimizer.moments)) {
      tensors.set(`${key}.exp_avg`, { shape: [mo.m.length], data: mo.m });
      tensors.set(`${key}.exp_avg_sq`, { shape: [mo.v.length], data: mo.v });
    }
    await writeSafeTensors(join(dir, 'optimizer.safetensors'), tensors, { format: 'pt', step: String(optimizer.step) });
    await writeFile(join(dir, 'trainer_state.json'), JSON.stringify(state));
  });
}

/** Makes `out` itself the model of checkpoint `dir` (each file replaced atomically). Async. */
export async function publish(out: string, plan: ModelPlan, dir: string): Promise<void> {
  for (const f of ownModelFiles(plan)) await linkOrCopy(join(dir, f), join(out, f));
}

export { listCheckpoints, pruneCheckpoints } from '../util/checkpoints.js';

/** Reads a checkpoint's trainer state, heads and optimizer moments. Async; rejects with ERR_BAD_CHECKPOINT. */
export async function loadCheckpoint(dir: string, plan: ModelPlan, heads: Heads, optimizer: OptimizerState): Promise<TrainerState> {
  const badCheckpoint = (why: string, cause?: unknown) =>
    new JobBERTError('ERR_BAD_CHECKPOINT', `checkpoint ${dir}: ${why}`, cause === undefined ? undefined : { cause });
  let state: TrainerState;
  try {
    state = JSON.parse(await readFile(join(dir, 'trainer_state.json'), 'utf8')) as TrainerState;
  } catch (e) {
    throw badCheckpoint(`trainer_state.json cannot be read: ${(e as Error).message}`, e);
  }
  if (state?.format !== 'jobbert-trainer-state' || state.version !== 1)
    throw badCheckpoint('trainer_state.json is not a jobbert trainer state (version 1)');
  // Edited or damaged counters resumed at a step the checkpoint's weights are not from (exit 0), or failed deep inside a step.
  const named = Number(/checkpoint-(\d+)$/.exec(dir)?.[1]);
  const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!count(state.step) || (Number.isFinite(named) && state.step !== named))
    throw badCheckpoint(`trainer_state.json's step ${JSON.stringify(state.step)} is not the checkpoint's (${named})`);
  if (!count(state.epoch) || !count(state.stepInEpoch))
    throw badCheckpoint(
      `trainer_state.json's epoch ${JSON.stringify(state.epoch)} / stepInEpoch ${JSON.stringify(state.stepInEpoch)} are not counts`,
    );
  if (!Array.isArray(state.losses) || state.losses.length !== state.step || !state.losses.every((x) => Number.isFinite(x)))
    throw badCheckpoint(`trainer_state.json's losses are not one number a step (${state.step})`);
  if (!Array.isArray(state.validation)) throw badCheckpoint("trainer_state.json's validation is not a list");
  const readInto = async (path: string, names: [string, Float32Array][]) => {
    try {
      await withSafeTensors(path, async (st) => {
        for (const [name, target] of names) target.set((await st.read(name, [target.length])).data);
      });
    } catch (e) {
      throw badCheckpoint((e as Error).message, e);
    }
  };
  for (const [route, head] of [
    ['anchor', heads.anchor],
    ['positive', heads.positive],
  ] as const) {
    const d = route === 'anchor' ? plan.anchorDir : plan.positiveDir;
    await withSafeTensors(join(dir, d, 'model.safetensors'), async (st) => {
      head.weight.set((await st.read('linear.weight', [head.out, head.in])).data);
      head.bias.set((await st.read('linear.bias', [head.out])).data);
    }).catch((e) => {
      throw badCheckpoint((e as Error).message, e);
    });
  }
  const names: [string, Float32Array][] = [];
  for (const [key, mo] of Object.entries(optimizer.moments)) names.push([`${key}.exp_avg`, mo.m], [`${key}.exp_avg_sq`, mo.v]);
  await readInto(join(dir, 'optimizer.safetensors'), names);
  // A damaged value was resumed from, and failed as a kernel's ERR_INTERNAL at the next step.
  const tensors: [string, Float32Array][] = [
    ['the anchor head', heads.anchor.weight],
    ['the anchor head', heads.anchor.bias],
    ['the positive head', heads.positive.weight],
    ['the positive head', heads.positive.bias],
    ...names.map(([name, t]): [string, Float32Array] => [`optimizer.safetensors' ${name}`, t]),
  ];
  for (const [what, t] of tensors) if (!t.every(Number.isFinite)) throw badCheckpoint(`${what} holds a value that is not finite`);
  optimizer.step = state.step;
  return state;
}
