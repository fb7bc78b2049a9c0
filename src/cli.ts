#!/usr/bin/env node
/**
 * The `jobbert` command line. Commands arrive with the features they drive;
 * `jobbert info` reports what the native core can use on this machine.
 */
import { readFileSync } from 'node:fs';
import { kernels } from './index.js';

const USAGE = `Usage: jobbert <command> [options]

Commands:
  info [--json]    the native backends, CPU instruction set and threads in use
  help             this text

Options:
  --version        print the version`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function main(argv: string[]): number {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-v') {
    console.log(version());
    return 0;
  }
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return 0;
  }
  if (command === 'info') {
    const info = kernels.info();
    if (rest.includes('--json')) {
      console.log(JSON.stringify({ version: version(), ...info }));
    } else {
      console.log(`jobbert ${version()}`);
      console.log(`backends      ${info.backends.join(', ')}`);
      console.log(`cpu isa       ${info.isa} (available: ${info.isas.join(', ')})`);
      console.log(`threads       ${info.threads}`);
      console.log(`cuda devices  ${info.cudaDevices.length ? info.cudaDevices.join('; ') : 'none'}`);
    }
    return 0;
  }
  console.error(`jobbert: unknown command '${command}'\n\n${USAGE}`);
  return 2;
}

process.exitCode = main(process.argv.slice(2));
