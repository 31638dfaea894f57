/**
 * Start-up of the CLI as shipped: `--version` and the wizard's first frame (a pseudo-terminal via util-linux
 * script(1), 120×40, from spawn to "1/8 Workspace" on screen), the same measurement as bench/ansible-vs-kcore.ts,
 * alone. Run: `npx vite-node bench/cli-start.ts [--bin bin/kcore-wizard.js] [--runs 5]` (needs `npm run build`).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { wizardFirstFrame } from './first-frame.js';

const argOf = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const BIN = path.resolve(argOf('bin') ?? 'bin/kcore-wizard.js');
const runs = Number(argOf('runs') ?? 5);


const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const timed = (args: string[]) => {
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return performance.now() - t;
};

const base: number[] = [];
const version: number[] = [];
const help: number[] = [];
const frames: number[] = [];
const dir = mkdtempSync(path.join(os.tmpdir(), 'kc-start-'));
try {
  for (let i = 0; i < runs; i++) {
    base.push(timed(['-e', '0']));
    version.push(timed([BIN, '--version']));
    help.push(timed([BIN, 'converge', '--help']));
    frames.push(await wizardFirstFrame(BIN, dir));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const f = (xs: number[]) => `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;
console.log(`${path.relative('.', BIN)}, ${runs} runs, load ${os.loadavg()[0]!.toFixed(2)}:
  node -e 0          ${f(base)}
  --version          ${f(version)}
  converge --help    ${f(help)}
  wizard first frame ${f(frames)}`);
