/**
 * `jobbert train`: a progress bar with loss, pairs/s and ETA on a terminal;
 * JSON Lines (one object per step and per milestone) when the output is not
 * a terminal or --json is given.
 */
import { JobBERTError } from '../errors.js';
import { UsageError, parseArgs } from './args.js';
import { clock } from './clock.js';
import { isLiteModel } from '../lite/io.js';
import type { Device } from '../kernels/index.js';
import { train, type TrainEvent, type TrainOptions, type TrainProgress } from '../train/index.js';

type Out = (line: string) => void;

/** Where live progress goes (process.stderr by default). */
export interface TrainProgressSink {
  isTTY?: boolean;
  write(s: string): unknown;
}

const SPEC = {
  options: {
    model: 'string',
    encoder: 'string',
    data: 'string',
    out: 'string',
    epochs: 'integer',
    'batch-size': 'integer',
    lr: 'number',
    'weight-decay': 'number',
    'warmup-steps': 'integer',
    scale: 'number',
    symmetric: 'boolean',
    seed: 'integer',
    device: 'string',
    'checkpoint-every': 'integer',
    resume: 'boolean',
    validation: 'string',
    'validate-every': 'integer',
    'min-skills': 'integer',
    'max-grad-norm': 'number',
    'cache-dir': 'string',
    'keep-checkpoints': 'integer',
    'keep-duplicates': 'boolean',
    json: 'boolean',
  },
} as const;

/** `jobbert train …`; resolves to the exit status. Rejects with UsageError for bad arguments and what train() rejects with. */
export async function trainCommand(argv: string[], out: Out, progress: TrainProgressSink = process.stderr): Promise<number> {
  const { options, positionals } = parseArgs(argv, { options: { ...SPEC.options } });
  if (positionals.length) throw new UsageError(`train takes no positional arguments; received '${positionals[0]}'`);
  const encoder = options.encoder as string | undefined;
  if (encoder !== undefined && encoder !== 'jobbert' && encoder !== 'lite')
    throw new UsageError(`--encoder must be jobbert or lite; received '${encoder}'`);
  if (!options.data || !options.out) throw new UsageError('train needs --data FILE and --out DIR');
  if (!options.model && encoder !== 'lite')
    throw new UsageError('train needs --model DIR (a sentence-transformers model such as JobBERT-v3), or --encoder lite');
  const device = options.device as string | undefined;
  if (device !== undefined && !['cpu', 'cuda', 'auto'].includes(device))
    throw new UsageError(`--device must be cpu, cuda or auto; received '${device}'`);

  // (Its default batch size, for the ETA: a LiteEncoder's is 256, JobBERT's 2,048.)
  const lite = encoder === 'lite' || (typeof options.model === 'string' && isLiteModel(options.model));
  const bar = Boolean(progress.isTTY) && !options.json;
  const json = (v: Record<string, unknown>) => out(JSON.stringify(v));
  const t0 = performance.now();
  let drawn = false;
  const clear = () => {
    if (drawn) progress.write('\r\x1b[2K');
    drawn = false;
  };
  let lastDraw = 0;
  const onProgress = (p: TrainProgress) => {
    const eta =
      p.pairsPerSecond > 0
        ? ((p.steps - p.step) * ((options.batchSize as number | undefined) ?? (lite ? 256 : 2048))) / p.pairsPerSecond
        : Infinity;
    if (!bar) {
      json({
        event: 'step',
        step: p.step,
        steps: p.steps,
        loss: p.loss,
        pairsPerSecond: Math.round(p.pairsPerSecond * 10) / 10,
        etaSeconds: Math.round(eta),
      });
      return;
    }
    const now = performance.now();
    if (p.step < p.steps && now - lastDraw < 100) return;
    lastDraw = now;
    const width = 24;
    const filled = Math.round((p.step / p.steps) * width);
    progress.write(
      `\r\x1b[2Kstep ${p.step}/${p.steps} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] loss ${p.loss.toFixed(4)}  ${p.pairsPerSecond.toFixed(0)} pairs/s  ETA ${clock(eta)}`,
    );
    drawn = true;
  };
  const onEvent = (e: TrainEvent) => {
    if (!bar) {
      const { type, ...rest } = e;
      json({ event: type, ...rest });
      return;
    }
    clear();
    if (e.type === 'data') {
      const s = e.stats;
      const langs = Object.entries(s.languages)
        .map(([l, n]) => `${l || '-'} ${n}`)
        .join(', ');
      out(
        `pairs: ${s.pairs} kept of ${s.lines} (dropped: ${s.shortAnchors} short anchors, ${s.fewSkills} with too few skills, ${s.duplicates} duplicates${s.noWords ? `, ${s.noWords} with a side that has no letter or digit` : ''}); languages: ${langs}; ${e.texts} unique texts`,
      );
    } else if (e.type === 'encode') {
      if (e.done === 0)
        out(e.total === 0 ? `base embeddings: all ${e.cached} cached` : `base embeddings: encoding ${e.total} texts (${e.cached} cached)`);
      else {
        progress.write(`\r\x1b[2Kencoding ${e.done}/${e.total}`);
        drawn = true;
        if (e.done === e.total) clear();
      }
    } else if (e.type === 'resume') out(`resuming at step ${e.step} from ${e.dir}`);
    else if (e.type === 'checkpoint') out(`checkpoint: ${e.dir}`);
    else if (e.type === 'validation')
      out(`validation at step ${e.step}: MAP ${e.map.toFixed(4)} (MRR ${e.metrics.mrr.toFixed(4)}, P@5 ${e.metrics.p5.toFixed(4)})`);
  };

  // The options are checked before the first event: a TypeError/RangeError after it is not the user's usage
  // (it was shown as one, with the usage text, after a whole run).
  let started = false;
  const opts: TrainOptions = {
    data: options.data as string,
    out: options.out as string,
    onProgress: (p) => ((started = true), onProgress(p)),
    onEvent: (e) => ((started = true), onEvent(e)),
  };
  const copy = [
    'model',
    'epochs',
    'batchSize',
    'lr',
    'weightDecay',
    'warmupSteps',
    'scale',
    'symmetric',
    'seed',
    'checkpointEvery',
    'resume',
    'validation',
    'validateEvery',
    'minSkills',
    'maxGradNorm',
    'cacheDir',
    'keepCheckpoints',
    'keepDuplicates',
  ] as const;
  for (const k of copy) if (options[k] !== undefined) (opts as unknown as Record<string, unknown>)[k] = options[k];
  if (encoder !== undefined) opts.encoder = encoder as 'jobbert' | 'lite';
  if (device !== undefined) opts.device = device as Device;
  let result;
  try {
    result = await train(opts);
  } catch (e) {
    clear();
    if (!(e instanceof TypeError || e instanceof RangeError)) throw e;
    if (started) throw new JobBERTError('ERR_INTERNAL', e.message, { cause: e });
    throw new UsageError(e.message);
  }
  clear();
  const seconds = (performance.now() - t0) / 1000;
  const last = result.losses.at(-1);
  if (!bar) json({ event: 'done', steps: result.steps, out: result.out, loss: last ?? null, seconds: Math.round(seconds * 100) / 100 });
  else
    out(
      `trained ${result.steps} steps in ${clock(seconds)} → ${result.out} (final loss ${last === undefined ? 'n/a' : last.toFixed(4)}; curve in loss.svg)`,
    );
  return 0;
}
