/**
 * `jobbert adapt`: the built-in model (or another LiteEncoder) trained for a
 * few seconds on the user's labelled titles, rehearsing ESCO's labels
 * (train/adapt.ts); the new model is for --model.
 */
import { adaptLiteEncoder } from '../train/adapt.js';
import { parseArgs, UsageError } from './args.js';
import { fitFigures, fitTable } from './calibrate.js';
import { mustExist } from './files.js';

type Out = (line: string) => void;

/** `jobbert adapt --examples FILE --out DIR [--model DIR] [--taxonomy DIR] [--epochs 2] [--lr 0.002] [--rounds 3] [--seed 42] [--hold-out SHARE] [--json]`. */
export async function adaptCommand(argv: string[], out: Out): Promise<number> {
  const { options: o, positionals } = parseArgs(argv, {
    options: {
      examples: 'string',
      out: 'string',
      model: 'string',
      taxonomy: 'string',
      epochs: 'integer',
      lr: 'number',
      rounds: 'integer',
      seed: 'integer',
      'hold-out': 'number',
      json: 'boolean',
    },
  });
  if (positionals.length) throw new UsageError(`adapt takes no positional arguments; received '${positionals[0]}'`);
  if (o.examples === undefined)
    throw new UsageError('adapt needs --examples FILE (titles labelled with ESCO URIs, as normalize --examples takes)');
  if (o.out === undefined) throw new UsageError('adapt needs --out DIR (the new model, for --model)');
  mustExist('examples', o.examples as string);
  for (const name of ['model', 'taxonomy'] as const) if (o[name] !== undefined) mustExist(name, o[name] as string);
  const t0 = performance.now();
  const r = await adaptLiteEncoder({
    examples: o.examples as string,
    out: o.out as string,
    model: o.model as string | undefined,
    taxonomy: o.taxonomy as string | undefined,
    epochs: o.epochs as number | undefined,
    lr: o.lr as number | undefined,
    rounds: o.rounds as number | undefined,
    seed: o.seed as number | undefined,
    holdOut: o.holdOut as number | undefined,
  });
  const seconds = (performance.now() - t0) / 1000;
  const skipped = r.skippedExamples.length;
  if (o.json)
    out(
      JSON.stringify({
        out: r.out,
        examples: r.examples,
        skipped,
        firstSkipped: r.skippedExamples[0] ?? null,
        pairs: r.pairs,
        steps: r.steps,
        calibration: r.calibration ? { path: r.calibration.path, ...fitFigures(r.calibration.fit) } : null,
        seconds,
      }),
    );
  else {
    out(
      `adapted ${o.model === undefined ? 'the built-in model' : (o.model as string)} to ${r.examples} labelled title(s) in ${seconds.toFixed(1)} s (${r.steps} steps) → ${r.out}`,
    );
    if (skipped)
      out(
        `${skipped} title(s) left out: their URI is not in the taxonomy (the first at line ${r.skippedExamples[0].line}: ${r.skippedExamples[0].uri})`,
      );
    if (r.calibration) {
      const { fit, path } = r.calibration;
      out(`calibration fitted on ${fit.zeroShotAll.titles} held-out title(s), not trained on → ${path}`);
      for (const l of fitTable(fit)) out(l);
      out(`use it with --model ${r.out} --calibration ${path}`);
    } else
      out(
        `use it with --model ${r.out}; give it a calibration of its own (--hold-out 0.2 here, or jobbert calibrate --titles HELD_OUT --model ${r.out} --out FILE with titles it was not adapted on), else its confidence is the raw score`,
      );
  }
  return 0;
}
