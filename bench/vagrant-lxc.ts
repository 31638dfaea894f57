/**
 * How long the vagrant-lxc path takes on this machine: lxc box build (warm: from the cache; cold with
 * --cold, which rebuilds it), `up --machines-only` of 6 containers (3 etcd, 1 master, 2 workers),
 * a second up on the running machines, and `destroy --yes`. Needs root, vagrant, vagrant-lxc, lxc,
 * debootstrap. Run: `npx vite-node bench/vagrant-lxc.ts [--cold]`. Everything it creates is recorded
 * by exact name and removed at the end, also on failure.
 *
 * Figures measured so far are in bench/vagrant-lxc.md.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { kcore, jsonLines } from '../test/e2e/cli.js';
import { reapStaleE2eRuns, saveE2eState, teardownE2e, type E2eState } from '../test/e2e/lxc-cleanup.js';

const cold = process.argv.includes('--cold');
const id = randomBytes(3).toString('hex');
const name = `bench${id}`;
const root = mkdtempSync(path.join(tmpdir(), 'kcore-e2e-'));
const ws = path.join(root, 'cluster');
const machines = ['etcd-01', 'etcd-02', 'etcd-03', 'kube-master-01', 'kube-worker-01', 'kube-worker-02'];
const state: E2eState = { id, owner: process.pid, workspace: ws, containers: machines.map((m) => `${name}-${m}`), bridge: `kc-${name}`.slice(0, 15) };
const used = execFileSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' });
let prefix = '';
for (let i = 0; i < 64 && !prefix; i++) {
  const p = `10.216.${randomInt(1, 255)}`;
  if (!used.includes(`${p}.`)) prefix = p;
}

const figures: Record<string, string> = {};
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
async function step(label: string, argv: string[]) {
  const r = await kcore(argv);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${r.code}:\n${r.stderr}${r.stdout.slice(-3000)}`);
  figures[label] = s(r.ms);
  return r;
}

reapStaleE2eRuns();
saveE2eState(state);
try {
  await step(cold ? 'box build (cold)' : 'box build (warm)', ['box', 'build', '--provider', 'lxc', ...(cold ? ['--rebuild'] : [])]);
  await step('init', ['init', ws, '--provider', 'lxc', '--name', name, '--etcd', '3', '--masters', '1', '--workers', '2', '--prefix', prefix]);
  const up = await step('up --machines-only, 6 new containers', ['up', ws, '--yes', '--machines-only', '--output', 'json']);
  const res = jsonLines(up.stdout).find((l) => l.type === 'up-result') as { timings: Record<string, number> };
  for (const [k, v] of Object.entries(res.timings)) figures[`  phase ${k}`] = s(v);
  const t0 = performance.now();
  for (const m of machines) execFileSync('ssh', ['-F', path.join(ws, 'ssh.config'), '-o', 'BatchMode=yes', m, 'true'], { timeout: 30_000 });
  figures['ssh into all 6 (real ssh, sequential)'] = s(performance.now() - t0);
  await step('up again (all running)', ['up', ws, '--yes', '--machines-only']);
  await step('destroy --yes (6 containers)', ['destroy', ws, '--yes']);
} finally {
  const left = teardownE2e(state);
  rmSync(root, { recursive: true, force: true });
  const w = Math.max(...Object.keys(figures).map((k) => k.length));
  for (const [k, v] of Object.entries(figures)) process.stdout.write(`${k.padEnd(w)}  ${v}\n`);
  if (left.length) process.stdout.write(`LEFT BEHIND: ${left.join(', ')}\n`);
}
