#!/usr/bin/env node
// Thin launcher: the CLI bundled by esbuild into dist/cli/ (`npm run build`, which `npm ci` runs through
// `prepare`; scripts/build.mjs). Commands and the wizard's later steps are chunks loaded on demand.
import { runCli } from '../dist/cli/cli.js';

// 'beforeExit' comes once the event loop has nothing left to do: every write, child and timer that keeps the
// process alive is done, exactly when Node would end on its own. Exiting there (with process.exitCode) skips
// only the teardown of Node's environment and V8's heap, 15–30 ms of every command here (hyperfine, `test`
// on 3 hosts, 2 cores); what is still unref'd (a closing SSH socket) is dropped as a natural end drops it.
process.once('beforeExit', () => process.exit());

void runCli(process.argv.slice(2));
