#!/usr/bin/env node
// Thin launcher: the CLI bundled by esbuild into dist/cli/ (`npm run build`, which `npm ci` runs through
// `prepare`; scripts/build.mjs). Commands and the wizard's later steps are chunks loaded on demand.
import { runCli } from '../dist/cli/cli.js';

void runCli(process.argv.slice(2));
