#!/usr/bin/env node
// The `jobbert` executable: see cli/index.ts.
import { main } from './cli/index.js';

// A reader that closes stdout early (`jobbert match … | head`) is not an error:
// what is left to print is dropped (a streaming `normalize` stops), rather than
// an unhandled EPIPE ending the process with a stack trace. Any other failure
// to write (a full disk, `> /dev/full`) ends the run with a one-line ERR_IO.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') return;
  process.stderr.write(`jobbert: ERR_IO: cannot write stdout (${e.code ?? e.message})\n`);
  process.exit(1);
});

process.exitCode = await main(process.argv.slice(2));
