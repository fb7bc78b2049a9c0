/**
 * Reads the module list of a sentence-transformers directory (modules.json and
 * each module's config) into a plain description: where the transformer is,
 * how tokens are pooled, and the modules after pooling (Dense, Normalize, Asym
 * with its routes). A directory without modules.json is read as
 * sentence-transformers reads a plain Hugging Face model: transformer + mean
 * pooling. Weights are not read here (see jobbert.ts).
 */
import { readFile, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { JobBERTError } from '../errors.js';

export type PoolingMode = 'mean' | 'cls' | 'max' | 'mean_sqrt_len';

/** A module applied to the pooled vectors. */
export type PostModule =
  | { kind: 'dense'; dir: string; inFeatures: number; outFeatures: number; bias: boolean; activation: 'identity' | 'tanh' }
  | { kind: 'normalize' }
  | { kind: 'asym'; dir: string; routes: Map<string, PostModule[]> };

export interface ModelLayout {
  /** Directory holding config.json, model.safetensors / onnx/model.onnx, tokenizer.json. */
  transformerDir: string;
  /** max_seq_length from sentence_bert_config.json, when set. */
  maxSeqLength?: number;
  /** do_lower_case from sentence_bert_config.json: lower-case texts before tokenising. */
  doLowerCase: boolean;
  /**
   * truncation_side from tokenizer_config.json (transformers' tokenizers read it;
   * 'right', keeping the first tokens, when absent).
   */
  truncationSide: 'left' | 'right';
  /** model_max_length from tokenizer_config.json, when set: bounds max_seq_length when sentence_bert_config.json has none. */
  modelMaxLength?: number;
  pooling: PoolingMode;
  post: PostModule[];
  /** Every config file read, for the fingerprint. */
  configFiles: string[];
}

const bad = (msg: string, cause?: unknown) => new JobBERTError('ERR_BAD_MODEL', msg, cause === undefined ? undefined : { cause });

/** Reads a JSON file; a missing file is `undefined` when optional, else ERR_BAD_MODEL. */
export async function readJson(path: string, optional = false): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (optional && code === 'ENOENT') return undefined;
    throw bad(`${path} ${code === 'ENOENT' ? 'is missing' : `cannot be read: ${(e as Error).message}`}`, e);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw bad(`${path} is not valid JSON: ${(e as Error).message}`, e);
  }
}

/** Joins a module path from a config, refusing paths that leave the model directory. */
function inside(root: string, sub: unknown, what: string): string {
  if (typeof sub !== 'string') throw bad(`${what}: module path must be a string; found ${JSON.stringify(sub)}`);
  const p = resolve(root, sub);
  const rel = relative(resolve(root), p);
  if (rel.startsWith('..') || rel.split(sep).includes('..'))
    throw bad(`${what}: module path ${JSON.stringify(sub)} leaves the model directory`);
  return p;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

async function readPooling(dir: string, files: string[]): Promise<PoolingMode> {
  const path = join(dir, 'config.json');
  const c = await readJson(path);
  files.push(path);
  if (!isObject(c)) throw bad(`${path} must hold a JSON object`);
  const modes: PoolingMode[] = [];
  if (c.pooling_mode_cls_token === true) modes.push('cls');
  if (c.pooling_mode_mean_tokens === true) modes.push('mean');
  if (c.pooling_mode_max_tokens === true) modes.push('max');
  if (c.pooling_mode_mean_sqrt_len_tokens === true) modes.push('mean_sqrt_len');
  for (const other of ['pooling_mode_weightedmean_tokens', 'pooling_mode_lasttoken']) {
    if (c[other] === true) throw bad(`${path}: ${other} is not supported (cls, mean, max and mean_sqrt_len are)`);
  }
  if (modes.length !== 1) throw bad(`${path}: exactly one pooling mode must be set; found ${modes.length ? modes.join(' + ') : 'none'}`);
  return modes[0];
}

const ACTIVATIONS: Record<string, 'identity' | 'tanh'> = {
  'torch.nn.modules.activation.Tanh': 'tanh',
  'torch.nn.modules.linear.Identity': 'identity',
};

async function readDense(dir: string, files: string[]): Promise<PostModule> {
  const path = join(dir, 'config.json');
  const c = await readJson(path);
  files.push(path);
  if (!isObject(c)) throw bad(`${path} must hold a JSON object`);
  const int = (k: string) => {
    if (!Number.isSafeInteger(c[k]) || (c[k] as number) < 1)
      throw bad(`${path}: ${k} must be a positive integer; found ${JSON.stringify(c[k])}`);
    return c[k] as number;
  };
  const name = c.activation_function ?? 'torch.nn.modules.activation.Tanh'; // Dense's default
  const activation = typeof name === 'string' ? ACTIVATIONS[name] : undefined;
  if (!activation) throw bad(`${path}: activation_function ${JSON.stringify(name)} is not supported (Tanh and Identity are)`);
  return { kind: 'dense', dir, inFeatures: int('in_features'), outFeatures: int('out_features'), bias: c.bias !== false, activation };
}

async function readModule(type: unknown, dir: string, files: string[], where: string): Promise<PostModule> {
  const t = typeof type === 'string' ? type.replace(/^sentence_transformers\.models\./, '') : type;
  if (t === 'Dense') return readDense(dir, files);
  if (t === 'Normalize') return { kind: 'normalize' };
  if (t === 'Asym') return readAsym(dir, files);
  throw bad(`${where}: module type ${JSON.stringify(type)} is not supported after pooling (Dense, Normalize and Asym are)`);
}

async function readAsym(dir: string, files: string[]): Promise<PostModule> {
  const path = join(dir, 'config.json');
  const c = await readJson(path);
  files.push(path);
  if (!isObject(c) || !isObject(c.types) || !isObject(c.structure))
    throw bad(`${path}: an Asym config needs "types" and "structure" objects`);
  const routes = new Map<string, PostModule[]>();
  for (const [route, ids] of Object.entries(c.structure)) {
    if (!Array.isArray(ids) || ids.length === 0) throw bad(`${path}: route ${route} must list at least one module`);
    const mods: PostModule[] = [];
    for (const id of ids) {
      if (typeof id !== 'string' || !(id in c.types))
        throw bad(`${path}: route ${route} names module ${JSON.stringify(id)}, which "types" does not declare`);
      mods.push(await readModule(c.types[id], inside(dir, id, path), files, path));
    }
    routes.set(route, mods);
  }
  if (routes.size === 0) throw bad(`${path}: the Asym module has no routes`);
  return { kind: 'asym', dir, routes };
}

/**
 * Reads the layout of the model in `dir`. Async. Rejects with JobBERTError
 * ERR_NOT_FOUND when `dir` is not a directory and ERR_BAD_MODEL when a config
 * is missing, malformed or declares something unsupported.
 */
export async function readLayout(dir: string): Promise<ModelLayout> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
  } catch (e) {
    throw new JobBERTError('ERR_NOT_FOUND', `model directory ${dir} does not exist or is not a directory`, { cause: e });
  }
  const files: string[] = [];
  const modulesPath = join(dir, 'modules.json');
  const list = await readJson(modulesPath, true);
  let transformerDir = dir;
  let pooling: PoolingMode = 'mean';
  const post: PostModule[] = [];
  if (list !== undefined) {
    files.push(modulesPath);
    if (!Array.isArray(list) || list.length === 0) throw bad(`${modulesPath} must hold a non-empty array of modules`);
    const sorted = [...list].sort((a, b) => (Number(a?.idx) || 0) - (Number(b?.idx) || 0));
    let stage: 'transformer' | 'pooling' | 'post' = 'transformer';
    for (const m of sorted) {
      if (!isObject(m)) throw bad(`${modulesPath}: every entry must be an object`);
      const type = typeof m.type === 'string' ? m.type.replace(/^sentence_transformers\.models\./, '') : m.type;
      const mdir = inside(dir, m.path ?? '', modulesPath);
      if (stage === 'transformer') {
        if (type !== 'Transformer') throw bad(`${modulesPath}: the first module must be a Transformer; found ${JSON.stringify(m.type)}`);
        transformerDir = mdir;
        stage = 'pooling';
      } else if (stage === 'pooling') {
        if (type !== 'Pooling') throw bad(`${modulesPath}: the Transformer must be followed by Pooling; found ${JSON.stringify(m.type)}`);
        pooling = await readPooling(mdir, files);
        stage = 'post';
      } else {
        post.push(await readModule(m.type, mdir, files, modulesPath));
      }
    }
    if (stage !== 'post') throw bad(`${modulesPath}: no Pooling module follows the Transformer`);
  }
  const stPath = join(transformerDir, 'sentence_bert_config.json');
  const st = await readJson(stPath, true);
  let maxSeqLength: number | undefined;
  if (st !== undefined) {
    files.push(stPath);
    if (!isObject(st)) throw bad(`${stPath} must hold a JSON object`);
    if (st.max_seq_length !== undefined && st.max_seq_length !== null) {
      if (!Number.isSafeInteger(st.max_seq_length) || (st.max_seq_length as number) < 2)
        throw bad(`${stPath}: max_seq_length must be an integer ≥ 2; found ${JSON.stringify(st.max_seq_length)}`);
      maxSeqLength = st.max_seq_length as number;
    }
  }
  const doLowerCase = isObject(st) && st.do_lower_case === true;
  // tokenizer_config.json is not one of the fingerprinted configFiles: most of it
  // (special-token spellings, class names) does not change a vector, and what does
  // is hashed where it takes effect (jobbert.ts), so fingerprints of models whose
  // tokenizer settings are the defaults stay what they were.
  const tcPath = join(transformerDir, 'tokenizer_config.json');
  const tc = await readJson(tcPath, true);
  if (tc !== undefined && !isObject(tc)) throw bad(`${tcPath} must hold a JSON object`);
  const side = tc?.truncation_side ?? 'right';
  if (side !== 'left' && side !== 'right') throw bad(`${tcPath}: truncation_side must be "left" or "right"; found ${JSON.stringify(side)}`);
  const mml = tc?.model_max_length;
  const modelMaxLength = typeof mml === 'number' && mml >= 2 ? Math.floor(mml) : undefined;
  return { transformerDir, maxSeqLength, doLowerCase, truncationSide: side, modelMaxLength, pooling, post, configFiles: files };
}
