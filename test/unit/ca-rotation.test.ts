// CA rotation (`certs renew --ca`): the three phases of the workspace PKI and what the Kubernetes files
// carry in each, with a recording roll standing in for the rolling converge (pure planning logic: the
// rollout on real hosts is proven in test/integration/etcd-ca-rotation.test.ts on real etcd; no
// Kubernetes binaries exist here, so the Kubernetes side is proven at the level of the rendered files).
//
// Upstream, each component reads its CA as follows (why a bundle works where it is used):
// - kube-apiserver --client-ca-file / --kubelet-certificate-authority and kubelet
//   authentication.x509.clientCAFile: staging/src/k8s.io/apiserver/pkg/server/dynamiccertificates
//   (dynamic_cafile_content.go: cert.NewPoolFromBytes → every PEM block of the file).
// - kubeconfig certificate-authority-data: client-go transport/tls config → x509.CertPool
//   AppendCertsFromPEM (every certificate of the data).
// - etcd --trusted-ca-file / --peer-trusted-ca-file: client/pkg/transport (TLSInfo → tlsutil.NewCertPool,
//   a loop over pem.Decode): every certificate of the file.
// - kube-controller-manager --cluster-signing-cert-file takes exactly one certificate
//   (pkg/controller/certificates/signer/signer.go caProvider.setCA: "expected 1 certificate, found %d"),
//   hence ca-signing.crt; --root-ca-file takes the bundle.
// - kubernetes.io "Manual Rotation of CA Certificates" (docs/tasks/tls/manual-rotation-of-ca-certificates):
//   distribute old+new CA to every trust file first, then reissue, then remove the old CA.
import { X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { HostInfo, RunContext, TaskContext } from '../../src/engine/task.js';
import { ensurePki, pkiPaths } from '../../src/pki/index.js';
import { readRotation, splitPemBundle, type RotationPhase } from '../../src/pki/rotate.js';
import { rotateCas } from '../../src/converge/ca-rotation.js';
import { pkiInput } from '../../src/roles/pki/index.js';
import { apiserverUnit, controllerManagerUnit, kubeletConfig } from '../../src/roles/kube-common/index.js';
import { certificates as masterCertificates, masterKubeconfigs } from '../../src/roles/kube-master/index.js';
import { nodeKubeconfigs } from '../../src/roles/kube-worker/index.js';
import { defaultSpec, hostsOf, plannedHosts, saveSpec } from '../../src/spec/index.js';
import { runCli } from '../support/cli.js';

const spec = defaultSpec({ name: 'demo' });
spec.groups.etcd.count = 3;
const input = pkiInput(spec);
let dir: string;
let base: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(tmpdir(), 'kcore-ca-rotation-'));
  base = path.join(dir, 'base');
  await fs.mkdir(base);
  await saveSpec(base, spec);
  await ensurePki(base, input, { caKeyBits: 2048 });
}, 60_000);
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function copy(name: string): Promise<string> {
  const ws = path.join(dir, name);
  await fs.cp(base, ws, { recursive: true });
  return ws;
}

const fp = (pem: string) => new X509Certificate(pem).fingerprint256;
const bundle = async (file: string) => splitPemBundle(await fs.readFile(file, 'utf8')).map(fp);

function ctxFor(ws: string, hostName: string): TaskContext {
  const hosts = plannedHosts(spec).map((h) => ({ ...h, target: { name: h.name, host: h.ip, port: 22, user: 'core' } })) as HostInfo[];
  const run = { spec, workspace: ws, hosts, pki: pkiPaths(ws), dryRun: false, facts: new Map(), hostsOf: (g: string) => hosts.filter((h) => h.group === g) } as unknown as RunContext;
  return { run, host: hosts.find((h) => h.name === hostName)!, output: () => undefined } as unknown as TaskContext;
}

/** Which CA (by fingerprint) signed a leaf of the workspace. */
async function signer(ws: string, id: string, cas: Record<string, string>): Promise<string> {
  const leaf = new X509Certificate(await fs.readFile(path.join(ws, 'pki', `${id}.crt`)));
  const hit = Object.entries(cas).find(([, pem]) => leaf.verify(new X509Certificate(pem).publicKey));
  return hit ? hit[0] : 'unknown';
}

/** The CA data of a kubeconfig, as fingerprints of its certificates. */
function kubeconfigCas(text: string): string[] {
  const kc = YAML.parse(text) as { clusters: Array<{ cluster: { 'certificate-authority-data': string } }> };
  return splitPemBundle(Buffer.from(kc.clusters[0]!.cluster['certificate-authority-data'], 'base64').toString()).map(fp);
}

interface Seen {
  phase: RotationPhase;
  clusterBundle: string[];
  etcdBundle: string[];
  leaves: Record<string, string>;
  kubeconfigs: Record<string, string[]>;
  masterCaCrt: string[];
  signingCrt: string[];
  signingMatchesKey: boolean;
}

/** What a host would get at this moment: the workspace PKI and the files the roles build from it. */
async function look(ws: string, phase: RotationPhase, cas: Record<string, string>): Promise<Seen> {
  const p = pkiPaths(ws);
  const master = hostsOf(spec, 'kube-master')[0]!.name;
  const worker = hostsOf(spec, 'kube-worker')[0]!.name;
  const mfiles = await masterCertificates(ctxFor(ws, master));
  const byPath = (files: Array<{ path: string; content: unknown }>, p2: string) => String(files.find((f) => f.path === p2)!.content);
  const kcs = [...(await masterKubeconfigs(ctxFor(ws, master))), ...(await nodeKubeconfigs(ctxFor(ws, worker)))];
  const signing = byPath(mfiles, '/etc/kubernetes/pki/ca-signing.crt');
  const key = await fs.readFile(p.ca.key, 'utf8');
  const leaves: Record<string, string> = {};
  for (const id of ['apiserver', 'admin', `kubelet/${worker}`, 'etcd/server-etcd-01', 'etcd/peer-etcd-02', 'etcd/kcore-etcd-client', 'etcd/apiserver-etcd-client']) leaves[id] = await signer(ws, id, cas);
  return {
    phase,
    clusterBundle: await bundle(p.ca.cert),
    etcdBundle: await bundle(p.etcd.ca.cert),
    leaves,
    kubeconfigs: Object.fromEntries(kcs.map((f) => [path.basename(f.path), kubeconfigCas(String(f.content))])),
    masterCaCrt: splitPemBundle(byPath(mfiles, '/etc/kubernetes/pki/ca.crt')).map(fp),
    signingCrt: splitPemBundle(signing).map(fp),
    signingMatchesKey: new X509Certificate(signing).checkPrivateKey((await import('node:crypto')).createPrivateKey(key)),
  };
}

describe('CA rotation of the workspace PKI, three phases', () => {
  it('phase 1 trusts old+new, phase 2 reissues with the new CA (old still trusted), phase 3 drops the old CA; then archives it', async () => {
    const ws = await copy('full');
    const p = pkiPaths(ws);
    const old = { ca: await fs.readFile(p.ca.cert, 'utf8'), etcd: await fs.readFile(p.etcd.ca.cert, 'utf8') };
    const saBefore = await fs.readFile(p.serviceAccount.key, 'utf8');
    const seen: Seen[] = [];
    let cas: Record<string, string> = {};
    const lines: string[] = [];
    const r = await rotateCas(ws, input, {
      caKeyBits: 2048,
      say: (l) => lines.push(l),
      async roll(phase) {
        if (phase === 1 || !cas.newCa) {
          cas = { oldCa: old.ca, oldEtcd: old.etcd, newCa: await fs.readFile(path.join(p.root, 'rotation/ca/new.crt'), 'utf8'), newEtcd: await fs.readFile(path.join(p.root, 'rotation/etcd-ca/new.crt'), 'utf8') };
        }
        seen.push(await look(ws, phase, cas));
        return 0;
      },
    });
    expect(r).toMatchObject({ code: 0, stoppedIn: null });
    const [O, N, OE, NE] = [fp(old.ca), fp(cas.newCa!), fp(old.etcd), fp(cas.newEtcd!)];
    expect(O).not.toBe(N);
    expect(seen.map((s) => s.phase)).toEqual([1, 2, 3]);
    const cluster = ['apiserver', 'admin', 'kubelet/kube-worker-01'];
    const etcd = ['etcd/server-etcd-01', 'etcd/peer-etcd-02', 'etcd/kcore-etcd-client', 'etcd/apiserver-etcd-client'];
    const signedBy = (s: Seen, c: string, e: string) => expect(s.leaves).toEqual(Object.fromEntries([...cluster.map((id) => [id, c]), ...etcd.map((id) => [id, e])]));
    const [s1, s2, s3] = seen as [Seen, Seen, Seen];
    // Phase 1: bundles old+new everywhere (signing CA first), leaves untouched, the controller manager signs with the old CA.
    expect(s1.clusterBundle).toEqual([O, N]);
    expect(s1.etcdBundle).toEqual([OE, NE]);
    signedBy(s1, 'oldCa', 'oldEtcd');
    for (const [name, c] of Object.entries(s1.kubeconfigs)) expect(c, name).toEqual([O, N]);
    expect(s1.masterCaCrt).toEqual([O, N]);
    expect(s1.signingCrt).toEqual([O]);
    expect(s1.signingMatchesKey).toBe(true);
    // Phase 2: every leaf by the new CAs; the old CA still trusted (hosts not yet rolled present old leaves).
    expect(s2.clusterBundle).toEqual([N, O]);
    expect(s2.etcdBundle).toEqual([NE, OE]);
    signedBy(s2, 'newCa', 'newEtcd');
    for (const [name, c] of Object.entries(s2.kubeconfigs)) expect(c, name).toEqual([N, O]);
    expect(s2.signingCrt).toEqual([N]);
    expect(s2.signingMatchesKey).toBe(true);
    // Phase 3: the new CA alone.
    expect(s3.clusterBundle).toEqual([N]);
    expect(s3.etcdBundle).toEqual([NE]);
    signedBy(s3, 'newCa', 'newEtcd');
    for (const [name, c] of Object.entries(s3.kubeconfigs)) expect(c, name).toEqual([N]);
    expect(s3.masterCaCrt).toEqual([N]);
    expect(Object.keys(s3.kubeconfigs).sort()).toEqual(['admin.kubeconfig', 'controller-manager.kubeconfig', 'flannel.kubeconfig', 'kube-proxy.kubeconfig', 'kubelet.kubeconfig', 'scheduler.kubeconfig']);
    // The units point at those files: trust files take the bundle, the signer its single certificate.
    const m = hostsOf(spec, 'kube-master')[0]!;
    expect(apiserverUnit(spec, m)).toContain('--client-ca-file=/etc/kubernetes/pki/ca.crt ');
    expect(apiserverUnit(spec, m)).toContain('--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt ');
    expect(controllerManagerUnit(spec, m)).toContain('--cluster-signing-cert-file=/etc/kubernetes/pki/ca-signing.crt ');
    expect(controllerManagerUnit(spec, m)).toContain('--root-ca-file=/etc/kubernetes/pki/ca.crt ');
    expect(kubeletConfig(spec, m, { resolvConf: '/etc/resolv.conf' })).toContain('clientCAFile: /etc/kubernetes/pki/ca.crt');
    // The service-account key is kept: tokens stay valid.
    expect(await fs.readFile(p.serviceAccount.key, 'utf8')).toBe(saBefore);
    // The end: the old CAs archived (moved, key 0600), no working copies, no state, nothing left to reissue.
    expect(await readRotation(ws)).toBeNull();
    await expect(fs.access(path.join(p.root, 'rotation'))).rejects.toThrow();
    const arch = path.join(p.root, r.archiveDir!);
    expect(r.archiveDir).toMatch(/^archive\/\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z$/);
    expect(await fs.readFile(path.join(arch, 'ca.crt'), 'utf8')).toBe(old.ca);
    expect(await fs.readFile(path.join(arch, 'etcd/ca.crt'), 'utf8')).toBe(old.etcd);
    expect((await fs.stat(path.join(arch, 'ca.key'))).mode & 0o777).toBe(0o600);
    expect((await fs.stat(path.join(arch, 'etcd/ca.key'))).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await fs.readFile(path.join(arch, 'ca-rotation.json'), 'utf8'))).toMatchObject({ phase: 3, rolled: true });
    expect((await ensurePki(ws, input)).changed).toEqual([]);
    expect(lines.at(-1)).toBe(`CA rotation done: the old CAs are archived in pki/${r.archiveDir}/ (moved, not deleted)`);
  }, 60_000);

  it('a stop in a phase is recorded; a rerun resumes that phase with the same new CA and goes on', async () => {
    const ws = await copy('resume');
    const p = pkiPaths(ws);
    const calls: RotationPhase[] = [];
    const first = await rotateCas(ws, input, { caKeyBits: 2048, say: () => undefined, roll: async (phase) => (calls.push(phase), phase === 2 ? 1 : 0) });
    expect(first).toMatchObject({ code: 1, stoppedIn: 2 });
    expect(await readRotation(ws)).toMatchObject({ phase: 2, rolled: false });
    const newCa = await fs.readFile(path.join(p.root, 'rotation/ca/new.crt'), 'utf8');
    // While stopped, a converge's pki role changes nothing (the bundle's first certificate signs).
    expect((await ensurePki(ws, input)).changed).toEqual([]);
    const lines: string[] = [];
    const second = await rotateCas(ws, input, { caKeyBits: 2048, say: (l) => lines.push(l), roll: async (phase) => (calls.push(phase), 0) });
    expect(second.code).toBe(0);
    expect(calls).toEqual([1, 2, 2, 3]);
    expect(lines[0]).toBe('resuming the CA rotation in phase 2 of 3');
    expect(await bundle(p.ca.cert)).toEqual([fp(newCa)]);
  }, 60_000);
});

describe('certs renew --ca, the command', () => {
  it('says what a CA rotation means and wants --yes off a terminal (exit 2, nothing changed)', async () => {
    const ws = await copy('cmd');
    const before = await fs.readFile(pkiPaths(ws).ca.cert, 'utf8');
    const r = await runCli(['certs', 'renew', ws, '--ca']);
    expect(r.code).toBe(2);
    for (const s of [
      'certs renew --ca would rotate the cluster CA and the etcd CA of cluster "demo" in three rolling passes',
      'Every component restarts in each pass',
      'Every kubeconfig kcore-wizard writes is reissued. Kubeconfigs handed out earlier',
      'Service-account tokens stay valid: they are signed with the service-account key (pki/sa.key), which is kept',
      'kcore-wizard does not restart pods',
      'pass --yes to confirm',
    ])
      expect(r.stderr).toContain(s);
    expect(await fs.readFile(pkiPaths(ws).ca.cert, 'utf8')).toBe(before);
    expect(await readRotation(ws)).toBeNull();
  });

  it('refuses a leaf renewal while a rotation is in progress', async () => {
    const ws = await copy('busy');
    await rotateCas(ws, input, { caKeyBits: 2048, say: () => undefined, roll: async () => 1 });
    const l = await runCli(['certs', ws]);
    expect(l.stdout).toContain('a CA rotation is in progress: phase 1 of 3; `kcore-wizard certs renew --ca` goes on with it');
    expect(l.stdout).toMatch(/\nca\.crt .*Trust bundle during a CA rotation: this signing CA and 1 more/);
    const r = await runCli(['certs', 'renew', ws, '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('a CA rotation is in progress (phase 1 of 3, pki/ca-rotation.json): finish it with `kcore-wizard certs renew --ca`');
  }, 60_000);
});
