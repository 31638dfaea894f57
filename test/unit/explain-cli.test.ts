/**
 * `kcore-wizard explain` as a user runs it (in-process, captured output): the roles in run order, a
 * role's ideas, a host's files as JSON with no private key or token anywhere, a path, and bad arguments
 * (exit 2, naming what exists). The workspace is real: `init`, then a real PKI from ensurePki.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileExplanation, RoleExplanation } from '../../src/explain/index.js';
import { ensurePki } from '../../src/pki/index.js';
import { pkiInput } from '../../src/roles/pki/index.js';
import { loadSpec } from '../../src/spec/load.js';
import { runCli } from '../support/cli.js';

let ws: string;
const keys: string[] = [];

beforeAll(async () => {
  ws = path.join(await mkdtemp(path.join(tmpdir(), 'kcore-explain-cli-')), 'demo');
  expect((await runCli(['init', ws, '--masters', '2'])).code).toBe(0);
  await ensurePki(ws, pkiInput((await loadSpec(ws)).spec));
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.key')) keys.push(await readFile(p, 'utf8'));
    }
  };
  await walk(path.join(ws, 'pki'));
  expect(keys.length).toBeGreaterThan(10);
}, 120_000);

afterAll(async () => {
  await rm(path.dirname(ws), { recursive: true, force: true });
});

describe('kcore-wizard explain', () => {
  it('no argument: the 7 roles in run order, each with its why and its tasks', async () => {
    const text = await runCli(['explain', ws]);
    expect(text.code).toBe(0);
    const order = ['bootstrap', 'pki', 'etcd', 'kube-master', 'kube-worker', 'kubectl', 'addons'].map((r, i) => text.stdout.indexOf(`${i + 1}. ${r} (on `));
    expect(order.every((x) => x >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    const json = await runCli(['explain', ws, '--output', 'json']);
    const roles = JSON.parse(json.stdout) as RoleExplanation[];
    expect(roles.map((r) => r.name)).toEqual(['bootstrap', 'pki', 'etcd', 'kube-master', 'kube-worker', 'kubectl', 'addons']);
    for (const r of roles) for (const t of r.tasks) expect(t.why.length, `${r.name}: ${t.name}`).toBeGreaterThan(40);
  });

  it('a role: etcd explains ETCD_INITIAL_CLUSTER and client-certificate auth', async () => {
    // --dir, then the role as the one argument (the workspace from the flag)
    const r = await runCli(['explain', '--dir', ws, 'etcd']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ideas you meet here:/);
    expect(r.stdout).toMatch(/members and ETCD_INITIAL_CLUSTER/);
    expect(r.stdout).toMatch(/client-certificate authentication: With ETCD_CLIENT_CERT_AUTH=true/);
    expect(r.stdout).toMatch(/quorum/);
  });

  it('the role as the only argument, inside the workspace', async () => {
    const r = await runCli(['explain', 'kube-worker'], { cwd: ws });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('kube-worker (on kube-master-01, kube-master-02, kube-worker-01, kube-worker-02)');
  });

  it('kube-worker-01 --files --output json: every file of the node, each with a why, the kubelet unit and config among them, and no private key or token anywhere', async () => {
    const r = await runCli(['explain', ws, 'kube-worker-01', '--files', '--output', 'json']);
    expect(r.code).toBe(0);
    const files = JSON.parse(r.stdout) as FileExplanation[];
    expect(Array.isArray(files)).toBe(true);
    // What was assumed about the machine (no SSH): said on stderr, the JSON stays an array.
    expect(r.stderr).toMatch(/^note: assumed the machine runs the virtualbox box flatcar-stable \(Flatcar Container Linux\)/m);
    for (const f of files) {
      expect(Object.keys(f)).toEqual(expect.arrayContaining(['path', 'mode', 'owner', 'role', 'task', 'why', 'content']));
      expect(f.why.trim().length, f.path).toBeGreaterThan(20);
      expect(f.why).not.toBe('(no why written yet)');
    }
    const paths = files.map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['/etc/systemd/system/kubelet.service', '/etc/kubernetes/kubelet-config.yaml', '/etc/kubernetes/kubelet.kubeconfig', '/opt/bin/kubelet']));
    // Two masters: the worker's API load balancer, and every kubeconfig's server is it.
    const lb = files.find((f) => f.path === '/etc/kubernetes/haproxy/haproxy.cfg')!;
    expect(lb.content).toMatch(/10\.0\.0\.111:6443[\s\S]*10\.0\.0\.112:6443/);
    for (const f of files.filter((x) => x.path.endsWith('.kubeconfig'))) {
      expect(f.content).toBeNull();
      expect(f.servers).toEqual(['https://127.0.0.1:6444']);
      expect(f.note).toMatch(/it connects to https:\/\/127\.0\.0\.1:6444/);
    }
    // Secrets: content null with a note; nothing of any workspace key in the output, whole or embedded.
    const key = files.find((f) => f.path === '/etc/kubernetes/pki/kubelet.key')!;
    expect(key.content).toBeNull();
    expect(key.note).toMatch(/pki\/kubelet\/kube-worker-01\.key/);
    expect(r.stdout).not.toMatch(/PRIVATE KEY/);
    expect(r.stdout).not.toMatch(/client-key-data|LS0tLS1CRUdJTi/);
    // Token values: the service-account signing key is the only token source; no bearer token is ever written to a node.
    expect(r.stdout).not.toMatch(/"token"\s*:|token: \S|--token[= ]/);
    for (const k of keys) for (const line of k.split('\n').filter((l) => l && !l.startsWith('-----')).slice(-4, -1)) expect(r.stdout).not.toContain(line);
    // The text form of the same
    const t = await runCli(['explain', ws, 'kube-worker-01', '--files']);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/files converge writes on kube-worker-01 \(\d+\)/);
    expect(t.stdout).toContain('server: https://127.0.0.1:6444');
    expect(t.stdout).not.toMatch(/PRIVATE KEY|LS0tLS1CRUdJTi/);
  });

  it('a host without --files: what runs there, and the checks with their commands', async () => {
    const r = await runCli(['explain', ws, 'etcd-01']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^etcd-01 \(etcd, 10\.0\.0\.101\)/);
    expect(r.stdout).toMatch(/- etcd \(etcd\): /);
    expect(r.stdout).toContain('$ curl -sS --cacert /etc/etcd/pki/ca.crt --cert /etc/etcd/pki/kcore-client.crt --key /etc/etcd/pki/kcore-client.key --connect-timeout 3 --max-time 5 -d \'{"key":"aGVhbHRo"}\' https://10.0.0.101:2379/v3/kv/range');
  });

  it('a path on a host of your choice, annotated', async () => {
    const r = await runCli(['explain', ws, '/etc/kubernetes/kubelet-config.yaml', '--host', 'kube-worker-02', '--output', 'json']);
    expect(r.code).toBe(0);
    const f = JSON.parse(r.stdout) as FileExplanation & { host: string };
    expect(f).toMatchObject({ host: 'kube-worker-02', role: 'kube-worker', mode: '0644' });
    expect(f.content).toMatch(/^kind: KubeletConfiguration$/m);
  });

  it('bad arguments exit 2 and name what exists', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['explain', ws, 'etcd-9'], /no role or host "etcd-9".*the roles are bootstrap, pki, etcd.*the hosts are etcd-01, kube-master-01/],
      [['explain', ws, 'etcd', '--files'], /--files goes with a host.*the hosts are etcd-01/],
      [['explain', ws, 'kube-worker-01', '--host', 'etcd-01'], /--host goes with a file path/],
      [['explain', ws, '/etc/kubernetes/kubelet-config.yaml', '--host', 'nope'], /--host nope: there is no such host.*kube-worker-02/],
      [['explain', ws, '/etc/etcd/pki/ca.crt', '--host', 'kube-worker-01'], /kube-worker-01 gets no \/etc\/etcd\/pki\/ca\.crt: etcd-01 does/],
      [['explain', ws, '/etc/kubernetes/kubelet.yaml'], /did you mean .*\/etc\/kubernetes\/kubelet-config\.yaml/],
      [['explain', ws, 'a', 'b'], /one role, host or path at most/],
      [['explain', ws, '--output', 'yaml'], /--output takes "text" or "json"/],
      [['explain', path.join(ws, 'nope'), 'etcd'], /no cluster spec here/],
    ];
    for (const [argv, msg] of cases) {
      const r = await runCli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr, argv.join(' ')).toMatch(msg);
    }
  });

  it('the README command table lists it', async () => {
    const readme = await readFile('README.md', 'utf8');
    expect(readme).toContain('| `explain [DIR] [ROLE\\|HOST\\|PATH] [--host H] [--files]` |');
  });
});
