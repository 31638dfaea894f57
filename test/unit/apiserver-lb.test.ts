// The local API load balancer (src/roles/kube-worker/apiserver-lb.ts), with real tools: Debian's haproxy
// checks every generated configuration (`haproxy -c`), kubectl decodes the static pod offline, openssl
// reads the API server certificate's SANs. With two masters no kubeconfig on a worker names a single
// master; with one master the files are those of before the load balancer existed.
// haproxy directives: https://docs.haproxy.org/3.2/configuration.html (bind, mode tcp, option httpchk,
// http-check expect, server check check-ssl verify ca-file inter fall rise, option redispatch).
// Static pod fields: https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/
// (hostNetwork, priorityClassName, livenessProbe.tcpSocket.host, hostPath type Directory).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { Facts } from '../../src/engine/facts.js';
import { TaskFailure, type HostInfo, type RunContext, type TaskContext } from '../../src/engine/task.js';
import { ensurePki, pkiPaths } from '../../src/pki/index.js';
import { apiServerUrl, buildKubeconfig, clusterName, nodeApiServerUrl } from '../../src/roles/kube-common/index.js';
import { API_LB_MANIFEST, apiLbFiles, apiLbSmokeTest, apiLbTask, HAPROXY_IMAGE, haproxyConfig, haproxyStaticPod, needsApiLb } from '../../src/roles/kube-worker/apiserver-lb.js';
import { nodeKubeconfigs } from '../../src/roles/kube-worker/index.js';
import { pkiInput } from '../../src/roles/pki/index.js';
import { adminKubeconfig } from '../../src/roles/kubectl/index.js';
import { defaultSpec, hostsOf, plannedHosts, type ClusterSpec } from '../../src/spec/index.js';

const exec = promisify(execFile);
const HAPROXY = '/usr/sbin/haproxy';
const KUBECTL = '/usr/bin/kubectl';

function specWith(masters: number): ClusterSpec {
  const s = defaultSpec({ name: 'lb' });
  s.network.prefix = '10.30.0';
  s.groups['kube-master'].count = masters;
  s.groups['kube-worker'].count = 2;
  return s;
}

let dir: string;
const ws: Record<number, string> = {};

function ctxFor(spec: ClusterSpec, workspace: string, name: string, conn: object = {}): TaskContext {
  const hosts = plannedHosts(spec).map((h) => ({ ...h, target: { name: h.name, host: h.ip, port: 22, user: 'core' } })) as HostInfo[];
  const run = { spec, workspace, hosts, pki: pkiPaths(workspace), dryRun: false, facts: new Map(), hostsOf: (g: string) => hosts.filter((h) => h.group === g) } as unknown as RunContext;
  return { run, host: hosts.find((h) => h.name === name)!, conn, facts: () => ({}) as Facts, signal: new AbortController().signal, output: () => {} } as unknown as TaskContext;
}

beforeAll(async () => {
  // A missing tool is a failure, never a skip (test/hosts/install.sh installs both).
  await access(HAPROXY).catch(() => {
    throw new Error(`${HAPROXY} is missing: apt-get install haproxy (test/hosts/install.sh does it without starting the service)`);
  });
  dir = await mkdtemp(path.join(tmpdir(), 'kcore-apiserver-lb-'));
  for (const n of [1, 2]) {
    ws[n] = path.join(dir, `ws${n}`);
    await mkdir(ws[n]!);
    await ensurePki(ws[n]!, pkiInput(specWith(n)));
  }
}, 180_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function haproxyCheck(config: string): Promise<{ code: number; out: string }> {
  const file = path.join(dir, `haproxy-${Math.random().toString(36).slice(2)}.cfg`);
  await writeFile(file, config);
  return exec(HAPROXY, ['-c', '-f', file]).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );
}

describe('haproxy configuration', () => {
  it('passes haproxy -c for two and three masters, with the real cluster CA', async () => {
    for (const n of [2, 3]) {
      const spec = specWith(n);
      // Any CA file will do for -c (three masters: the two-master workspace's).
      const cfg = haproxyConfig(spec, { name: 'kube-worker-01' }, { caFile: pkiPaths(ws[2]!).ca.cert });
      const r = await haproxyCheck(cfg);
      expect(r.out).toMatch(/Configuration file is valid/);
      // Not even a warning (haproxy warns about e.g. missing timeouts or ignored keywords).
      expect(r.out.split('\n').filter((l) => /\[(WARNING|ALERT)\]/.test(l))).toEqual([]);
      expect(r.code).toBe(0);
    }
  });

  it('haproxy -c does fail on a broken one (the check above can fail)', async () => {
    const spec = specWith(2);
    // A CA file that does not exist: haproxy must refuse to load the server lines.
    const missingCa = await haproxyCheck(haproxyConfig(spec, { name: 'kube-worker-01' }, { caFile: path.join(dir, 'no-such-ca.crt') }));
    expect(missingCa.code).not.toBe(0);
    const badBind = await haproxyCheck(haproxyConfig(spec, { name: 'kube-worker-01' }, { caFile: pkiPaths(ws[2]!).ca.cert, listen: '127.0.0.1:notaport' }));
    expect(badBind.code).not.toBe(0);
  });

  it('listens on 127.0.0.1:6444 only, mode tcp, every master :6443 checked on /readyz with the CA', () => {
    const spec = specWith(3);
    const cfg = haproxyConfig(spec, { name: 'kube-worker-02' });
    const lines = cfg.split('\n').map((l) => l.trim());
    expect(lines.filter((l) => l.startsWith('bind '))).toEqual(['bind 127.0.0.1:6444']);
    expect(lines).toContain('mode tcp');
    expect(lines).toContain('option httpchk GET /readyz');
    expect(lines).toContain('http-check expect status 200');
    expect(lines).toContain('default-server check check-ssl verify required ca-file /usr/local/etc/haproxy/ca.crt inter 2s fall 2 rise 2');
    expect(lines.filter((l) => l.startsWith('server '))).toEqual(hostsOf(spec, 'kube-master').map((m) => `server ${m.name} ${m.ip}:6443`));
    expect(lines.filter((l) => l.startsWith('server '))).toHaveLength(3);
  });
});

describe('the static pod', () => {
  it('kubectl decodes it; host network, pinned image, config folder, hash of the configuration', async () => {
    const spec = specWith(2);
    const cfg = haproxyConfig(spec, { name: 'kube-worker-01' });
    const manifest = haproxyStaticPod(spec, { name: 'kube-worker-01' }, cfg);
    const file = path.join(dir, 'lb-pod.yaml');
    await writeFile(file, manifest);
    const r = await exec(KUBECTL, ['annotate', '--local', '-f', file, 'kcore-wizard.io/check=1', '-o', 'json'], { env: { ...process.env, KUBECONFIG: path.join(dir, 'none') } });
    const pod = JSON.parse(r.stdout) as {
      kind: string;
      metadata: { namespace: string; annotations: Record<string, string> };
      spec: { hostNetwork: boolean; priorityClassName: string; containers: Array<{ image: string; livenessProbe: { tcpSocket: { host: string; port: number } }; volumeMounts: Array<{ mountPath: string; readOnly: boolean }> }>; volumes: Array<{ hostPath: { path: string; type: string } }> };
    };
    expect(pod.kind).toBe('Pod');
    expect(pod.metadata.namespace).toBe('kube-system');
    expect(pod.spec.hostNetwork).toBe(true);
    expect(pod.spec.priorityClassName).toBe('system-node-critical');
    const c = pod.spec.containers[0]!;
    expect(c.image).toBe(HAPROXY_IMAGE);
    expect(c.image).toMatch(/^docker\.io\/library\/haproxy:\d+\.\d+\.\d+-alpine@sha256:[0-9a-f]{64}$/);
    expect(c.livenessProbe.tcpSocket).toEqual({ host: '127.0.0.1', port: 6444 });
    expect(c.volumeMounts).toEqual([{ name: 'config', mountPath: '/usr/local/etc/haproxy', readOnly: true }]);
    expect(pod.spec.volumes[0]!.hostPath).toEqual({ path: '/etc/kubernetes/haproxy', type: 'Directory' });
    expect(pod.metadata.annotations['kcore-wizard.io/config-sha256']).toBe(createHash('sha256').update(cfg).digest('hex'));
  });

  it('a changed configuration changes the manifest (the kubelet recreates the pod)', () => {
    const a = haproxyConfig(specWith(2), { name: 'kube-worker-01' });
    const b = haproxyConfig(specWith(3), { name: 'kube-worker-01' });
    expect(haproxyStaticPod(specWith(2), { name: 'kube-worker-01' }, a)).not.toBe(haproxyStaticPod(specWith(3), { name: 'kube-worker-01' }, b));
  });
});

describe('where each node connects', () => {
  const servers = (text: string) => (YAML.parse(text) as { clusters: Array<{ cluster: { server: string } }> }).clusters.map((c) => c.cluster.server);

  it('two masters: no kubeconfig on a worker names a single master; the workers get haproxy, the masters do not', async () => {
    const spec = specWith(2);
    const masterIps = hostsOf(spec, 'kube-master').map((m) => m.ip);
    for (const w of hostsOf(spec, 'kube-worker')) {
      const files = await nodeKubeconfigs(ctxFor(spec, ws[2]!, w.name));
      expect(files).toHaveLength(3);
      for (const f of files) {
        for (const s of servers(f.content as string)) {
          expect(s).toBe('https://127.0.0.1:6444');
          for (const ip of masterIps) expect(s).not.toContain(ip);
        }
      }
      expect(needsApiLb(spec, w)).toBe(true);
      const lb = await apiLbFiles(ctxFor(spec, ws[2]!, w.name));
      expect(lb.map((f) => [f.path, f.mode])).toEqual([
        ['/etc/kubernetes/haproxy/ca.crt', 0o644],
        ['/etc/kubernetes/haproxy/haproxy.cfg', 0o644],
        [API_LB_MANIFEST, 0o644],
      ]);
      expect(lb[0]!.content.toString()).toBe(await readFile(pkiPaths(ws[2]!).ca.cert, 'utf8'));
    }
    for (const m of hostsOf(spec, 'kube-master')) {
      expect(nodeApiServerUrl(spec, m)).toBe(`https://${m.ip}:6443`);
      expect(await apiLbFiles(ctxFor(spec, ws[2]!, m.name))).toEqual([]);
    }
  });

  it('one master: every node kubeconfig is byte for byte what it was before the load balancer (first master), and nothing of haproxy is planned', async () => {
    const spec = specWith(1);
    const p = pkiPaths(ws[1]!);
    const read = (f: string) => readFile(f);
    const ca = await read(p.ca.cert);
    for (const h of [...hostsOf(spec, 'kube-master'), ...hostsOf(spec, 'kube-worker')]) {
      const ctx = ctxFor(spec, ws[1]!, h.name, { exec: async () => ({ exitCode: 1, stdout: '', stderr: '' }) });
      // Before: server = apiServerUrl(spec) = the first (only) master, for masters and workers alike.
      const server = 'https://10.30.0.111:6443';
      expect(apiServerUrl(spec)).toBe(server);
      const cluster = clusterName(spec);
      const before = [
        buildKubeconfig({ cluster, server, ca, user: `system:node:${h.name}`, cert: await read(p.kubelet(h.name).cert), key: await read(p.kubelet(h.name).key) }),
        buildKubeconfig({ cluster, server, ca, user: 'kcore:flannel', cert: await read(p.flannel.cert), key: await read(p.flannel.key) }),
        buildKubeconfig({ cluster, server, ca, user: 'system:kube-proxy', cert: await read(p.kubeProxy.cert), key: await read(p.kubeProxy.key) }),
      ];
      expect((await nodeKubeconfigs(ctx)).map((f) => f.content)).toEqual(before);
      expect(await apiLbFiles(ctx)).toEqual([]);
      const g = await apiLbTask.gather(ctx);
      expect(apiLbTask.plan!(ctx, g)).toEqual([]);
    }
  });

  it('one master: the workspace admin kubeconfig is as before (one cluster, one context); two: one more per other master', async () => {
    const one = specWith(1);
    const p = pkiPaths(ws[1]!);
    const cluster = clusterName(one);
    const before = buildKubeconfig({ cluster, server: 'https://10.30.0.111:6443', ca: await readFile(p.ca.cert), user: `${cluster}-admin`, cert: await readFile(p.admin.cert), key: await readFile(p.admin.key), context: cluster });
    expect(await adminKubeconfig({ spec: one, pki: p })).toBe(before);
    const two = YAML.parse(await adminKubeconfig({ spec: specWith(2), pki: pkiPaths(ws[2]!) })) as { contexts: Array<{ name: string }>; clusters: Array<{ name: string; cluster: { server: string } }>; 'current-context': string };
    expect(two['current-context']).toBe('kcore-lb');
    expect(two.clusters.map((c) => [c.name, c.cluster.server])).toEqual([
      ['kcore-lb', 'https://10.30.0.111:6443'],
      ['kcore-lb-kube-master-02', 'https://10.30.0.112:6443'],
    ]);
  });

  it('one master after two: the static pod left on a worker is planned for removal', async () => {
    const spec = specWith(1);
    const ctx = ctxFor(spec, ws[1]!, 'kube-worker-01', { exec: async (cmd: string) => ({ exitCode: cmd === `test -e ${API_LB_MANIFEST}` ? 0 : 1, stdout: '', stderr: '' }) });
    expect(apiLbTask.plan!(ctx, await apiLbTask.gather(ctx))).toEqual([`remove ${API_LB_MANIFEST} (one master: the node talks to it directly)`]);
  });

  it('the API server certificate names 127.0.0.1 and localhost (clients verify it through the load balancer)', async () => {
    const r = await exec('openssl', ['x509', '-noout', '-ext', 'subjectAltName', '-in', pkiPaths(ws[2]!).apiserver.cert]);
    expect(r.stdout).toMatch(/IP Address:127\.0\.0\.1\b/);
    expect(r.stdout).toMatch(/DNS:localhost\b/);
  });
});

describe('the smoke test', () => {
  it('asks /readyz through 127.0.0.1:6444 and from every master, with the node\'s own kubelet credentials; names what does not answer', async () => {
    const spec = specWith(2);
    const seen: string[] = [];
    const conn = {
      exec: async (cmd: string) => {
        seen.push(cmd);
        return cmd.includes('10.30.0.112') ? { exitCode: 1, stdout: '', stderr: 'The connection to the server 10.30.0.112:6443 was refused' } : { exitCode: 0, stdout: 'ok\n', stderr: '' };
      },
    };
    const ctx = ctxFor(spec, ws[2]!, 'kube-worker-01', conn);
    expect(apiLbSmokeTest.skip!(ctx)).toBeUndefined();
    const err = await apiLbSmokeTest.gather(ctx).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(TaskFailure);
    expect((err as Error).message.split('\n')[0]).toBe('from kube-worker-01: https://10.30.0.112:6443/readyz: The connection to the server 10.30.0.112:6443 was refused');
    expect(seen).toEqual(
      ['https://127.0.0.1:6444', 'https://10.30.0.111:6443', 'https://10.30.0.112:6443'].map((s) => `/opt/bin/kubectl --kubeconfig=/etc/kubernetes/kubelet.kubeconfig --server=${s} --request-timeout=5s get --raw /readyz`),
    );
    // All answer: it passes.
    const fine = ctxFor(spec, ws[2]!, 'kube-worker-02', { exec: async () => ({ exitCode: 0, stdout: 'ok\n', stderr: '' }) });
    await expect(apiLbSmokeTest.gather(fine)).resolves.toBeUndefined();
    // Masters and one-master clusters have no load balancer: skipped, saying why.
    expect(apiLbSmokeTest.skip!(ctxFor(spec, ws[2]!, 'kube-master-01'))).toMatch(/no load balancer/);
    expect(apiLbSmokeTest.skip!(ctxFor(specWith(1), ws[1]!, 'kube-worker-01'))).toMatch(/^one master/);
  });
});
