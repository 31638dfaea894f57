// Failover through the local API load balancer, for real: Debian's haproxy runs the configuration
// kcore-wizard generates (src/roles/kube-worker/apiserver-lb.ts) on a worker test host, in front of two
// TLS backends on two master test hosts that serve with the API server certificate kcore-wizard
// generated for them (node's https module answering /readyz). A client on the worker verifies TLS with
// the cluster CA through 127.0.0.1:6444 and keeps succeeding while one backend is stopped, then the
// other; a backend that still listens but answers /readyz 500 is taken out of rotation by the check.
// Light hosts (network namespaces with this machine's binaries): test/hosts/README.md.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunHosts, startSshHosts, type TestHosts } from '../hosts/index.js';
import { ensurePki, pkiPaths } from '../../src/pki/index.js';
import { pkiInput } from '../../src/roles/pki/index.js';
import { haproxyConfig } from '../../src/roles/kube-worker/apiserver-lb.js';
import { defaultSpec, type ClusterSpec } from '../../src/spec/index.js';

const NODE = process.execPath;
const MASTERS = ['kube-master-01', 'kube-master-02'] as const;

// A stand-in API server: TLS with the generated apiserver certificate, /readyz answers "ok <name>"
// (or 500 when started "unready": it listens, as an API server that lost etcd does).
const BACKEND = `
import { createServer } from 'node:https';
import { readFileSync } from 'node:fs';
const [name, ip, mode] = process.argv.slice(2);
createServer({ cert: readFileSync('/tmp/apiserver.crt'), key: readFileSync('/tmp/apiserver.key') }, (req, res) => {
  const ready = mode !== 'unready';
  res.writeHead(req.url === '/readyz' && ready ? 200 : 500, { 'content-type': 'text/plain' });
  res.end(ready ? 'ok ' + name : 'not ready ' + name);
}).listen(6443, ip);
`;

let hosts: TestHosts;
let dir: string;
let spec: ClusterSpec;
const pids = new Map<string, number>();

async function sh(host: string, cmd: string, input?: string): Promise<string> {
  const r = await hosts.exec(host, cmd, { input, timeoutMs: 30_000 });
  if (r.exitCode !== 0) throw new Error(`${host}: ${cmd}: exit ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

/** Start a background process inside a host; returns its PID (stopped by PID, never by name). */
async function spawnIn(host: string, cmd: string, log: string): Promise<number> {
  const pid = Number((await sh(host, `nohup ${cmd} >${log} 2>&1 </dev/null & echo $!`)).trim());
  expect(pid).toBeGreaterThan(1);
  return pid;
}

async function startBackend(name: string, mode: 'ready' | 'unready' = 'ready') {
  const ip = spec.machines!.find((m) => m.name === name)!.address;
  pids.set(name, await spawnIn(name, `${NODE} /tmp/backend.mjs ${name} ${ip} ${mode}`, '/tmp/backend.log'));
}

async function stopBackend(name: string) {
  const pid = pids.get(name)!;
  await sh(name, `kill ${pid}; for i in $(seq 1 50); do kill -0 ${pid} 2>/dev/null || exit 0; sleep 0.1; done; exit 1`);
  pids.delete(name);
}

/** One request through the load balancer, TLS verified with the cluster CA for 127.0.0.1. */
async function request(): Promise<{ ok: boolean; body: string }> {
  const r = await hosts.exec('kube-worker-01', 'curl -sS --max-time 5 --cacert /tmp/ca.crt -w "\\n%{http_code}" https://127.0.0.1:6444/readyz', { timeoutMs: 15_000 });
  const [body = '', code = ''] = r.stdout.trim().split('\n');
  return { ok: r.exitCode === 0 && code === '200', body: r.exitCode === 0 ? body : r.stderr.trim() };
}

/** `count` requests, `gapMs` apart; every answer. */
async function loop(count: number, gapMs = 250): Promise<Array<{ ok: boolean; body: string }>> {
  const out: Array<{ ok: boolean; body: string }> = [];
  for (let i = 0; i < count; i++) {
    out.push(await request());
    await new Promise((r) => setTimeout(r, gapMs));
  }
  return out;
}

/** Bounded wait until a request is answered by `name` (the check has put it back in rotation). */
async function waitServedBy(name: string, tries = 60) {
  for (let i = 0; i < tries; i++) {
    const seen = await loop(2, 250);
    if (seen.some((r) => r.ok && r.body === `ok ${name}`)) return;
  }
  throw new Error(`${name} never answered through the load balancer; haproxy log:\n${await sh('kube-worker-01', 'tail -n 20 /tmp/haproxy.log')}`);
}

beforeAll(async () => {
  const can = await canRunHosts();
  if (!can.ok) throw new Error(`real test hosts cannot run here: ${can.reason}`);
  hosts = await startSshHosts({ count: 3, names: [...MASTERS, 'kube-worker-01'], ips: [111, 112, 121] });
  spec = defaultSpec({ name: 'lbtest', provider: 'existing' });
  spec.network.prefix = hosts.prefix;
  spec.groups['kube-master'].count = 2;
  spec.groups['kube-worker'].count = 1;
  spec.machines = [
    { name: 'etcd-01', address: `${hosts.prefix}.101`, group: 'etcd', port: 22 },
    { name: 'kube-master-01', address: `${hosts.prefix}.111`, group: 'kube-master', port: 22 },
    { name: 'kube-master-02', address: `${hosts.prefix}.112`, group: 'kube-master', port: 22 },
    { name: 'kube-worker-01', address: `${hosts.prefix}.121`, group: 'kube-worker', port: 22 },
  ];
  dir = await mkdtemp(path.join(tmpdir(), 'kcore-lb-failover-'));
  await ensurePki(dir, pkiInput(spec));
  const p = pkiPaths(dir);
  const ca = await readFile(p.ca.cert, 'utf8');
  for (const m of MASTERS) {
    await sh(m, 'cat > /tmp/apiserver.crt', await readFile(p.apiserver.cert, 'utf8'));
    await sh(m, 'umask 077; cat > /tmp/apiserver.key', await readFile(p.apiserver.key, 'utf8'));
    await sh(m, 'cat > /tmp/backend.mjs', BACKEND);
  }
  await sh('kube-worker-01', 'cat > /tmp/ca.crt', ca);
  // The configuration the worker gets, but for the CA's place (the pod sees it in /usr/local/etc/haproxy).
  await sh('kube-worker-01', 'cat > /tmp/haproxy.cfg', haproxyConfig(spec, { name: 'kube-worker-01' }, { caFile: '/tmp/ca.crt' }));
  expect(await sh('kube-worker-01', '/usr/sbin/haproxy -c -f /tmp/haproxy.cfg 2>&1')).toMatch(/Configuration file is valid/);
}, 300_000);

afterAll(async () => {
  for (const [host, pid] of pids) await hosts?.exec(host, `kill ${pid} 2>/dev/null; true`).catch(() => undefined);
  await hosts?.teardown();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('local API load balancer (Debian haproxy, generated configuration, two TLS backends)', () => {
  it('starts without any API server, then serves both masters', async () => {
    // haproxy first, no backend up: it must start anyway (the kubelet starts it before any API server).
    pids.set('kube-worker-01', await spawnIn('kube-worker-01', '/usr/sbin/haproxy -db -f /tmp/haproxy.cfg', '/tmp/haproxy.log'));
    await new Promise((r) => setTimeout(r, 1500));
    expect((await sh('kube-worker-01', `kill -0 ${pids.get('kube-worker-01')} && echo alive`)).trim()).toBe('alive');
    expect((await request()).ok).toBe(false);
    for (const m of MASTERS) await startBackend(m);
    for (const m of MASTERS) await waitServedBy(m);
  });

  it('keeps answering while master-01 is stopped, then while master-02 is stopped once master-01 is back', async () => {
    await stopBackend('kube-master-01');
    const a = await loop(20);
    expect(a.filter((r) => !r.ok)).toEqual([]);
    expect(new Set(a.map((r) => r.body))).toEqual(new Set(['ok kube-master-02']));

    await startBackend('kube-master-01');
    await waitServedBy('kube-master-01');
    await stopBackend('kube-master-02');
    const b = await loop(20);
    expect(b.filter((r) => !r.ok)).toEqual([]);
    expect(new Set(b.map((r) => r.body))).toEqual(new Set(['ok kube-master-01']));
    console.log(`failover: ${a.length + b.length} requests through 127.0.0.1:6444, ${[...a, ...b].filter((r) => r.ok).length} answered (${a.length} with master-01 down, ${b.length} with master-02 down)`);
  });

  it('takes a master that listens but is not ready (/readyz 500) out of rotation', async () => {
    await startBackend('kube-master-02', 'unready');
    // Two failed checks, 2 s apart, and it is out (fall 2, inter 2s); until then it was never in (rise 2).
    await new Promise((r) => setTimeout(r, 5000));
    const c = await loop(12);
    expect(c.filter((r) => !r.ok)).toEqual([]);
    // With a plain TCP check it would be back in rotation by now, and these requests would get its 500.
    expect(new Set(c.map((r) => r.body))).toEqual(new Set(['ok kube-master-01']));
  });
});
