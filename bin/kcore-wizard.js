#!/usr/bin/env node
// Thin launcher: the CLI bundled by esbuild into dist/cli/ (`npm run build`, which `npm ci` runs through
// `prepare`; scripts/build.mjs). Commands and the wizard's later steps are chunks loaded on demand.
import module from 'node:module';
import { homedir } from 'node:os';
import path from 'node:path';

// Node ≥ 22.8 (module.enableCompileCache) keeps V8's compiled code of every module this process loads (ours,
// ssh2, Ink …) on disk and reuses it while the files are unchanged: each later command skips most of its
// compiling. In the user's cache folder (XDG_CACHE_HOME when it is an absolute path, as the XDG spec says,
// else ~/.cache), not the temp folder: it is meant to outlive the command. Node 20 has no such cache; Node
// itself honours NODE_DISABLE_COMPILE_CACHE (and NODE_COMPILE_CACHE, when set, wins). Best effort: a folder
// it cannot write only means no cache.
try {
  const xdg = process.env.XDG_CACHE_HOME;
  module.enableCompileCache?.(path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(homedir(), '.cache'), 'kcore-wizard', 'node-compile-cache'));
} catch {
  /* no cache */
}

// After the cache is on: a static import would be loaded before this module's body runs.
const { runCli } = await import('../dist/cli/cli.js');

// 'beforeExit' comes once the event loop has nothing left to do: every write, child and timer that keeps the
// process alive is done, exactly when Node would end on its own. Exiting there (with process.exitCode) skips
// only the teardown of Node's environment and V8's heap, 15–30 ms of every command here (hyperfine, `test`
// on 3 hosts, 2 cores); what is still unref'd (a closing SSH socket) is dropped as a natural end drops it.
process.once('beforeExit', () => process.exit());

void runCli(process.argv.slice(2));
