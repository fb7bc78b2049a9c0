/**
 * The `jobbert` command line. Exit status: 0 success, 1 failure (a
 * JobBERTError or I/O error, printed as `jobbert: CODE: message`), 2 usage.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from './args.js';
import { JobBERTError } from '../errors.js';
import { commandUsage, USAGE } from './usage.js';

/** Whether argv (a command's arguments) asks for help: --help or -h before any `--`. */
function asksForHelp(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function info(rest: string[], out: (s: string) => void): Promise<number> {
  const i = (await import('../kernels/index.js')).info();
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
        return await info(rest, out);
      case 'index':
        return rest[0] === 'publish'
          ? await (await import('./cluster.js')).indexPublishCommand(rest.slice(1), out)
          : await (await import('./commands.js')).indexCommand(rest, out);
      case 'match':
        return await (await import('./commands.js')).matchCommand(rest, out);
      case 'normalize':
        // On the real CLI results go to stdout in whole chunks and progress to stderr
        // (a bar on a TTY); otherwise through `out` and `err`, line by line.
        return await (await import('./normalize.js')).normalizeCommand(rest, out, {
          progress: err === console.error ? process.stderr : { write: (s: string) => err(s.replace(/\n$/, '')) },
          stdout: out === console.log ? process.stdout : undefined,
        });
      case 'calibrate':
        return await (await import('./calibrate.js')).calibrateCommand(rest, out);
      case 'adapt':
        return await (await import('./adapt.js')).adaptCommand(rest, out);
      case 'demo':
        return await (await import('./demo.js')).demoCommand(rest, out);
      case 'convert':
        return await (await import('./model-commands.js')).convertCommand(rest, out);
      case 'download':
        return await (await import('./model-commands.js')).downloadCommand(rest, out);
      case 'encode':
        return await (await import('./model-commands.js')).encodeCommand(rest, out);
      case 'train':
        return await (await import('./train.js')).trainCommand(rest, out);
      case 'eval':
        return await (await import('./commands.js')).evalCommand(rest, out);
      case 'serve':
        return await (await import('./serve.js')).serveCommand(rest, out, err);
      case 'worker':
        return await (await import('./cluster.js')).workerCommand(rest, out, err);
      case 'batch':
        return await (await import('./cluster.js')).batchCommand(rest, out, err);
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
