/**
 * The PKI check of a no-op converge: ensurePki over a PKI that already matches its input (nothing to
 * issue), the work the local PKI role does on every converge. Prints the first call in a fresh process
 * (cold: module load excluded, JIT cold — what a CLI run pays) and the median of the warm calls after it.
 * Run: `npx vite-node bench/pki-noop.ts [--nodes 9] [--rounds 5]`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensurePki, type PkiInput } from '../src/pki/index.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}
const nodes = Math.max(arg('nodes', 9), 7);
const rounds = arg('rounds', 5);

const ip = (i: number) => `10.0.${i}.10`;
const input: PkiInput = {
  clusterName: 'bench',
  clusterDomain: 'cluster.local',
  serviceCidr: '10.3.0.0/24',
  etcd: Array.from({ length: 3 }, (_, i) => ({ name: `etcd-${i + 1}`, ip: ip(i) })),
  masters: Array.from({ length: 3 }, (_, i) => ({ name: `master-${i + 1}`, ip: ip(3 + i) })),
  workers: Array.from({ length: nodes - 6 }, (_, i) => ({ name: `worker-${i + 1}`, ip: ip(6 + i) })),
};

const makeAt = process.argv.indexOf('--make');
if (makeAt >= 0) {
  await ensurePki(process.argv[makeAt + 1]!, input, { caKeyBits: 2048 });
  process.exit(0);
}
const dir = await mkdtemp(path.join(os.tmpdir(), 'kc-pki-noop-'));
try {
  // Built in a child process so this process's first no-op check is cold.
  execFileSync('npx', ['vite-node', import.meta.filename ?? new URL(import.meta.url).pathname, '--', '--make', dir, '--nodes', String(nodes)], { stdio: 'inherit' });
  const times: number[] = [];
  let certs = 0;
  for (let i = 0; i <= rounds; i++) {
    const t = performance.now();
    const r = await ensurePki(dir, input, { caKeyBits: 2048 });
    times.push(performance.now() - t);
    if (r.changed.length > 0) throw new Error(`not a no-op: ${r.changed.join(', ')}`);
    certs = r.kept.length;
  }
  const [cold, ...warm] = times;
  const median = [...warm].sort((a, b) => a - b)[Math.floor(warm.length / 2)]!;
  console.log(`no-op ensurePki, ${nodes} nodes (${certs} certificates and keys): first ${cold!.toFixed(0)} ms, then median ${median.toFixed(0)} ms over ${warm.length}; load ${os.loadavg()[0]!.toFixed(2)}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
