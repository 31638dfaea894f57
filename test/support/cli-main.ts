// The CLI as a real process (real stdout/stderr), run from source by vite-node: what bin/kcore-wizard.js does.
import { runCli } from '../../src/cli.js';

void runCli(process.argv.slice(2));
