// The task engine against real sshd hosts (network namespaces): roles in order, hosts in parallel,
// idempotence, dry-run plans, --limit/--tags, a host stopped at its first failure while the others go
// on, cancellation, the per-host command log and redaction of secret file contents.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunHosts, startSshHosts, type TestHosts } from '../hosts/index.js';
import { runConverge } from '../../src/converge/run.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { directoryTask, filesTask, parseStat, statScript } from '../../src/engine/ops.js';
import { smokeProbe, task, TaskFailure, type Role } from '../../src/engine/task.js';
import { shellQuote } from '../../src/ssh/quote.js';
import { bootstrapRole } from '../../src/roles/bootstrap/index.js';
import { layoutHosts, specForHosts, workspaceFor } from '../support/cluster.js';
import type { ClusterSpec } from '../../src/spec/index.js';

const LAYOUT = { etcd: 1, 'kube-master': 1, 'kube-worker': 2 };
const SECRET = 'not-for-logs-' + 'x'.repeat(20);

let hosts: TestHosts;
let spec: ClusterSpec;
let ws: string;
let version = 'v1';
let failOn: string | null = null;

const demoRole: Role = {
  name: 'demo',
  hosts: (run) => run.hosts,
  tasks: [
    directoryTask('demo directory', [{ path: '/opt/kcore-demo', mode: 0o750 }]),
    filesTask('demo files', (ctx) => [
      { path: '/opt/kcore-demo/config', content: `host=${ctx.host.name}\nversion=${version}\n`, mode: 0o644 },
      { path: '/opt/kcore-demo/secret', content: SECRET, mode: 0o600, secret: true },
    ]),
    task({
      name: 'maybe fail',
      async gather(ctx) {
        if (failOn === ctx.host.name) throw new TaskFailure(`${ctx.host.name} was told to fail`, 'this is the test');
      },
    }),
    // A probe: batched with the tasks' probes; re-run after the files are written (else it sees none).
    smokeProbe('demo: config present', (ctx) => ({
      script: 'cat /opt/kcore-demo/config',
      parse: (o) => {
        if (!o.stdout.includes(`host=${ctx.host.name}`)) throw new TaskFailure('config missing');
      },
    })),
  ],
};
// Light hosts have no systemd, so bootstrap's own smoke test would (rightly) fail: facts only here.
const facts: Role = { ...bootstrapRole, tasks: [bootstrapRole.tasks[0]!] };
const roles = [facts, demoRole];

async function converge(opts: Partial<Parameters<typeof runConverge>[0]> = {}) {
  const events: EngineEvent[] = [];
  const summary = await runConverge({
    workspace: ws,
    spec,
    roles,
    signal: new AbortController().signal,
    emit: (e) => events.push(e),
    ...opts,
  });
  return { summary, events, ends: events.filter((e): e is Extract<EngineEvent, { type: 'task-end' }> => e.type === 'task-end') };
}

beforeAll(async () => {
  const can = await canRunHosts();
  if (!can.ok) throw new Error(`real test hosts cannot run here: ${can.reason}`);
  const plan = layoutHosts(LAYOUT);
  hosts = await startSshHosts({ count: plan.length, names: plan.map((h) => h.name), ips: plan.map((h) => h.octet) });
  spec = specForHosts(hosts, LAYOUT);
  ws = await workspaceFor(spec);
});

afterAll(async () => {
  await hosts?.teardown();
});

describe('engine on real sshd hosts', () => {
  it('first converge changes, records host keys on first contact, gathers facts from the private interface', async () => {
    const { summary, events, ends } = await converge();
    expect(summary.status).toBe('ok');
    expect(Object.keys(summary.recap)).toEqual(['etcd-01', 'kube-master-01', 'kube-worker-01', 'kube-worker-02']);
    expect(events.filter((e) => e.type === 'host-key' && e.kind === 'recorded')).toHaveLength(4);
    const kh = await readFile(path.join(ws, 'known_hosts'), 'utf8');
    for (const l of hosts.knownHostsLines) expect(kh).toContain(l.split(' ').slice(1).join(' '));
    const facts = events.find((e) => e.type === 'task-output' && e.host === 'kube-worker-02');
    expect(facts).toMatchObject({ line: expect.stringMatching(new RegExp(`private network on \\S+ ${hosts.prefix.replace(/\./g, '\\.')}\\.122$`)) });
    for (const host of Object.keys(summary.recap)) {
      expect(ends.find((e) => e.host === host && e.task === 'demo files')).toMatchObject({ status: 'changed', changes: ['create /opt/kcore-demo/config (mode 0644, root:root)', 'create /opt/kcore-demo/secret (mode 0600, root:root)'] });
      const stat = await hosts.exec(host, 'stat -c "%a %U" /opt/kcore-demo/secret; cat /opt/kcore-demo/config');
      expect(stat.stdout).toBe(`600 root\nhost=${host}\nversion=v1\n`);
    }
  });

  it('a second converge changes nothing (idempotence) and is fast: one exec per host for the facts and the demo role', async () => {
    const logFile = (h: string) => path.join(ws, '.kcore', 'logs', `${h}.log`);
    const before = new Map<string, number>();
    for (const h of hosts.hosts.map((x) => x.name)) before.set(h, (await readFile(logFile(h), 'utf8')).length);
    const { summary, events } = await converge();
    expect(summary.status).toBe('ok');
    expect(summary.changed).toBe(0);
    expect(events.filter((e) => e.type === 'host-key').every((e) => e.type === 'host-key' && e.kind === 'verified')).toBe(true);
    for (const h of hosts.hosts.map((x) => x.name)) {
      // Each exec is one log entry: "<time> [sudo] exit=N Dms: <command>" (continuation lines indented).
      const entries = (await readFile(logFile(h), 'utf8')).slice(before.get(h)).split(/\n(?=\d{4}-\d\d-\d\dT)/).filter((l) => / (\[sudo\] )?exit=\S+ \d+ms: /.test(l));
      const demo = entries.filter((l) => l.includes('/opt/kcore-demo'));
      // No-op converge: one round trip (sudo) per host for both roles: the facts (the sudo check rides in them, no
      // `sudo -n true` of its own) and, read ahead, the demo role's directory, files and smoke test (runner.ts).
      expect(entries, `${h}:\n${entries.join('\n')}`).toHaveLength(1);
      expect(demo, `${h}:\n${entries.join('\n')}`).toHaveLength(1);
      expect(entries[0]).toMatch(/ \[sudo\] exit=0 \d+ms: printf '%s\\n' '@@kcore-probe-[0-9a-f]+ out 0'/);
      expect(entries[0]).toContain('if [ -r /etc/os-release ]');
      for (const part of ['if [ -d /opt/kcore-demo ]', "stat -c 'S %a %U %G %n' -- /opt/kcore-demo/config /opt/kcore-demo/secret", 'cat /opt/kcore-demo/config']) expect(demo[0]).toContain(part);
      console.log(`${h}: ${entries.length} exec in a no-op converge (facts role and demo role)`);
    }
  });

  it('a dry run lists exactly the file that would change and changes nothing', async () => {
    version = 'v2';
    const { summary, ends } = await converge({ dryRun: true, limit: ['kube-worker'] });
    expect(Object.keys(summary.recap)).toEqual(['kube-worker-01', 'kube-worker-02']);
    const changed = ends.filter((e) => e.status === 'changed');
    expect(changed.map((e) => [e.host, e.changes]).sort()).toEqual([
      ['kube-worker-01', ['update /opt/kcore-demo/config (content differs)']],
      ['kube-worker-02', ['update /opt/kcore-demo/config (content differs)']],
    ]);
    expect((await hosts.exec('kube-worker-01', 'cat /opt/kcore-demo/config')).stdout).toContain('version=v1');
    version = 'v1';
  });

  it('a failing host stops at its first failure while the others go on', async () => {
    failOn = 'kube-master-01';
    version = 'v3';
    const { summary, ends } = await converge();
    failOn = null;
    expect(summary.status).toBe('failed');
    expect(summary.failedHosts).toEqual(['kube-master-01']);
    const failed = ends.find((e) => e.status === 'failed')!;
    expect(failed).toMatchObject({ host: 'kube-master-01', task: 'maybe fail', message: 'kube-master-01 was told to fail\n  → this is the test' });
    expect(ends.some((e) => e.host === 'kube-master-01' && e.task === 'demo: config present')).toBe(false);
    expect(ends.filter((e) => e.task === 'demo: config present' && e.status === 'ok').map((e) => e.host).sort()).toEqual(['etcd-01', 'kube-worker-01', 'kube-worker-02']);
    version = 'v1';
  });

  it('--tags test runs facts and smoke tests only', async () => {
    const { summary, ends } = await converge({ tags: ['test'] });
    expect(summary.status).toBe('ok');
    expect([...new Set(ends.map((e) => e.task))].sort()).toEqual(['demo: config present', 'gather facts']);
  });

  it('an unreachable host is reported as such and the others converge', async () => {
    const broken = { ...spec, machines: spec.machines.map((m) => (m.name === 'kube-worker-02' ? { ...m, address: `${hosts.prefix}.250` } : m)) };
    const { summary, ends } = await converge({ spec: broken, tags: ['test'] });
    expect(summary.recap['kube-worker-02']!.state).toBe('unreachable');
    expect(ends.find((e) => e.host === 'kube-worker-02')).toMatchObject({ task: 'connect', status: 'unreachable', message: expect.stringMatching(/250/) });
    expect(summary.recap['kube-worker-01']!.state).toBe('ok');
  }, 120_000);

  it('cancellation marks unfinished hosts cancelled', async () => {
    const ac = new AbortController();
    const slow: Role = { name: 'slow', hosts: (run) => run.hosts, tasks: [task({ name: 'sleep', gather: (ctx) => ctx.conn.run('sleep 37', { signal: ctx.signal }) })] };
    const started = Date.now();
    const p = converge({ roles: [facts, slow], signal: ac.signal });
    setTimeout(() => ac.abort(), 1500);
    const { summary } = await p;
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(summary.status).toBe('cancelled');
    expect(Object.values(summary.recap).map((r) => r.state)).toEqual(['cancelled', 'cancelled', 'cancelled', 'cancelled']);
    // The remote commands were killed with their sessions (bounded wait: the kill is asynchronous).
    let left = '';
    for (let i = 0; i < 50; i++) {
      left = (await hosts.exec('etcd-01', 'pgrep -f "^sleep 37$" || true')).stdout.trim();
      if (!left) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(left).toBe('');
  });

  it('reads digests over SSH with openssl and, on a host without it, with sha256sum: a path with spaces, a missing file', async () => {
    const h = 'kube-worker-01';
    const d = '/opt/kcore-hash test';
    const bin = '/opt/kcore-hash-bin';
    // The fallback's PATH: stat and sha256sum only, as on a host without openssl.
    const prep = await hosts.exec(h, `mkdir -p '${d}' ${bin} && printf 'one\\n' > '${d}/a b.conf' && head -c 3000000 /dev/urandom > '${d}/big' && chmod 644 '${d}/a b.conf' && chmod 640 '${d}/big' && ln -sf /usr/bin/stat /usr/bin/sha256sum ${bin}/ && sha256sum '${d}/a b.conf' '${d}/big'`);
    expect(prep.exitCode, prep.stderr).toBe(0);
    const want = prep.stdout.trim().split('\n').map((l) => l.slice(0, 64));
    const paths = [`${d}/a b.conf`, `${d}/missing`, `${d}/big`];
    const seen: Record<string, { stdout: string; have: ReturnType<typeof parseStat> }> = {};
    const hashRole: Role = {
      name: 'hash',
      hosts: (run) => run.hosts.filter((x) => x.name === h),
      tasks: [
        task({
          name: 'digests both ways',
          async gather(ctx) {
            for (const [tool, script] of [
              ['openssl', statScript(paths)],
              ['sha256sum', `env PATH=${bin} /bin/sh -c ${shellQuote(statScript(paths))}`],
            ] as const) {
              const r = await ctx.conn.run(script, { sudo: true, signal: ctx.signal });
              seen[tool] = { stdout: r.stdout, have: parseStat(r.stdout, paths) };
            }
          },
        }),
      ],
    };
    try {
      const { summary } = await converge({ roles: [facts, hashRole], limit: [h] });
      expect(summary.status).toBe('ok');
      expect(seen.openssl!.stdout).toContain(` *${d}/a b.conf`);
      expect(seen.sha256sum!.stdout).toContain(`  ${d}/a b.conf`);
      for (const tool of ['openssl', 'sha256sum']) {
        expect(seen[tool]!.have, tool).toEqual([
          { exists: true, mode: 0o644, owner: 'root', group: 'root', sha256: want[0] },
          { exists: false },
          { exists: true, mode: 0o640, owner: 'root', group: 'root', sha256: want[1] },
        ]);
      }
    } finally {
      await hosts.exec(h, `rm -rf '${d}' ${bin}`);
    }
  });

  it('keeps a per-host command log without secrets', async () => {
    const files = await readdir(path.join(ws, '.kcore', 'logs'));
    expect(files.sort()).toEqual(['etcd-01.log', 'kube-master-01.log', 'kube-worker-01.log', 'kube-worker-02.log']);
    const log = await readFile(path.join(ws, '.kcore', 'logs', 'etcd-01.log'), 'utf8');
    expect(log).toMatch(/host key recorded: ssh-ed25519 SHA256:/);
    expect(log).toMatch(/\[sudo\] exit=0 \d+ms: /);
    expect(log).not.toContain(SECRET);
  });
});

describe('a host whose user needs a password for sudo', () => {
  let pw: TestHosts | undefined;
  afterAll(async () => {
    await pw?.teardown();
  });

  it('fails in gather facts with the sudo message and hint (one exec: the check rides in the facts command)', async () => {
    const plan = layoutHosts(LAYOUT).filter((h) => h.group === 'etcd');
    pw = await startSshHosts({ count: 1, names: plan.map((h) => h.name), ips: plan.map((h) => h.octet), sudo: 'password' });
    const pwSpec = specForHosts(pw, LAYOUT);
    const pwWs = await workspaceFor(pwSpec);
    const { summary, ends } = await converge({ spec: pwSpec, workspace: pwWs, limit: ['etcd'] });
    expect(summary.failedHosts).toEqual(['etcd-01']);
    expect(ends.find((e) => e.status === 'failed')).toMatchObject({
      host: 'etcd-01',
      task: 'gather facts',
      message: `${pw.user} cannot use sudo without a password on etcd-01\n  → allow it: echo '${pw.user} ALL=(ALL) NOPASSWD:ALL' | sudo tee /etc/sudoers.d/kcore`,
    });
    expect(ends.some((e) => e.host === 'etcd-01' && e.task === 'demo directory')).toBe(false);
    const log = await readFile(path.join(pwWs, '.kcore', 'logs', 'etcd-01.log'), 'utf8');
    expect(log.split('\n').filter((l) => / exit=\S+ \d+ms: /.test(l)).map((l) => l.replace(/^.* exit=(\S+) \d+ms: /, '$1 '))).toEqual(['1 sudo -n true']);
  }, 120_000);
});
