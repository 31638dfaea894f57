/**
 * SSH engine benchmark on real sshd light hosts (network namespaces on a private bridge; needs root).
 * For 4 and for 30 hosts, a fresh pool connects to every host and runs a batch: N small commands per
 * host (one after the other, as a task engine does) plus one upload (stat + atomic write), hosts in
 * parallel. Prints hosts, commands, wall time, commands/s, connect time, peak RSS, and the
 * 30-host/4-host wall-time ratio (target ≤ 2×).
 * Run: `npx vite-node bench/ssh.ts [--hosts 4,30] [--commands 10] [--rounds 3]`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canRunHosts, startSshHosts } from '../test/hosts/index.js';
import { SshPool, targetsFromSshConfig, type HostTarget } from '../src/ssh/index.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const sizes = arg('hosts', '4,30')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const perHost = Number(arg('commands', '10'));
const rounds = Number(arg('rounds', '3'));

interface Run {
  hosts: number;
  commands: number;
  wallMs: number;
  connectMs: number;
  peakRssMb: number;
  failures: number;
}

async function batch(targets: HostTarget[], knownHostsPath: string): Promise<Run> {
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const pool = new SshPool({ knownHostsPath, retries: 2 });
  const t0 = performance.now();
  let connectedAt = 0;
  let connected = 0;
  let commands = 0;
  const content = 'kind: KubeletConfiguration\n' + 'x'.repeat(4096);
  const out = await pool.forEachHost(targets, async (c) => {
    if (++connected === targets.length) connectedAt = performance.now();
    for (let i = 0; i < perHost; i++) {
      const r = await c.exec(i % 3 === 0 ? `cat /proc/loadavg` : i % 3 === 1 ? `test -d /etc && echo ${i}` : `uname -r`);
      if (r.exitCode !== 0) throw new Error(`command ${i} failed: ${r.stderr}`);
      commands++;
    }
    await c.upload({ path: `/tmp/kcore-bench/${c.target.name}.yaml`, content: `${content}${Date.now()}\n`, mode: 0o644 });
    commands++;
  });
  const wallMs = performance.now() - t0;
  await pool.closeAll();
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  const failures = out.filter((o) => o.error);
  for (const f of failures.slice(0, 3)) console.error(`  ${f.target.name}: ${f.error?.message}`);
  return { hosts: targets.length, commands, wallMs, connectMs: connectedAt - t0, peakRssMb: peak / 1024 / 1024, failures: failures.length };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const can = await canRunHosts();
  if (!can.ok) throw new Error(`light hosts cannot run here: ${can.reason}`);
  const max = Math.max(...sizes);
  const work = mkdtempSync(join(tmpdir(), 'kcore-bench-ssh-'));
  const tStart = performance.now();
  const hosts = await startSshHosts({ count: max, sudo: 'nopasswd' });
  console.log(`${max} light hosts up in ${((performance.now() - tStart) / 1000).toFixed(1)} s on ${hosts.prefix}.0/24`);
  try {
    const all = targetsFromSshConfig(readFileSync(hosts.sshConfigPath, 'utf8'));
    // Record the host keys once (first contact), so every measured round only verifies them.
    const warm = new SshPool({ knownHostsPath: join(work, 'known_hosts') });
    await warm.forEachHost(all, async (c) => c.exec('mkdir -p /tmp/kcore-bench'));
    await warm.closeAll();

    const results = new Map<number, Run>();
    console.log(`\n${perHost} commands + 1 upload per host, hosts in parallel, median of ${rounds} rounds (fresh pool each round)\n`);
    console.log('hosts  commands  wall (s)  commands/s  connect (s)  peak RSS (MiB)  failures');
    for (const n of sizes) {
      const runs: Run[] = [];
      for (let r = 0; r < rounds; r++) runs.push(await batch(all.slice(0, n), join(work, 'known_hosts')));
      const m: Run = {
        hosts: n,
        commands: runs[0]!.commands,
        wallMs: median(runs.map((x) => x.wallMs)),
        connectMs: median(runs.map((x) => x.connectMs)),
        peakRssMb: Math.max(...runs.map((x) => x.peakRssMb)),
        failures: runs.reduce((a, x) => a + x.failures, 0),
      };
      results.set(n, m);
      console.log(
        [
          String(m.hosts).padStart(5),
          String(m.commands).padStart(9),
          (m.wallMs / 1000).toFixed(2).padStart(9),
          ((m.commands / m.wallMs) * 1000).toFixed(0).padStart(11),
          (m.connectMs / 1000).toFixed(2).padStart(12),
          m.peakRssMb.toFixed(0).padStart(15),
          String(m.failures).padStart(9),
        ].join(' '),
      );
    }
    const small = results.get(Math.min(...sizes));
    const big = results.get(max);
    if (small && big && small !== big) {
      const ratio = big.wallMs / small.wallMs;
      console.log(`\nwall time ${big.hosts} hosts / ${small.hosts} hosts: ${ratio.toFixed(2)}× (target ≤ 2×) ${ratio <= 2 ? 'OK' : 'OVER TARGET'}`);
    }
    console.log(`process peak RSS (whole run, including host start-up): ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
  } finally {
    await hosts.teardown();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
