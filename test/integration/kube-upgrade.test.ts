// `upgrade --kubernetes` on real systemd machines (2 masters, 2 workers), through the real engine, SSH
// and sudo: the rolling order and every gate (masters one at a time before any worker; per worker
// cordon → drain → node step → Ready → uncordon; a stop at the first host that fails, with the rest
// untouched; a rerun that resumes). Kubernetes binaries cannot run here, so two parts stand in
// (test/support/kube-standin.ts, and docs/day2.md says so): the API server, played by a kubectl stand-in
// on the masters that records each call and answers from state files; and the node step, a real role
// whose systemd unit restarts on the new version and may be made to fail. The node operations
// (cordon, drain, Ready, uncordon) are kcore-wizard's own roles, run as the command runs them.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { pathExists } from '../../src/util/fs.js';
import { canRunHosts, startSystemdHosts, type TestHosts } from '../hosts/index.js';
import { layoutHosts, specForHosts, workspaceFor } from '../support/cluster.js';
import { kubectlStandin, standinNodeRole } from '../support/kube-standin.js';
import { runConverge } from '../../src/converge/run.js';
import { runUpgrade } from '../../src/commands/upgrade.js';
import { loadSpec } from '../../src/spec/load.js';
import type { CommandContext } from '../../src/commands/args.js';
import type { ClusterSpec } from '../../src/spec/index.js';

const LAYOUT = { etcd: 1, 'kube-master': 2, 'kube-worker': 2 };
const KUBE = ['kube-master-01', 'kube-master-02', 'kube-worker-01', 'kube-worker-02'];
const M1 = 'kube-master-01';
const step = { roles: [standinNodeRole] };

let hosts: TestHosts;
let spec: ClusterSpec;
let ws: string;

async function upgrade(values: Record<string, string | boolean>, opts: { readyTimeoutMs?: number } = {}) {
  let stdout = '';
  let stderr = '';
  const ctx: CommandContext = {
    values: { dir: ws, yes: true, ...values },
    positionals: [],
    stdout: { write: (s: string) => ((stdout += s), true), isTTY: false },
    stderr: { write: (s: string) => ((stderr += s), true) },
    stdin: { isTTY: false },
    env: process.env,
    cwd: process.cwd(),
    signal: new AbortController().signal,
  };
  let code: number;
  try {
    code = await runUpgrade(ctx, { kubeStep: step, readyTimeoutMs: opts.readyTimeoutMs ?? 4000 });
  } catch (e) {
    code = (e as { exitCode?: number }).exitCode ?? 99;
    stderr += (e as Error).message;
  }
  return { code, stdout, stderr };
}

interface Ev {
  t: bigint;
  host: string;
  what: string;
}
/** Everything that happened since `since`, in time order: kubectl calls (on the masters) and unit starts (everywhere). */
async function events(since: bigint): Promise<Ev[]> {
  const out: Ev[] = [];
  for (const h of KUBE) {
    const r = await hosts.exec(h, 'cat /var/log/kstandin.log /var/lib/kstandin/calls.log 2>/dev/null; true');
    for (const l of r.stdout.split('\n').filter(Boolean)) {
      const [t, host, ...rest] = l.split(' ');
      if (BigInt(t!) > since) out.push({ t: BigInt(t!), host: host!, what: rest.join(' ') });
    }
  }
  return out.sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0));
}
const now = async () => BigInt((await hosts.exec(M1, 'date +%s%N')).stdout.trim());
/** The story, without reads: unit starts and the node operations that change something. */
const story = (ev: Ev[]) => ev.filter((e) => /kubelet-start|kubectl (cordon|drain|uncordon|delete)/.test(e.what)).map((e) => (e.what.startsWith('kubelet-start') ? `${e.host} ${e.what}` : e.what.replace(/ --.*| server=.*/g, '')));
const version = async (h: string) => (await hosts.exec(h, 'cat /opt/kstandin/version')).stdout.trim();
const cordoned = async (n: string) => (await hosts.exec(M1, `test -e /var/lib/kstandin/cordoned/${n} && echo yes || echo no`)).stdout.trim() === 'yes';

beforeAll(async () => {
  const can = await canRunHosts({ systemd: true });
  if (!can.ok) throw new Error(`real test hosts cannot run here: ${can.reason}`);
  const plan = layoutHosts(LAYOUT).filter((h) => h.group !== 'etcd'); // etcd plays no part in this roll
  hosts = await startSystemdHosts({ count: plan.length, names: plan.map((h) => h.name), ips: plan.map((h) => h.octet) });
  spec = specForHosts(hosts, LAYOUT, (s) => {
    s.versions.kubernetes = '1.36.4';
    s.versions.etcd = '3.6.11';
  });
  ws = await workspaceFor(spec);
  for (const m of ['kube-master-01', 'kube-master-02']) await hosts.exec(m, `mkdir -p /opt/bin && cat > /opt/bin/kubectl && chmod 755 /opt/bin/kubectl`, { input: kubectlStandin(m) });
  // The cluster before the upgrade: every node on 1.36.4, running, Ready.
  const s = await runConverge({ workspace: ws, spec, roles: [standinNodeRole], limit: KUBE, signal: new AbortController().signal, emit: () => {} });
  if (s.status !== 'ok') throw new Error(`the 1.36.4 cluster did not converge: ${JSON.stringify(s.recap)}`);
}, 600_000);

afterAll(async () => {
  await hosts?.teardown();
});

describe('upgrade --kubernetes: ordering and gates on real systemd hosts (API server stand-in)', () => {
  it('masters one at a time, then each worker cordoned, drained, upgraded, Ready, uncordoned; stops at the first worker that fails', { timeout: 300_000 }, async () => {
    await hosts.exec('kube-worker-01', 'touch /etc/kstandin-fail');
    const t0 = await now();
    const r = await upgrade({ kubernetes: '1.37.1' });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toContain('kcore.yaml: versions.kubernetes 1.36.4 → 1.37.1');
    expect(r.stdout).toContain('== upgrade Kubernetes 1.36.4 → 1.37.1 stopped at kube-worker-01: it did not come back healthy and stays cordoned (see above); untouched: kube-worker-02');
    expect(story(await events(t0))).toEqual(['kube-master-01 kubelet-start 1.37.1', 'kube-master-02 kubelet-start 1.37.1', 'kubectl cordon kube-worker-01', 'kubectl drain kube-worker-01']);
    // The failed worker stays cordoned (its pods were moved away); the next one was not touched at all.
    expect(await cordoned('kube-worker-01')).toBe(true);
    expect(await version('kube-worker-02')).toBe('1.36.4');
    expect((await events(t0)).some((e) => e.what.includes('kube-worker-02'))).toBe(false);
    expect((await loadSpec(ws)).spec.versions.kubernetes).toBe('1.37.1');
  });

  it('a rerun resumes: the masters and nothing else left alone, the failed worker finished and uncordoned, then the next', { timeout: 300_000 }, async () => {
    await hosts.exec('kube-worker-01', 'rm -f /etc/kstandin-fail');
    const t0 = await now();
    const r = await upgrade({ kubernetes: '1.37.1' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('kcore.yaml: versions.kubernetes is 1.37.1: resuming the upgrade');
    expect(r.stdout).toContain('== upgrade Kubernetes 1.36.4 → 1.37.1: done on kube-master-01, kube-master-02, kube-worker-01, kube-worker-02'.replace('1.36.4', '1.37.1'));
    const ev = await events(t0);
    // kube-worker-01 was cordoned already: no second cordon; drained again (kubectl drain is idempotent).
    expect(story(ev)).toEqual([
      'kubectl drain kube-worker-01',
      'kube-worker-01 kubelet-start 1.37.1',
      'kubectl uncordon kube-worker-01',
      'kubectl cordon kube-worker-02',
      'kubectl drain kube-worker-02',
      'kube-worker-02 kubelet-start 1.37.1',
      'kubectl uncordon kube-worker-02',
    ]);
    // Ready is read (admin view) after the node step and before uncordon.
    const at = (re: RegExp) => ev.findIndex((e) => re.test(`${e.host} ${e.what}`));
    const lastReadBeforeUncordon = ev.slice(0, at(/kubectl uncordon kube-worker-02/)).map((e) => e.what).filter((w) => w.startsWith('kubectl get node kube-worker-02')).length;
    expect(lastReadBeforeUncordon).toBeGreaterThan(0);
    expect(at(/kube-worker-02 kubelet-start/)).toBeLessThan(ev.findLastIndex((e) => e.what.startsWith('kubectl get node kube-worker-02')));
    for (const h of KUBE) expect(await version(h)).toBe('1.37.1');
    expect(await cordoned('kube-worker-01')).toBe(false);
    expect(await cordoned('kube-worker-02')).toBe(false);
    // The drain flags as kubectl takes them, with the admin kubeconfig (the stand-in saw no other).
    expect(ev.find((e) => e.what.startsWith('kubectl drain kube-worker-02'))!.what).toBe(`kubectl drain kube-worker-02 --ignore-daemonsets --delete-emptydir-data --timeout=300s server=https://${hosts.prefix}.111:6443`);
  });

  it('an upgrade that is done changes nothing: no cordon, no drain, no restart anywhere', { timeout: 300_000 }, async () => {
    const t0 = await now();
    const r = await upgrade({ kubernetes: '1.37.1' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(story(await events(t0))).toEqual([]);
    expect(r.stdout).toContain('kube-worker-02: nothing to change (already upgraded); checking it is Ready and schedulable');
  });

  it('--limit kube-worker while the masters are behind is refused (kubelet never newer than kube-apiserver); kcore.yaml unchanged', { timeout: 300_000 }, async () => {
    const t0 = await now();
    const r = await upgrade({ kubernetes: '1.37.2', limit: 'kube-worker' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--limit: kube-worker-01, kube-worker-02 would run a kubelet 1.37.2 while kube-master-01, kube-master-02 still run the older kube-apiserver');
    expect((await loadSpec(ws)).spec.versions.kubernetes).toBe('1.37.1');
    expect(story(await events(t0))).toEqual([]);
  });

  it('a worker that is not Ready after its step stays cordoned and stops the roll; node operations go to a master whose /readyz answers', { timeout: 300_000 }, async () => {
    // kube-master-01's API server is down (as the stand-in answers for its address); kube-worker-01 never becomes Ready.
    await hosts.exec(M1, `touch /var/lib/kstandin/down-${hosts.prefix}.111 /var/lib/kstandin/notready/kube-worker-01`);
    const t0 = await now();
    const r = await upgrade({ kubernetes: '1.37.2' });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toContain('stopped at kube-worker-01: it is not Ready and stays cordoned (see above); untouched: kube-worker-02');
    expect(r.stdout).toContain('node kube-worker-01 Ready did not become ready within 4 s: kube-worker-01 not Ready (KubeletReady)');
    const ev = await events(t0);
    expect(story(ev)).toEqual(['kube-master-01 kubelet-start 1.37.2', 'kube-master-02 kubelet-start 1.37.2', 'kubectl cordon kube-worker-01', 'kubectl drain kube-worker-01', 'kube-worker-01 kubelet-start 1.37.2']);
    for (const e of ev.filter((x) => /kubectl (cordon|drain)/.test(x.what))) expect(e.what).toMatch(new RegExp(`server=https://${hosts.prefix.replace(/\./g, '\\.')}\\.112:6443$`));
    expect(await cordoned('kube-worker-01')).toBe(true);
    expect(await version('kube-worker-02')).toBe('1.37.1');
    await hosts.exec(M1, `rm -f /var/lib/kstandin/down-${hosts.prefix}.111 /var/lib/kstandin/notready/kube-worker-01`);
  });
});

describe('--etcd and --kubernetes together: etcd first', () => {
  it('when the etcd part cannot go (etcd-01 is not there: no machine at its address), no Kubernetes host is touched and kcore.yaml is put back', { timeout: 300_000 }, async () => {
    const t0 = await now();
    // (The roll before stopped on 1.37.2: that is what kcore.yaml says now.)
    const r = await upgrade({ etcd: '3.6.11', kubernetes: '1.37.3' });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toContain('upgrade not started: the plan fails (above); kcore.yaml is back on etcd 3.6.11 and Kubernetes 1.37.2');
    expect(r.stdout).toContain('etcd-01');
    expect((await loadSpec(ws)).spec.versions.kubernetes).toBe('1.37.2');
    expect(story(await events(t0))).toEqual([]);
  });
});

describe('remove-node on the same machines (provider existing: any worker may go)', () => {
  it('drains and deletes the Node, stops and disables its units, takes it out of kcore.yaml and known_hosts; its certificates are archived', { timeout: 300_000 }, async () => {
    const w = 'kube-worker-01';
    const ip = `${hosts.prefix}.121`;
    // Units under the names the node role gives them (stand-ins: the real binaries cannot run here).
    const unit = '[Service]\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n';
    await hosts.exec(w, `cat > /tmp/u.service && for u in kubelet kube-proxy; do cp /tmp/u.service /etc/systemd/system/$u.service; done; rm /tmp/u.service; systemctl daemon-reload && systemctl enable --now kubelet kube-proxy`, { input: unit });
    expect((await hosts.exec(w, 'systemctl is-active kubelet kube-proxy')).stdout).toBe('active\nactive\n');
    await hosts.exec(M1, `rm -f /var/lib/kstandin/cordoned/${w}`); // the test before left it cordoned
    const knownBefore = await readFile(path.join(ws, 'known_hosts'), 'utf8');
    expect(knownBefore).toContain(ip);
    await mkdir(path.join(ws, 'pki', 'kubelet'), { recursive: true });
    await writeFile(path.join(ws, 'pki', 'kubelet', `${w}.crt`), 'stand-in certificate\n');
    const t0 = await now();
    const r = await runCli(['remove-node', ws, w, '--yes']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(story(await events(t0))).toEqual([`kubectl cordon ${w}`, `kubectl drain ${w}`, `kubectl delete node ${w}`]);
    expect((await hosts.exec(w, 'systemctl is-active kubelet kube-proxy; systemctl is-enabled kubelet kube-proxy; true')).stdout).toBe('inactive\ninactive\ndisabled\ndisabled\n');
    const after = (await loadSpec(ws)).spec;
    expect(after.groups['kube-worker'].count).toBe(1);
    expect(after.machines.map((m) => m.name)).toEqual(['etcd-01', 'kube-master-01', 'kube-master-02', 'kube-worker-02']);
    const knownAfter = await readFile(path.join(ws, 'known_hosts'), 'utf8');
    expect(knownAfter).not.toContain(`${ip} `);
    expect(knownAfter).toContain(`${hosts.prefix}.122`);
    const archived = /its certificates are archived in pki\/(archive\/[^/]+)\//.exec(r.stdout)?.[1];
    expect(archived, r.stdout).toBeDefined();
    expect(await pathExists(path.join(ws, 'pki', 'kubelet', `${w}.crt`))).toBe(false);
    expect(await readFile(path.join(ws, 'pki', archived!, 'kubelet', `${w}.crt`), 'utf8')).toBe('stand-in certificate\n');
    expect(r.stdout).toContain(`${w} removed: groups.kube-worker.count is 1, ${w} is out of machines; its ssh.config and known_hosts entries are forgotten; its certificates are archived in pki/${archived}/`);
    // A rerun is refused clearly: it is gone from kcore.yaml. The last worker may not go.
    const again = await runCli(['remove-node', ws, w, '--yes']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`remove-node ${w}: no such machine in kcore.yaml`);
    const last = await runCli(['remove-node', ws, 'kube-worker-02', '--yes']);
    expect(last.code).toBe(2);
    expect(last.stderr).toContain("it is the cluster's only worker");
  });

  it('a Node that cannot be drained stops remove-node before anything else changes', { timeout: 300_000 }, async () => {
    // kube-master-02 may go (existing: any master while another remains); its drain is refused here.
    await hosts.exec(M1, 'touch /var/lib/kstandin/drainfail/kube-master-02');
    const before = await readFile(path.join(ws, 'kcore.yaml'), 'utf8');
    const r = await runCli(['remove-node', ws, 'kube-master-02', '--yes']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('cannot delete Pods that declare no controller');
    expect(r.stdout).toContain('remove-node stopped: kube-master-02 could not be drained and deleted (see above); kcore.yaml is unchanged');
    expect(await readFile(path.join(ws, 'kcore.yaml'), 'utf8')).toBe(before);
    expect((await hosts.exec('kube-master-02', 'systemctl is-active kstandin-kubelet')).stdout.trim()).toBe('active');
  });
});
