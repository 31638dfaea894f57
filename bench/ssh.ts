/**
 * SSH engine benchmark on real sshd light hosts (network namespaces on a private bridge; needs root).
 * For 4 and for 30 hosts, a fresh pool connects to every host and runs a batch: N small commands per
 * host (one after the other, as a task engine does) plus one upload (stat + atomic write), hosts in
 * parallel; then the same batch again on the open connections. Prints hosts, commands, wall time,
 * commands/s, connect time, CPU per command (this process, and sshd's side), peak RSS, and the
 * 30-host/4-host wall-time ratio (target ≤ 2×; on simulated hosts ≤ 3×, the goal for 60 vs 4). The hosts share this machine's cores with the client.
 * Then the same on simulated hosts (ssh2 servers in a child process answering after --latency ms, using no
 * host CPU), 4 and 60 of them: the engine's own scaling, apart from the machine's cores running 30 sshd.
 * Run: `npx vite-node bench/ssh.ts [--hosts 4,30] [--sim-hosts 4,60] [--commands 10] [--rounds 3] [--latency 20] [--no-light] [--no-simulated]`.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { canRunHosts, startSshHosts } from '../test/hosts/index.js';
import { POOL_DEFAULTS, SshPool, targetsFromSshConfig, type HostConnection, type HostTarget } from '../src/ssh/index.js';
import { sshKeyPair } from '../test/support/ssh-keys.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const sizesOf = (list: string) =>
  list
    .split(',')
    .map(Number)
    .filter((n) => n > 0);
const sizes = sizesOf(arg('hosts', '4,30'));
// Simulated hosts cost this machine no CPU of their own: the goal is 60 of them within 3× the time of 4.
const simSizes = sizesOf(arg('sim-hosts', '4,60'));
if (!sizes.length || !simSizes.length) throw new Error('--hosts and --sim-hosts take host counts, comma-separated: 4,30');
const perHost = Number(arg('commands', '10'));
const rounds = Number(arg('rounds', '3'));

interface Run {
  hosts: number;
  commands: number;
  /** Fresh pool: connect + batch. */
  coldMs: number;
  connectMs: number;
  /** Same pool again: connections reused. */
  warmMs: number;
  peakRssMb: number;
  /** This process's CPU per command (warm batch). */
  clientCpuMs: number;
  /** sshd-side CPU (all session processes: sshd, shells, commands) per command, from the listeners' reaped-children times. */
  serverCpuMs: number;
  failures: number;
}

const CLK_TCK = 100;

/**
 * CPU used so far by the sshd listeners' process trees (connections, sessions, shells, commands):
 * every live process's own time, plus what each live process (listeners included) collected from the
 * children it reaped. Nothing is counted twice: a reaped process's time lives only in its reaper's.
 */
function sshdTreeCpuMs(listenerPids: number[]): number {
  const procs = new Map<string, { ppid: string; own: number; reaped: number }>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const f = readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ');
      procs.set(d, { ppid: f[1]!, own: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]) });
    } catch {
      /* exited meanwhile */
    }
  }
  const roots = new Set(listenerPids.map(String));
  const inTree = (pid: string): boolean => {
    for (let p: string | undefined = pid, n = 0; p && n < 64; p = procs.get(p)?.ppid, n++) if (roots.has(p)) return true;
    return false;
  };
  let ticks = 0;
  for (const [pid, p] of procs) {
    if (!inTree(pid)) continue;
    ticks += p.reaped + (roots.has(pid) ? 0 : p.own);
  }
  return (ticks * 1000) / CLK_TCK;
}

async function batch(targets: HostTarget[], knownHostsPath: string, serverCpu: () => number): Promise<Run> {
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const pool = new SshPool({ knownHostsPath, retries: 2 });
  const content = 'kind: KubeletConfiguration\n' + 'x'.repeat(4096);
  let commands = 0;
  let connected = 0;
  let connectedAt = 0;
  const t0 = performance.now();
  const work = async (c: HostConnection): Promise<void> => {
    if (++connected === targets.length) connectedAt = performance.now();
    for (let i = 0; i < perHost; i++) {
      const r = await c.exec(i % 3 === 0 ? 'cat /proc/loadavg' : i % 3 === 1 ? `test -d /etc && echo ${i}` : 'uname -r');
      if (r.exitCode !== 0) throw new Error(`command ${i} failed: ${r.stderr}`);
      commands++;
    }
    await c.upload({ path: `/tmp/kcore-bench/${c.target.name}.yaml`, content: `${content}${Date.now()}\n`, mode: 0o644 });
    commands++;
  };
  const cold = await pool.forEachHost(targets, work);
  const coldMs = performance.now() - t0;

  const server0 = serverCpu();
  const cpu0 = process.cpuUsage();
  commands = 0;
  const t1 = performance.now();
  const warm = await pool.forEachHost(targets, work);
  const warmMs = performance.now() - t1;
  const cpu = process.cpuUsage(cpu0);
  await new Promise((r) => setTimeout(r, 300)); // let the last session processes be reaped
  const serverMs = serverCpu() - server0;

  await pool.closeAll();
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  const failures = [...cold, ...warm].filter((o) => o.error);
  for (const f of failures.slice(0, 3)) console.error(`  ${f.target.name}: ${f.error?.message}`);
  return {
    hosts: targets.length,
    commands,
    coldMs,
    connectMs: connectedAt - t0,
    warmMs,
    peakRssMb: peak / 1024 / 1024,
    clientCpuMs: (cpu.user + cpu.system) / 1000 / commands,
    serverCpuMs: serverMs / commands,
    failures: failures.length,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function ownCpuMs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** Runs every size, prints the table and the ratio. */
async function table(title: string, all: HostTarget[], knownHostsPath: string, serverCpu: (n: number) => () => number, serverLabel: string, target: number, sizes: number[]): Promise<void> {
  // Record the host keys once (first contact), so every measured round only verifies them.
  const warm = new SshPool({ knownHostsPath });
  await warm.forEachHost(all, async (c) => c.exec('mkdir -p /tmp/kcore-bench'));
  await warm.closeAll();

  const results = new Map<number, Run>();
  console.log(`\n== ${title}`);
  console.log(`load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')} on ${cpus().length} cores`);
  console.log(`${perHost} commands + 1 upload per host, hosts in parallel, median of ${rounds} rounds.`);
  console.log('cold = fresh pool (connect + batch); warm = the same batch again on the open connections.');
  // The engine's default cap, as converge runs: beyond it hosts wait for a slot, and "connect" is when the last one started.
  const over = sizes.filter((n) => n > POOL_DEFAULTS.maxHosts);
  if (over.length) console.log(`at most ${POOL_DEFAULTS.maxHosts} hosts at once (the pool's default maxHosts, as converge runs): ${over.join(', ')} hosts go in waves; "connect" is when the last host began.`);
  console.log('');
  console.log(`hosts  commands  cold (s)  cmd/s cold  connect (s)  warm (s)  cmd/s warm  client CPU/cmd  ${serverLabel}  peak RSS  failures`);
  for (const n of sizes) {
    const runs: Run[] = [];
    for (let r = 0; r < rounds; r++) runs.push(await batch(all.slice(0, n), knownHostsPath, serverCpu(n)));
    const m: Run = {
      hosts: n,
      commands: runs[0]!.commands,
      coldMs: median(runs.map((x) => x.coldMs)),
      connectMs: median(runs.map((x) => x.connectMs)),
      warmMs: median(runs.map((x) => x.warmMs)),
      peakRssMb: Math.max(...runs.map((x) => x.peakRssMb)),
      clientCpuMs: median(runs.map((x) => x.clientCpuMs)),
      serverCpuMs: median(runs.map((x) => x.serverCpuMs)),
      failures: runs.reduce((a, x) => a + x.failures, 0),
    };
    results.set(n, m);
    console.log(
      [
        String(m.hosts).padStart(5),
        String(m.commands).padStart(9),
        (m.coldMs / 1000).toFixed(2).padStart(9),
        ((m.commands / m.coldMs) * 1000).toFixed(0).padStart(11),
        (m.connectMs / 1000).toFixed(2).padStart(12),
        (m.warmMs / 1000).toFixed(2).padStart(9),
        ((m.commands / m.warmMs) * 1000).toFixed(0).padStart(11),
        `${m.clientCpuMs.toFixed(1)} ms`.padStart(15),
        `${m.serverCpuMs.toFixed(1)} ms`.padStart(serverLabel.length + 1),
        `${m.peakRssMb.toFixed(0)} MiB`.padStart(9),
        String(m.failures).padStart(9),
      ].join(' '),
    );
  }
  const small = results.get(Math.min(...sizes));
  const big = results.get(Math.max(...sizes));
  if (small && big && small !== big) {
    const cold = big.coldMs / small.coldMs;
    const warmRatio = big.warmMs / small.warmMs;
    console.log(`\nwall time ${big.hosts} hosts / ${small.hosts} hosts: cold ${cold.toFixed(2)}×, warm ${warmRatio.toFixed(2)}× (target ≤ ${target}×): ${cold <= target ? 'OK' : 'OVER TARGET'}`);
  }
  console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

// Simulated hosts: ssh2 servers in a child process (its own event loop, so its CPU shows apart from ours).
// Each command "runs" for a fixed time without using CPU, like a host with cores of its own would.
const SIMULATED_SERVERS = String.raw`
import ssh2 from 'ssh2';
import { readFileSync } from 'node:fs';
const { Server } = ssh2;
const [count, latency, hostKeyFile] = process.argv.slice(1).map((a, i) => (i < 2 ? Number(a) : a));
const hostKey = readFileSync(hostKeyFile);
const ports = [];
for (let i = 0; i < count; i++) {
  const srv = new Server({ hostKeys: [hostKey] }, (client) => {
    client.on('error', () => {});
    client.setNoDelay(true);
    client.on('authentication', (ctx) => (ctx.method === 'publickey' ? ctx.accept() : ctx.reject(['publickey'])));
    client.on('ready', () => client.on('session', (accept) => {
      const session = accept();
      session.on('exec', (acc, _rej, info) => {
        const ch = acc();
        ch.on('data', () => {});
        ch.on('end', () => setTimeout(() => {
          if (info.command.includes('kcore-upload')) ch.write('kcore-upload:written\n');
          else ch.write('ok\n');
          ch.exit(0);
          ch.end();
        }, latency));
      });
    }));
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  ports.push(srv.address().port);
}
process.stdout.write(JSON.stringify(ports) + '\n');
`;

async function simulated(work: string, max: number): Promise<void> {
  const latency = Number(arg('latency', '20'));
  const key = sshKeyPair();
  const hostKeyFile = join(work, 'sim_host_key');
  const idFile = join(work, 'sim_id');
  writeFileSync(hostKeyFile, key.private, { mode: 0o600 });
  writeFileSync(idFile, sshKeyPair().private, { mode: 0o600 });
  const child = spawn(process.execPath, ['--input-type=module', '-e', SIMULATED_SERVERS, String(max), String(latency), hostKeyFile], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const ports = await new Promise<number[]>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.includes('\n')) resolve(JSON.parse(buf.split('\n')[0]!) as number[]);
      });
      child.on('exit', (code) => reject(new Error(`simulated servers exited (${code})`)));
    });
    const targets = ports.map((port, i) => ({ name: `sim${i + 1}`, host: '127.0.0.1', port, user: 'kcore', identityFile: idFile }));
    await table(
      `simulated hosts: ssh2 servers in one child process, ${latency} ms per command and no host CPU (the engine's own scaling)`,
      targets,
      join(work, 'known_hosts_sim'),
      () => () => ownCpuMs(child.pid!),
      'server CPU/cmd',
      // The goal for simulated hosts (no host CPU): 60 hosts within 3× the time of 4.
      3,
      simSizes,
    );
  } finally {
    child.kill('SIGTERM');
  }
}

async function main(): Promise<void> {
  const max = Math.max(...sizes);
  const work = mkdtempSync(join(tmpdir(), 'kcore-bench-ssh-'));
  try {
    if (!process.argv.includes('--no-light')) await light(work, max);
    if (!process.argv.includes('--no-simulated')) await simulated(work, Math.max(...simSizes));
    console.log(`\nprocess peak RSS (whole run, including host start-up): ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function light(work: string, max: number): Promise<void> {
  const can = await canRunHosts();
  if (!can.ok) throw new Error(`light hosts cannot run here: ${can.reason}`);
  {
    const tStart = performance.now();
    const hosts = await startSshHosts({ count: max, sudo: 'nopasswd' });
    console.log(`${max} light hosts up in ${((performance.now() - tStart) / 1000).toFixed(1)} s on ${hosts.prefix}.0/24`);
    try {
      const all = targetsFromSshConfig(readFileSync(hosts.sshConfigPath, 'utf8'));
      await table(
        'light hosts: real OpenSSH sshd per host, all sharing this machine’s cores with the client',
        all,
        join(work, 'known_hosts'),
        (n) => {
          const pids = hosts.hosts.slice(0, n).map((h) => h.pid);
          return () => sshdTreeCpuMs(pids);
        },
        'sshd CPU/cmd',
        // Real sshd on this machine's 2 cores: 30 hosts within 2× the time of 4.
        2,
        sizes,
      );
      // Large file throughput (binaries such as kubelet are uploaded this way): one 64 MiB upload, then again unchanged.
      const pool = new SshPool({ knownHostsPath: join(work, 'known_hosts') });
      const c = await pool.connection(all[0]!);
      const big = randomBytes(64 * 1024 * 1024);
      const t0 = performance.now();
      await c.upload({ path: '/tmp/kcore-bench/big.bin', content: big, mode: 0o755 });
      const up = performance.now() - t0;
      const t1 = performance.now();
      const again = await c.upload({ path: '/tmp/kcore-bench/big.bin', content: big, mode: 0o755 });
      const same = performance.now() - t1;
      await pool.closeAll();
      console.log(
        `\n64 MiB upload: ${(up / 1000).toFixed(2)} s (${(64 / (up / 1000)).toFixed(0)} MiB/s, SHA-256 checked on both ends); ` +
          `unchanged re-upload: ${(same / 1000).toFixed(2)} s (changed=${again.changed})`,
      );
    } finally {
      await hosts.teardown();
    }
  }
}

await main();
