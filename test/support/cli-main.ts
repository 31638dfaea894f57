// The CLI as a real process (real stdout/stderr), run from source by vite-node: what bin/kcore-wizard.js does.
import { main } from '../../src/cli.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`kcore-wizard: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
