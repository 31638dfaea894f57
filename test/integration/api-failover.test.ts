// The admin side of losing master-01, on real hosts: two light test hosts are the masters, each running a
// stand-in API server (node's https module, TLS with the API server certificate kcore-wizard generated,
// as in apiserver-lb.test.ts: no Kubernetes API server can run here). Everything else is real: the
// masters' /opt/bin/kubectl is this machine's kubectl (Debian's kubernetes-client, see test/hosts/README.md)
// reading the admin kubeconfig the kube-master role writes, over TLS with the generated client certificate;
// the dashboard's effects over real SSH; the add-ons role through the real engine (a dry run: it reads,
// changes nothing); `kcore-wizard kubeconfig --healthy` from this machine over TLS to the hosts' addresses.
// With both stand-ins up every one of them uses kube-master-01; with master-01's stopped (its host still
// answers SSH, as a master whose API server died does) every one moves to kube-master-02.
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { canRunHosts, startSshHosts, type TestHosts } from '../hosts/index.js';
import { layoutHosts, specForHosts, workspaceFor } from '../support/cluster.js';
import { ensurePki, pkiPaths } from '../../src/pki/index.js';
import { pkiInput } from '../../src/roles/pki/index.js';
import { KNOWN_HOSTS_FILE, runConverge } from '../../src/converge/run.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { chooseMasterScript, mastersOf, parseChoice } from '../../src/health/api-master.js';
import { createDashboardController, dashboardHosts, sshEffects, type DashboardController } from '../../src/health/actions.js';
import { snapshot } from '../../src/health/report.js';
import { addonsRole } from '../../src/roles/addons/index.js';
import { adminKubeconfig, adminKubeconfigPath, kubectlRole, writeSecretFile } from '../../src/roles/kubectl/index.js';
import { ADMIN_KUBECONFIG, buildKubeconfig, clusterName } from '../../src/roles/kube-common/index.js';
import { kubeconfigCommand } from '../../src/commands/kubeconfig.js';
import { parseCommandArgs } from '../../src/commands/args.js';
import type { ClusterSpec } from '../../src/spec/index.js';

const exec = promisify(execFile);
const NODE = process.execPath;
const LAYOUT = { etcd: 1, 'kube-master': 2, 'kube-worker': 1 };
const MASTERS = layoutHosts(LAYOUT).filter((h) => h.group === 'kube-master');

// A stand-in API server: /readyz "ok" (what kube-apiserver answers when ready), /api/v1/nodes a NodeList
// (the shape GET /api/v1/nodes returns), /whoami its name (to see where a plain kubectl went); every
// request logged with the client certificate's CN, so a test can see who asked whom.
const BACKEND = `
import { createServer } from 'node:https';
import { readFileSync, appendFileSync } from 'node:fs';
const [name, ip] = process.argv.slice(2);
const node = (n) => ({ metadata: { name: n }, status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }] } });
createServer({ cert: readFileSync('/tmp/apiserver.crt'), key: readFileSync('/tmp/apiserver.key'), ca: readFileSync('/tmp/ca.crt'), requestCert: true, rejectUnauthorized: false }, (req, res) => {
  const cn = req.socket.getPeerCertificate()?.subject?.CN ?? '-';
  appendFileSync('/tmp/requests.log', req.method + ' ' + req.url + ' ' + cn + '\\n');
  const path = req.url.split('?')[0];
  if (path === '/readyz') return res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  if (path === '/whoami') return res.writeHead(200, { 'content-type': 'text/plain' }).end(name);
  if (path === '/api/v1/nodes') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'NodeList', apiVersion: 'v1', items: ['kube-master-01', 'kube-master-02', 'kube-worker-01'].map(node) }));
  res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
}).listen(6443, ip);
`;

let hosts: TestHosts;
let spec: ClusterSpec;
let ws: string;
let dash: DashboardController | undefined;
const pids = new Map<string, number>();

async function sh(host: string, cmd: string, input?: string): Promise<string> {
  const r = await hosts.exec(host, cmd, { input, timeoutMs: 30_000 });
  if (r.exitCode !== 0) throw new Error(`${host}: ${cmd}: exit ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

async function startBackend(name: string) {
  const ip = spec.machines!.find((m) => m.name === name)!.address;
  const pid = Number((await sh(name, `nohup ${NODE} /tmp/backend.mjs ${name} ${ip} >/tmp/backend.log 2>&1 </dev/null & echo $!`)).trim());
  expect(pid).toBeGreaterThan(1);
  pids.set(name, pid);
  // Listening: a TCP connect from the host itself succeeds.
  const probe = `${NODE} -e "require('net').connect(6443, '${ip}').on('connect', () => process.exit(0)).on('error', () => process.exit(1))"`;
  const r = await hosts.exec(name, `for i in $(seq 1 100); do ${probe} && exit 0; sleep 0.1; done; exit 1`, { timeoutMs: 60_000 });
  if (r.exitCode !== 0) throw new Error(`${name}: the stand-in API server does not listen: ${await sh(name, 'cat /tmp/backend.log')}`);
}

async function stopBackend(name: string) {
  const pid = pids.get(name)!;
  await sh(name, `kill ${pid}; for i in $(seq 1 50); do kill -0 ${pid} 2>/dev/null || exit 0; sleep 0.1; done; exit 1`);
  pids.delete(name);
}

/** The choice as the add-ons role makes it, run on master-01 (up over SSH whatever its API server does). */
async function chooserOnMaster01() {
  const masters = mastersOf(spec);
  return parseChoice(masters, await sh('kube-master-01', chooseMasterScript(masters)));
}

/** The add-ons role through the real engine, as `plan` runs it (dry, no smoke tests). */
async function addonsPlan() {
  const events: EngineEvent[] = [];
  const summary = await runConverge({ workspace: ws, spec, roles: [addonsRole], limit: ['kube-master'], dryRun: true, skipTags: ['test'], signal: new AbortController().signal, emit: (e) => events.push(e) });
  const out = (task: string) => events.filter((e): e is Extract<EngineEvent, { type: 'task-output' }> => e.type === 'task-output' && e.task === task).map((e) => `${e.host}: ${e.line}`);
  const end = (task: string) => events.find((e): e is Extract<EngineEvent, { type: 'task-end' }> => e.type === 'task-end' && e.task === task);
  return { summary, choice: out('a master whose API server answers /readyz'), gate: end('API server answers /readyz') };
}

async function kubeconfigHealthy(extra: string[] = [], env: NodeJS.ProcessEnv = {}) {
  let stdout = '';
  let stderr = '';
  const { values, positionals } = parseCommandArgs(kubeconfigCommand, ['--dir', ws, '--healthy', '--output', 'json', ...extra]);
  const code = await kubeconfigCommand.run({
    values: values as Record<string, string | boolean | string[] | undefined>,
    positionals,
    stdout: { write: (s: string) => ((stdout += s), true) },
    stderr: { write: (s: string) => ((stderr += s), true) },
    stdin: { isTTY: false },
    env,
    cwd: process.cwd(),
    signal: new AbortController().signal,
  } as never);
  return { code, json: stdout ? (JSON.parse(stdout) as { context: string | null; master: string | null; changed?: boolean; currentContext?: string; passed: Array<{ name: string; problem: string }> }) : null, stderr };
}

const requestsOn = async (host: string) => (await sh(host, 'cat /tmp/requests.log 2>/dev/null; true')).split('\n').filter(Boolean);

beforeAll(async () => {
  const can = await canRunHosts();
  if (!can.ok) throw new Error(`real test hosts cannot run here: ${can.reason}`);
  hosts = await startSshHosts({ count: MASTERS.length, names: MASTERS.map((h) => h.name), ips: MASTERS.map((h) => h.octet) });
  spec = specForHosts(hosts, LAYOUT);
  ws = await workspaceFor(spec);
  await writeFile(path.join(ws, KNOWN_HOSTS_FILE), hosts.knownHostsLines.join('\n') + '\n', { mode: 0o600 });
  await ensurePki(ws, pkiInput(spec));
  const p = pkiPaths(ws);
  const ca = await readFile(p.ca.cert, 'utf8');
  const cluster = clusterName(spec);
  for (const m of mastersOf(spec)) {
    await sh(m.name, 'cat > /tmp/apiserver.crt', await readFile(p.apiserver.cert, 'utf8'));
    await sh(m.name, 'umask 077; cat > /tmp/apiserver.key', await readFile(p.apiserver.key, 'utf8'));
    await sh(m.name, 'cat > /tmp/ca.crt', ca);
    await sh(m.name, 'cat > /tmp/backend.mjs', BACKEND);
    // What the kube-master role installs there: kubectl in /opt/bin, the admin kubeconfig naming its own API server.
    await sh(m.name, `mkdir -p /opt/bin /etc/kubernetes && ln -sf "$(command -v kubectl)" /opt/bin/kubectl`);
    const admin = buildKubeconfig({ cluster, server: m.server, ca, user: `${cluster}-admin`, cert: await readFile(p.admin.cert, 'utf8'), key: await readFile(p.admin.key, 'utf8') });
    await sh(m.name, `umask 077; cat > ${ADMIN_KUBECONFIG}`, admin);
  }
  await writeSecretFile(adminKubeconfigPath(ws), await adminKubeconfig({ spec, pki: p, workspace: ws }));
  for (const m of MASTERS) await startBackend(m.name);
  const masterHosts = await dashboardHosts(ws, spec, { limit: ['kube-master'] });
  dash = createDashboardController({ spec, hosts: masterHosts, intervalMs: 1000, timeoutMs: 10_000, effects: sshEffects({ workspace: ws, spec, intervalMs: 1000, timeoutMs: 10_000 }) });
}, 300_000);

afterAll(async () => {
  await dash?.close();
  for (const [host, pid] of pids) await hosts?.exec(host, `kill ${pid} 2>/dev/null; true`).catch(() => undefined);
  await hosts?.teardown();
  if (ws) await rm(ws, { recursive: true, force: true });
});

describe('losing master-01: the admin side moves to the next master whose /readyz answers', () => {
  it('with both API servers up, everything uses kube-master-01', async () => {
    const c = await chooserOnMaster01();
    expect(c.chosen?.name).toBe('kube-master-01');
    expect(c.passed).toEqual([]);

    const t0 = Date.now();
    const r = await snapshot(dash!);
    console.log(`dashboard snapshot with both API servers up: ${Date.now() - t0} ms`);
    expect(r.api).toMatchObject({ master: 'kube-master-01', failover: false, nodes: { total: 3, ready: 3 }, error: null });

    const a = await addonsPlan();
    expect(a.choice).toEqual([`kube-master-01: API server of kube-master-01 (${mastersOf(spec)[0]!.server})`]);
    expect(a.gate).toMatchObject({ host: 'kube-master-01', status: 'ok' });

    const k = await kubeconfigHealthy();
    expect(k).toMatchObject({ code: 0, json: { context: clusterName(spec), master: 'kube-master-01', changed: false } });
  }, 120_000);

  it('with master-01 up but its API server stopped: the chooser, the dashboard, the add-ons and the kubeconfig use kube-master-02', async () => {
    await stopBackend('kube-master-01');
    const before = (await requestsOn('kube-master-02')).length;

    const c = await chooserOnMaster01();
    expect(c.chosen?.name).toBe('kube-master-02');
    expect(c.passed).toHaveLength(1);
    expect(c.passed[0]).toMatchObject({ name: 'kube-master-01' });
    expect(c.passed[0]!.problem).toMatch(/refused/);

    // The dashboard: its cluster read (GET /api/v1/nodes with the admin certificate) went through master-02.
    const t0 = Date.now();
    const r = await snapshot(dash!);
    console.log(`dashboard snapshot with master-01's API server down: ${Date.now() - t0} ms (the read: ${JSON.stringify(r.api)})`);
    expect(r.api).toMatchObject({ master: 'kube-master-02', failover: true, nodes: { total: 3, ready: 3 }, error: null });
    expect(r.api!.passed.map((p) => p.name)).toEqual(['kube-master-01']);
    expect(dash!.store.getState().api).toMatchObject({ master: 'kube-master-02', first: 'kube-master-01', via: 'kube-master-01' });

    // The add-ons: the runner still picks master-01 (it answers SSH); the role's choice moves its API reads to master-02.
    const a = await addonsPlan();
    expect(a.choice).toHaveLength(1);
    expect(a.choice[0]).toMatch(new RegExp(`^kube-master-01: API server of kube-master-02 \\(${mastersOf(spec)[1]!.server.replace(/[.]/g, '\\.')}\\), passed over kube-master-01: .*refused`, 'i'));
    // Its /readyz gate asked master-02 and found it ready: nothing to wait for (with master-01's it would plan a wait).
    expect(a.gate).toMatchObject({ host: 'kube-master-01', status: 'ok' });
    const seen = (await requestsOn('kube-master-02')).slice(before);
    // The chooser on master-01 (twice: the dashboard's and the add-ons'), the gate, with the admin certificate.
    expect(seen.filter((l) => /^GET \/readyz(\?\S*)? kube-admin$/.test(l)).length, seen.join('\n')).toBeGreaterThanOrEqual(3);
    expect(seen.some((l) => /^GET \/api\/v1\/nodes(\?\S*)? kube-admin$/.test(l)), seen.join('\n')).toBe(true);

    // kcore-wizard kubeconfig --healthy from this machine: the workspace kubeconfig's current context moves.
    const k = await kubeconfigHealthy();
    expect(k).toMatchObject({ code: 0, json: { context: `${clusterName(spec)}-kube-master-02`, master: 'kube-master-02', changed: true } });
    const file = adminKubeconfigPath(ws);
    expect((YAML.parse(await readFile(file, 'utf8')) as { 'current-context': string })['current-context']).toBe(`${clusterName(spec)}-kube-master-02`);
    // A plain kubectl with that file now reaches master-02's API server.
    const who = await exec('kubectl', ['--kubeconfig', file, '--request-timeout=5s', 'get', '--raw', '/whoami']);
    expect(who.stdout.trim()).toBe('kube-master-02');
    // --merge --use-context carries it into the user's own kubeconfig.
    const mine = path.join(ws, 'my-kubeconfig');
    const m = await kubeconfigHealthy(['--merge', '--use-context'], { KUBECONFIG: mine });
    expect(m).toMatchObject({ code: 0, json: { context: `${clusterName(spec)}-kube-master-02`, currentContext: `${clusterName(spec)}-kube-master-02`, changed: false } });
    expect((await exec('kubectl', ['--kubeconfig', mine, '--request-timeout=5s', 'get', '--raw', '/whoami'])).stdout.trim()).toBe('kube-master-02');
    // converge keeps that choice: the kubectl role plans no change to the file.
    const events: EngineEvent[] = [];
    await runConverge({ workspace: ws, spec, roles: [kubectlRole], dryRun: true, skipTags: ['test'], signal: new AbortController().signal, emit: (e) => events.push(e) });
    expect(events.find((e) => e.type === 'task-end' && e.task === 'admin kubeconfig in the workspace')).toMatchObject({ status: 'ok' });
  }, 120_000);

  it('with no API server up: none is chosen, and the kubeconfig is left as it was (exit 1)', async () => {
    await stopBackend('kube-master-02');
    const c = await chooserOnMaster01();
    expect(c.chosen).toBeNull();
    expect(c.passed.map((p) => p.name)).toEqual(['kube-master-01', 'kube-master-02']);
    const r = await snapshot(dash!);
    expect(r.api).toMatchObject({ master: null, nodes: null });
    const text = await readFile(adminKubeconfigPath(ws), 'utf8');
    const k = await kubeconfigHealthy();
    expect(k.code).toBe(1);
    expect(k.stderr).toMatch(/no master's API server answers \/readyz from this machine \(kube-master-01: .*; kube-master-02: .*\)/);
    expect(await readFile(adminKubeconfigPath(ws), 'utf8')).toBe(text);
  }, 120_000);
});
