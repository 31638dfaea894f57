/**
 * Ansible against kcore-wizard on the etcd role, in one run, alternating, on two identical sets of 3 systemd
 * hosts (systemd-nspawn, Debian bookworm, 2 cores shared):
 *  - Ansible: the anchor in /work/shared/bench/ansible-etcd (copied to /tmp first; its hosts on 10.0.0.0/24,
 *    labbr0; ansible-core from Debian with the anchor's best settings: pipelining, ControlPersist, no facts),
 *    timed "cold" (its ssh masters closed before each run: a fresh process, like every kcore-wizard run);
 *  - kcore-wizard: test/hosts systemd machines on a random 10.213.N.0/24, the real CLI as a fresh process
 *    (`node bin/kcore-wizard.js`, start-up included), etcd from the local Debian mirror (test/support/mirror.ts).
 * Per round: Ansible no-op converge (its 2 smoke tasks included), kcore-wizard no-op converge --limit etcd (its
 * smoke tests included), Ansible --tags test, kcore-wizard test --limit etcd (and, where this machine sets
 * NODE_EXTRA_CA_CERTS, that test once more without it: informational). Then medians and ratios, the
 * per-host round trips (exec lines in .kcore/logs/<host>.log) of a no-op converge and of `test`, and hyperfine's
 * `--version`/`--help` against `node -e 0`.
 * Run (root; ~10+ min): npm run bench:ansible    Env: ROUNDS=6, ANCHOR=<anchor folder>
 * Everything is torn down at the end (the anchor's hosts-down.sh by recorded PIDs; TestHosts.teardown()).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { wizardFirstFrame } from './first-frame.js';
import { startSystemdHosts, type TestHosts } from '../test/hosts/index.js';
import { layoutHosts, specForHosts, workspaceFor } from '../test/support/cluster.js';
import { buildLocalEtcdMirror } from '../test/support/mirror.js';
import { removeScratch } from '../test/support/scratch.js';

const ROUNDS = Number(process.env.ROUNDS ?? 6);
const ANCHOR = process.env.ANCHOR ?? '/work/shared/bench/ansible-etcd';
const COPY = '/tmp/ansible-etcd';
const ANSIBLE_RUN = '/tmp/kcore-bench'; // lab.env RUN: overlays, pids, control sockets
const ROOT = path.resolve(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'bin/kcore-wizard.js');
const LAYOUT = { etcd: 3, 'kube-master': 1, 'kube-worker': 1 };
const ETCD = layoutHosts(LAYOUT).filter((h) => h.group === 'etcd');

interface Run {
  ms: number;
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Run {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { ms: performance.now() - t0, code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

class BenchError extends Error {}
function need(ok: boolean, what: string): void {
  if (!ok) throw new BenchError(what);
}

// The anchor's lab.env reads the Debian mirror from /etc/apt/sources.list under `set -o pipefail`, which fails
// where that file is absent (deb822 sources only): give it the mirror our own rootfs uses (test/hosts/debian-mirror.sh).
const MIRROR = process.env.MIRROR ?? execFileSync('bash', ['-c', `. ${path.join(ROOT, 'test/hosts/debian-mirror.sh')}; mirror`], { encoding: 'utf8' }).trim();
const ansibleEnv = { ...process.env, ANSIBLE_CONFIG: path.join(COPY, 'ansible.cfg'), ANSIBLE_NOCOLOR: '1', MIRROR };

function closeMasters(): void {
  const dir = path.join(ANSIBLE_RUN, 'ansible-cp');
  if (!existsSync(dir)) return;
  for (const s of readdirSync(dir)) spawnSync('ssh', ['-o', `ControlPath=${path.join(dir, s)}`, '-O', 'exit', 'x'], { stdio: 'ignore' });
}

/** One ansible-playbook run; its PLAY RECAP must show every host, nothing failed, and changed=0 when a no-op. */
function ansible(label: string, noop: boolean, extra: string[] = []): number {
  closeMasters();
  const r = run('/usr/bin/ansible-playbook', ['etcd.yml', ...extra], { cwd: COPY, env: ansibleEnv });
  const recap = r.stdout.split('PLAY RECAP').pop() ?? '';
  const rows = new Map([...recap.matchAll(/^(\S+)\s+:\s+(ok=.*)$/gm)].map((m) => [m[1]!, Object.fromEntries([...m[2]!.matchAll(/(\w+)=(\d+)/g)].map((x) => [x[1]!, Number(x[2])]))]));
  const bad = ETCD.filter((h) => {
    const x = rows.get(h.name);
    return !x || x.failed !== 0 || x.unreachable !== 0 || (noop && x.changed !== 0);
  });
  if (r.code !== 0 || bad.length) throw new Error(`ansible ${label}: exit ${r.code}, bad hosts ${bad.map((h) => h.name).join(',')}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
  return r.ms;
}

/** Exec lines per host added to the command log by one kcore-wizard run. */
function logSizes(ws: string): Map<string, number> {
  return new Map(ETCD.map((h) => [h.name, existsSync(logFile(ws, h.name)) ? statSync(logFile(ws, h.name)).size : 0]));
}
const logFile = (ws: string, host: string) => path.join(ws, '.kcore', 'logs', `${host}.log`);
function execsSince(ws: string, before: Map<string, number>): Map<string, number> {
  return new Map(
    ETCD.map((h) => {
      const text = readFileSync(logFile(ws, h.name)).subarray(before.get(h.name) ?? 0).toString('utf8');
      return [h.name, text.split('\n').filter((l) => /^\d{4}-\d\d-\d\dT\S+ (\[sudo\] )?exit=/.test(l)).length];
    }),
  );
}

function kcore(ws: string, label: string, args: string[], expect: RegExp, env: NodeJS.ProcessEnv = process.env): { ms: number; execs: Map<string, number> } {
  const before = logSizes(ws);
  const r = run(process.execPath, [BIN, ...args, '--dir', ws], { env: { ...env, NO_COLOR: '1' } });
  if (r.code !== 0 || !expect.test(r.stdout)) throw new Error(`kcore-wizard ${label}: exit ${r.code}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
  return { ms: r.ms, execs: execsSince(ws, before) };
}


const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const sec = (ms: number) => (ms / 1000).toFixed(2);

let kHosts: TestHosts | undefined;
let ws: string | undefined;
let ansibleUp = false;
function teardownAnsible(): void {
  if (!ansibleUp) return;
  ansibleUp = false;
  closeMasters();
  spawnSync('./hosts-down.sh', [], { cwd: COPY, stdio: 'inherit', env: ansibleEnv });
}
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    teardownAnsible(); // the test hosts tear themselves down on these signals too
    process.exit(130);
  });

async function main(): Promise<void> {
  need(process.getuid?.() === 0, 'needs root (systemd-nspawn hosts)');
  need(existsSync('/usr/bin/ansible-playbook'), "no /usr/bin/ansible-playbook: install Debian's ansible-core (apt-get install -y ansible-core, with a policy-rc.d exiting 101)");
  need(spawnSync('hyperfine', ['--version']).status === 0, 'no hyperfine: apt-get install -y hyperfine');
  need(existsSync(ANCHOR), `no Ansible anchor at ${ANCHOR} (ANCHOR=…)`);
  // The anchor's network is fixed (10.0.0.0/24 on labbr0): refuse to share it with a run already up.
  need(!execFileSync('ip', ['-4', '-o', 'addr'], { encoding: 'utf8' }).includes(' 10.0.0.'), '10.0.0.0/24 is in use on this machine (another anchor run?): the anchor needs it');
  need(!existsSync(path.join(ANSIBLE_RUN, 'ct')), `${ANSIBLE_RUN}/ct exists: another anchor run is up (or was killed); run its hosts-down.sh first`);

  console.log(`== build (dist/ for bin/kcore-wizard.js)`);
  const b = run('npm', ['run', 'build'], { cwd: ROOT });
  need(b.code === 0, `npm run build failed:\n${b.stdout}${b.stderr}`);

  console.log(`== hyperfine: start-up`);
  const hfJson = `/tmp/kcore-bench-hyperfine-${process.pid}.json`;
  const hf = run('hyperfine', ['-N', '-w', '3', '-r', '30', '--export-json', hfJson, 'node -e 0', `node ${BIN} --version`, `node ${BIN} --help`]);
  need(hf.code === 0, `hyperfine failed: ${hf.stderr}`);
  const startup = (JSON.parse(readFileSync(hfJson, 'utf8')) as { results: Array<{ command: string; mean: number; median: number; stddev: number }> }).results;
  rmSync(hfJson, { force: true });

  console.log(`== the wizard's first frame (5 runs)`);
  const wizDir = mkdtempSync(path.join(tmpdir(), 'kcore-bench-wizard-'));
  const frames: number[] = [];
  try {
    for (let i = 0; i < 5; i++) frames.push(await wizardFirstFrame(BIN, wizDir));
  } finally {
    rmSync(wizDir, { recursive: true, force: true });
  }

  console.log(`== Ansible anchor: copy to ${COPY}, hosts up, PKI, first converge`);
  rmSync(COPY, { recursive: true, force: true });
  execFileSync('cp', ['-a', ANCHOR, COPY]);
  rmSync(path.join(COPY, 'results'), { recursive: true, force: true });
  rmSync(path.join(COPY, 'pki'), { recursive: true, force: true });
  ansibleUp = true;
  const up = run('./hosts-up.sh', [], { cwd: COPY, env: ansibleEnv });
  process.stdout.write(up.stdout);
  need(up.code === 0, `anchor hosts-up.sh failed (exit ${up.code}):\n${up.stderr.slice(-3000)}`);
  const pki = run('./gen-pki.sh', [], { cwd: COPY, env: ansibleEnv });
  need(pki.code === 0, `anchor gen-pki.sh failed:\n${pki.stderr.slice(-2000)}`);
  const aFirst = ansible('first converge', false);
  console.log(`   first converge ${sec(aFirst)} s`);

  console.log(`== kcore-wizard: 3 systemd hosts, mirror, first converge`);
  const mirror = await buildLocalEtcdMirror();
  kHosts = await startSystemdHosts({ count: ETCD.length, names: ETCD.map((h) => h.name), ips: ETCD.map((h) => h.octet) });
  console.log(`   hosts on ${kHosts.prefix}.0/24`);
  ws = await workspaceFor(
    specForHosts(kHosts, LAYOUT, (s) => {
      s.versions.etcd = mirror.etcdVersion;
      s.artifacts.source = mirror.dir;
    }),
  );
  const kFirst = kcore(ws, 'first converge', ['converge', '--limit', 'etcd', '--quiet'], /converged: \d+ changed/);
  console.log(`   first converge ${sec(kFirst.ms)} s`);

  const t = { aNoop: [] as number[], kNoop: [] as number[], aSmoke: [] as number[], kSmoke: [] as number[], kSmokeNoExtraCa: [] as number[] };
  // This machine may set NODE_EXTRA_CA_CERTS (a proxy's CA bundle): Node 20 then parses it at every start, before
  // any of our code (node -e 0 ~21 -> ~60 ms here). The series above keep it; one more smoke run per round without
  // it says what a machine without it sees. Informational: the ratios are the series run as this machine is set up.
  const extraCa = process.env.NODE_EXTRA_CA_CERTS;
  const { NODE_EXTRA_CA_CERTS: _dropped, ...envNoExtraCa } = process.env;
  let noopExecs = new Map<string, number>();
  let testExecs = new Map<string, number>();
  console.log(`== ${ROUNDS} rounds, alternating (Ansible cold: its ssh masters closed before each run)`);
  for (let i = 1; i <= ROUNDS; i++) {
    t.aNoop.push(ansible(`no-op ${i}`, true));
    const k = kcore(ws, `no-op ${i}`, ['converge', '--limit', 'etcd', '--quiet'], /converged: 0 changed/);
    t.kNoop.push(k.ms);
    noopExecs = k.execs;
    t.aSmoke.push(ansible(`smoke ${i}`, true, ['--tags', 'test']));
    const s = kcore(ws, `test ${i}`, ['test', '--limit', 'etcd'], /smoke: \d+ passed, 0 failed/);
    t.kSmoke.push(s.ms);
    testExecs = s.execs;
    if (extraCa) t.kSmokeNoExtraCa.push(kcore(ws, `test ${i} without NODE_EXTRA_CA_CERTS`, ['test', '--limit', 'etcd'], /smoke: \d+ passed, 0 failed/, envNoExtraCa).ms);
    console.log(
      `   round ${i}: no-op ansible ${sec(t.aNoop.at(-1)!)} s, kcore ${sec(k.ms)} s | smoke ansible ${sec(t.aSmoke.at(-1)!)} s, kcore ${sec(s.ms)} s${extraCa ? ` (${sec(t.kSmokeNoExtraCa.at(-1)!)} s without NODE_EXTRA_CA_CERTS)` : ''}`,
    );
  }

  const row = (name: string, a: number[], k: number[]) => {
    const r = median(a) / median(k);
    return `${name.padEnd(36)} ${sec(median(a)).padStart(8)} ${sec(median(k)).padStart(10)}   ${r >= 1 ? `${r.toFixed(2)}× faster` : `${(1 / r).toFixed(2)}× slower`}  (min/max ansible ${sec(Math.min(...a))}/${sec(Math.max(...a))}, kcore ${sec(Math.min(...k))}/${sec(Math.max(...k))})`;
  };
  const nodeE = startup.find((r) => r.command === 'node -e 0')!;
  const per = (m: Map<string, number>) => [...m].map(([h, n]) => `${h} ${n}`).join(', ');
  console.log(`
== results: etcd role, 3 hosts each, ${ROUNDS} rounds alternating; medians in s (${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores, load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})
${'series'.padEnd(36)} ${'ansible'.padStart(8)} ${'kcore'.padStart(10)}   kcore-wizard vs Ansible
${row('no-op converge, smoke tests included', t.aNoop, t.kNoop)}
${row('smoke tests only', t.aSmoke, t.kSmoke)}
${extraCa ? `${row('  the same, no NODE_EXTRA_CA_CERTS', t.aSmoke, t.kSmokeNoExtraCa)}  (informational: this machine sets it, and Node parses the bundle at start; run right after the kcore test above, not alternating with Ansible)\n` : ''}${'first converge (once)'.padEnd(36)} ${sec(aFirst).padStart(8)} ${sec(kFirst.ms).padStart(10)}
start-up (hyperfine, mean ± σ, 30 runs):
${startup.map((r) => `   ${r.command.replace(BIN, 'bin/kcore-wizard.js').padEnd(36)} ${(r.mean * 1000).toFixed(1)} ms ± ${(r.stddev * 1000).toFixed(1)}  (${(r.mean / nodeE.mean).toFixed(2)}× node -e 0)`).join('\n')}
the wizard's first frame (pty, spawn to "1/8 Workspace" on screen): median ${median(frames).toFixed(0)} ms (min ${Math.min(...frames).toFixed(0)}, max ${Math.max(...frames).toFixed(0)}, 5 runs)
round trips per host (exec lines in .kcore/logs/<host>.log; Ansible's anchor README: 30 per host for a no-op):
   no-op converge --limit etcd: ${per(noopExecs)}
   test --limit etcd:           ${per(testExecs)}`);
}

try {
  await main();
} catch (e) {
  if (!(e instanceof BenchError)) throw e;
  console.error(`bench: ${e.message}`);
  process.exitCode = 2;
} finally {
  teardownAnsible();
  await kHosts?.teardown();
  if (ws) rmSync(ws, { recursive: true, force: true });
  await removeScratch(); // the etcd mirror
}
