/**
 * `jobbert calibrate`: fits the Normalizer's confidence calibration for a
 * model (a retrained LiteEncoder, JobBERT-V3) and taxonomy from the user's
 * labelled titles, so that its confidence and default threshold mean what
 * the built-in model's do (fit-calibration.ts).
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type CalibrationFigures, type CalibrationFit, fitCalibration, reliabilitySvg } from '../normalize/fit-calibration.js';
import { type OutputTarget, outputTarget, writeFileAtomic } from '../util/output-file.js';
import { parseArgs, UsageError } from './args.js';
import { checkOutput, mustExist, refuseSameFile } from './files.js';
import { modelEncoder } from './model.js';

type Out = (line: string) => void;

/** `jobbert calibrate --titles FILE --out FILE [--svg FILE] [--model DIR] [--taxonomy DIR] [--precision 0.8] [--seed 42] [--json]`. */
export async function calibrateCommand(argv: string[], out: Out): Promise<number> {
  const { options: o, positionals } = parseArgs(argv, {
    options: {
      titles: 'string',
      out: 'string',
      svg: 'string',
      model: 'string',
      taxonomy: 'string',
      precision: 'number',
      seed: 'integer',
      json: 'boolean',
    },
  });
  if (positionals.length) throw new UsageError(`calibrate takes no positional arguments; received '${positionals[0]}'`);
  if (o.titles === undefined) throw new UsageError('calibrate needs --titles FILE (titles labelled with ESCO URIs, as --examples takes)');
  if (o.out === undefined) throw new UsageError('calibrate needs --out FILE (the calibration, for --calibration)');
  const precision = o.precision as number | undefined;
  if (precision !== undefined && !(precision > 0 && precision < 1))
    throw new UsageError(`--precision must be between 0 and 1 (exclusive); received ${precision}`);
  const titles = o.titles as string;
  const output = o.out as string;
  mustExist('titles', titles);
  if (o.taxonomy !== undefined) mustExist('taxonomy', o.taxonomy as string);
  checkOutput('out', output);
  refuseSameFile('out', output, { titles });
  const target = outputTarget('--out', output);
  const svg = o.svg as string | undefined;
  if (svg !== undefined) {
    if (resolve(svg) === resolve(output)) throw new UsageError('--svg and --out name the same file');
    checkOutput('svg', svg);
    refuseSameFile('svg', svg, { titles, out: output });
  }
  const t0 = performance.now();
  const encoder = await modelEncoder(o.model as string | undefined);
  try {
    const fit = await fitCalibration({
      titles,
      encoder,
      taxonomy: o.taxonomy as string | undefined,
      precision,
      seed: o.seed as number | undefined,
    });
    const { calibration } = fit;
    calibration.fit = { ...calibration.fit, command: ['jobbert', 'calibrate', ...argv].join(' ') };
    await writeWhole(target, `${JSON.stringify(calibration, null, 2)}\n`);
    if (svg !== undefined) await writeWhole(outputTarget('--svg', svg), reliabilitySvg(fit));
    const seconds = (performance.now() - t0) / 1000;
    if (o.json)
      out(
        JSON.stringify({
          out: output,
          svg,
          encoder: calibration.encoder,
          ...fitFigures(fit),
          unknownUris: fit.unknownUris,
          seconds,
        }),
      );
    else {
      out(`calibration for ${calibration.encoder} → ${output}${svg === undefined ? '' : ` and ${svg}`} (${seconds.toFixed(1)} s)`);
      for (const l of fitTable(fit)) out(l);
      if (fit.unknownUris) out(`${fit.unknownUris} title(s) name a URI the taxonomy does not hold: counted as wrong answers`);
    }
  } finally {
    await encoder.dispose();
  }
  return 0;
}

/** Writes `text` to an output whole: a file through a temporary renamed over it, a FIFO or device as it is. */
function writeWhole(target: OutputTarget, text: string): Promise<void> {
  return target.inPlace ? writeFile(target.path, text) : writeFileAtomic(target.path, text);
}

/** A fit's thresholds and held-out figures, as `--json` gives them (calibrate, adapt --hold-out). */
export function fitFigures(fit: CalibrationFit) {
  const brief = (f: CalibrationFigures) => ({
    titles: f.titles,
    accuracy: f.accuracy,
    ece: f.ece,
    precision: f.precision,
    coverage: f.coverage,
  });
  return {
    thresholds: { zeroShot: fit.calibration.zeroShot.threshold, examples: fit.calibration.examples.threshold },
    zeroShot: brief(fit.zeroShot),
    examples: brief(fit.examples),
  };
}

/** A fit's held-out figures as a table of lines (calibrate, adapt --hold-out). */
export function fitTable(fit: CalibrationFit): string[] {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const line = (name: string, f: CalibrationFigures, threshold: number) =>
    `${name.padEnd(14)} ${String(f.titles).padStart(7)}  ${pct(f.accuracy).padStart(8)}  ${f.ece.toFixed(4)}  ${threshold.toFixed(4).padStart(9)}  ${pct(f.precision).padStart(9)}  ${pct(f.coverage).padStart(8)}`;
  return [
    'held-out half   titles  right@1  ECE     threshold  precision  coverage',
    line('zero-shot', fit.zeroShot, fit.calibration.zeroShot.threshold),
    line('with examples', fit.examples, fit.calibration.examples.threshold),
  ];
}
