/**
 * Start-up of the CLI as shipped: `--version` and the wizard's first frame (a pseudo-terminal via util-linux
 * script(1), 120×40, from spawn to "1/8 Workspace" on screen), the same measurement as bench/ansible-vs-kcore.ts,
 * alone. Run: `npx vite-node bench/cli-start.ts [--bin bin/kcore-wizard.js] [--runs 5]` (needs `npm run build`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const argOf = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const BIN = path.resolve(argOf('bin') ?? 'bin/kcore-wizard.js');
const runs = Number(argOf('runs') ?? 5);

function firstFrame(dir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const c = spawn('script', ['-qfec', `stty cols 120 rows 40; exec ${process.execPath} ${BIN} wizard ${dir}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'ignore'], detached: true });
    let out = '';
    const stop = () => {
      clearTimeout(timer);
      try {
        process.kill(-c.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`no wizard frame within 20 s: ${JSON.stringify(out.slice(0, 200))}`));
    }, 20_000);
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      // eslint-disable-next-line no-control-regex
      if (/1\/8 Workspace/.test(out.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ''))) {
        stop();
        resolve(performance.now() - t0);
      }
    });
  });
}

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
    frames.push(await firstFrame(dir));
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
