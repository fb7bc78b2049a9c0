/**
 * LiteEncoder speed, beside TfIdfEncoder in the same run:
 *   node --import tsx bench/lite.ts
 * - encoding throughput on ONE core (kernels.configure({ threads: 1 })), titles/s,
 *   batches of 1,000 real-looking titles (the built-in catalogue in 4 languages), by
 *   wall time (Benchmark.js) and by the process's CPU time (steadier on a shared machine);
 *   JOBBERT_LITE_BASELINE=DIR adds another LiteEncoder model's row (before/after a retrain);
 * - building a MatchIndex over all ESCO labels (en/de/es, ~60k) with the default
 *   model (all cores), when ../shared/data is present (JOBBERT_DATA overrides);
 *   else over 60k synthetic titles made from the catalogue.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { catalogueEntries } from '../src/catalogue/index.js';
import * as kernels from '../src/kernels/index.js';
import { LiteEncoder } from '../src/lite/encoder.js';
import { readOccupations } from '../src/lite/esco.js';
import { MatchIndex } from '../src/match/match-index.js';
import { TfIdfEncoder } from '../src/encoders/tfidf.js';
import { printTable, ratio, time } from './common.js';

export async function benchLite(): Promise<void> {
  const titles = catalogueEntries().map((e) => e.text);
  const batch = Array.from({ length: 1000 }, (_, i) => titles[(i * 7919) % titles.length]);
  const lite = await LiteEncoder.load();
  const tfidf = TfIdfEncoder.fit(titles, { dim: 4096 });
  const before = kernels.info().threads;
  kernels.configure({ threads: 1 });
  const tl = await time('lite', () => lite.encode(batch), { maxTime: 3 });
  const tt = await time('tfidf', () => tfidf.encode(batch), { maxTime: 3 });
  // JOBBERT_LITE_BASELINE=DIR: another LiteEncoder model (e.g. the previous default) timed in the same run.
  const baselineDir = process.env.JOBBERT_LITE_BASELINE;
  const baseline = baselineDir ? await LiteEncoder.load(baselineDir) : null;
  const tb = baseline ? await time('lite-baseline', () => baseline.encode(batch), { maxTime: 3 }) : null;
  // Titles per second of this process's CPU time (user + system, all its threads): on a shared
  // machine, the time other processes take from ours does not count against us.
  const perCpuSecond = async (encode: () => Promise<unknown>, calls: number) => {
    let best = 0;
    for (let round = 0; round < 3; round++) {
      const c0 = process.cpuUsage();
      for (let i = 0; i < calls; i++) await encode();
      const c = process.cpuUsage(c0);
      best = Math.max(best, (calls * batch.length) / ((c.user + c.system) / 1e6));
    }
    return best;
  };
  const lcpu = await perCpuSecond(() => lite.encode(batch), 200);
  const tcpu = await perCpuSecond(() => tfidf.encode(batch), 30);
  kernels.configure({ threads: before });
  const lps = batch.length / tl.seconds;
  const tps = batch.length / tt.seconds;
  const speedRows: Record<string, string | number>[] = [
    {
      encoder: `LiteEncoder (dim ${lite.dim})`,
      'titles/s': lps,
      '±%': tl.rme.toFixed(1),
      'vs TF-IDF': ratio(lps, tps),
      'titles per CPU-second': lcpu,
      'vs TF-IDF, CPU time': ratio(lcpu, tcpu),
    },
    {
      encoder: 'TfIdfEncoder (dim 4096)',
      'titles/s': tps,
      '±%': tt.rme.toFixed(1),
      'vs TF-IDF': '×1.00',
      'titles per CPU-second': tcpu,
      'vs TF-IDF, CPU time': '×1.00',
    },
  ];
  if (baseline && tb) {
    const bps = batch.length / tb.seconds;
    speedRows.push({
      encoder: `LiteEncoder ${baselineDir} (dim ${baseline.dim})`,
      'titles/s': bps,
      '±%': tb.rme.toFixed(1),
      'vs TF-IDF': ratio(bps, tps),
      'titles per CPU-second': '',
      'vs TF-IDF, CPU time': '',
    });
    await baseline.dispose();
  }
  printTable('Encoding on one core (batches of 1,000 titles)', speedRows);

  const data = process.env.JOBBERT_DATA ?? join(import.meta.dirname, '..', '..', 'shared', 'data');
  const entries: { id: string; text: string }[] = [];
  let what: string;
  if (existsSync(join(data, 'esco', 'en'))) {
    for (const lang of ['en', 'de', 'es'])
      for (const o of await readOccupations(join(data, 'esco'), lang))
        [o.preferred, ...o.alt].forEach((l, n) => entries.push({ id: `${o.uri}#${lang}${n}`, text: l }));
    what = `all ESCO labels en/de/es (${entries.length})`;
  } else {
    for (let i = 0; entries.length < 60000; i++)
      entries.push({ id: String(i), text: `${titles[i % titles.length]} ${titles[(i * 31) % titles.length].split(' ')[0]}` });
    what = `${entries.length} synthetic titles (../shared/data absent)`;
  }
  const rows = [];
  for (const [name, enc] of [
    ['LiteEncoder', lite],
    [
      'TfIdfEncoder (dim 4096)',
      TfIdfEncoder.fit(
        entries.map((e) => e.text),
        { dim: 4096 },
      ),
    ],
  ] as const) {
    const t0 = performance.now();
    const index = await MatchIndex.build(enc, entries);
    const seconds = (performance.now() - t0) / 1000;
    await index.dispose();
    rows.push({ encoder: name, entries: entries.length, 'build s': seconds.toFixed(2) });
  }
  printTable(`MatchIndex.build over ${what}, ${kernels.info().threads} threads`, rows);
  await lite.dispose();
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await benchLite();
