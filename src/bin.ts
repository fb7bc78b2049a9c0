#!/usr/bin/env node
// The `jobbert` executable: see cli.ts.
import { main } from './cli/index.js';

process.exitCode = await main(process.argv.slice(2));
