/**
 * The `jobbert` command line. Exit status: 0 success, 1 failure (a
 * JobBERTError or I/O error, printed as `jobbert: CODE: message`), 2 usage.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from './args.js';
import { evalCommand, indexCommand, matchCommand } from './commands.js';
import { JobBERTError } from '../errors.js';
import { demoCommand } from './demo.js';
import { convertCommand, downloadCommand, encodeCommand, MODEL_USAGE } from './model-commands.js';
import { TRAIN_USAGE, trainCommand } from './train.js';
import * as kernels from '../kernels/index.js';
import { SERVE_USAGE, serveCommand } from './serve.js';
import { NORMALIZE_USAGE, normalizeCommand } from './normalize.js';
import { batchCommand, CLUSTER_USAGE, indexPublishCommand, workerCommand } from './cluster.js';

const USAGE = `Usage: jobbert <command> [options]

Commands:
${NORMALIZE_USAGE}
  demo [--k 3] [--json]
                       match a few titles in en/de/es/zh against the built-in catalogue
  match QUERY... [--index FILE | --corpus FILE | --esco DIR] [--k 5] [--lang L] [--json]
                       the best entries for each query (default: the built-in catalogue
                       and the default model); --corpus takes --id-column/--text-column
  index build --input FILE --out FILE [--lang L] [--id-column NAME] [--text-column NAME] [--json]
                       encode entries (TSV or CSV with a header: id, text[, lang]; or JSON Lines) and save an index
  index search FILE QUERY... [--k 10] [--lang L] [--json]
                       search a saved index
  eval talentclef-a --data DIR [--lang en] [--run FILE] [--json]
                       TalentCLEF 2025 Task A metrics (MAP, MRR, nDCG, P@k), optionally writing a TREC run
  eval talentclef-a --queries DIR --corpus DIR --qrels FILE [--run FILE] [--json]
                       the same for a cross-lingual pair (queries from one folder, corpus from another)
${MODEL_USAGE}
${TRAIN_USAGE}
${SERVE_USAGE}
${CLUSTER_USAGE}
  info [--json]        the native backends, CPU instruction set and threads in use
  help [COMMAND]       this text, or one command's (also: jobbert COMMAND --help)

Encoders (index build, match --corpus, eval): --encoder lite (the built-in model, the
default) | tfidf (character n-gram TF-IDF fitted on the corpus), or --model DIR (a
JobBERT-V3 / sentence-transformers or LiteEncoder directory). Options: --version`;

/**
 * The usage of one command: its entries in USAGE (every `index …` form for
 * `index`), with the paragraph on encoders for the commands that take one;
 * null for a command it does not know.
 */
export function commandUsage(command: string): string | null {
  const lines = USAGE.split('\n');
  const entries: string[] = [];
  let inEntry = false;
  for (const line of lines) {
    const head = /^ {2}(\S+)/.exec(line);
    if (head) inEntry = head[1] === command;
    else if (!/^ {3,}/.test(line)) inEntry = false;
    if (inEntry) entries.push(line);
  }
  if (entries.length === 0) return null;
  const encoders = ['index', 'match', 'eval'].includes(command) ? `\n\n${USAGE.slice(USAGE.indexOf('Encoders ('))}` : '';
  return `Usage: jobbert ${command} [options]\n\n${entries.join('\n')}${encoders}`;
}

/** Whether argv (a command's arguments) asks for help: --help or -h before any `--`. */
function asksForHelp(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function info(rest: string[], out: (s: string) => void): number {
  const i = kernels.info();
  if (rest.includes('--json')) {
    out(JSON.stringify({ version: version(), ...i }));
  } else {
    out(`jobbert ${version()}`);
    out(`backends      ${i.backends.join(', ')}`);
    out(`cpu isa       ${i.isa} (available: ${i.isas.join(', ')})`);
    out(`threads       ${i.threads}`);
    out(`cuda devices  ${i.cudaDevices.length ? i.cudaDevices.join('; ') : 'none'}`);
    out(`cuda          ${i.cudaStatus ? `unavailable: ${i.cudaStatus}` : "ready (device 'auto' uses it)"}`);
  }
  return 0;
}

/** Runs one CLI invocation; resolves to the exit status. */
export async function main(
  argv: string[],
  out: (s: string) => void = console.log,
  err: (s: string) => void = console.error,
): Promise<number> {
  const [command, ...rest] = argv;
  try {
    const usage = command === undefined ? null : commandUsage(command);
    if (usage !== null && asksForHelp(rest)) {
      out(usage);
      return 0;
    }
    switch (command) {
      case '--version':
      case '-v':
        out(version());
        return 0;
      case undefined:
      case '--help':
      case '-h':
        out(USAGE);
        return 0;
      case 'help': {
        const of = rest[0] === undefined ? USAGE : commandUsage(rest[0]);
        if (of === null) throw new UsageError(`unknown command '${rest[0]}'`);
        out(of);
        return 0;
      }
      case 'info':
        return info(rest, out);
      case 'index':
        return rest[0] === 'publish' ? await indexPublishCommand(rest.slice(1), out) : await indexCommand(rest, out);
      case 'match':
        return await matchCommand(rest, out);
      case 'normalize':
        // On the real CLI results go to stdout in whole chunks and progress to stderr
        // (a bar on a TTY); otherwise through `out` and `err`, line by line.
        return await normalizeCommand(rest, out, {
          progress: err === console.error ? process.stderr : { write: (s: string) => err(s.replace(/\n$/, '')) },
          stdout: out === console.log ? process.stdout : undefined,
        });
      case 'demo':
        return await demoCommand(rest, out);
      case 'convert':
        return await convertCommand(rest, out);
      case 'download':
        return await downloadCommand(rest, out);
      case 'encode':
        return await encodeCommand(rest, out);
      case 'train':
        return await trainCommand(rest, out);
      case 'eval':
        return await evalCommand(rest, out);
      case 'serve':
        return await serveCommand(rest, out, err);
      case 'worker':
        return await workerCommand(rest, out, err);
      case 'batch':
        return await batchCommand(rest, out, err);
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      // The command's own usage (the whole list would bury the one line that matters), else every command's.
      const usage = command === undefined ? null : commandUsage(command);
      err(`jobbert: ${e.message}\n\n${usage ?? USAGE}`);
      return 2;
    }
    if (e instanceof JobBERTError) {
      err(`jobbert: ${e.code}: ${e.message}`);
      return 1;
    }
    if (e instanceof TypeError || e instanceof RangeError) {
      err(`jobbert: ${e.message}`);
      return 2;
    }
    throw e;
  }
}
