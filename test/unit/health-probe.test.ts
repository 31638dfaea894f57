// The batched probe: the script it runs, what it makes of systemctl's and the checks' output, the
// verdicts; the smoke results file and the command log; the `--once` report.
import { readFileSync } from 'node:fs';
import { mkdtemp, mkdir, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseProbe, probeScript, unreachableHealth, type HostRef } from '../../src/health/probe.js';
import { loadLastSmoke, readLastCommands, recordSmokeResults, saveLastSmoke, smokeFromEvents } from '../../src/health/smoke.js';
import { formatReport, healthReport } from '../../src/health/report.js';
import type { EngineEvent } from '../../src/engine/events.js';

const etcd: HostRef = { name: 'etcd-01', group: 'etcd', ip: '10.0.0.101' };
const master: HostRef = { name: 'kube-master-01', group: 'kube-master', ip: '10.0.0.111' };
const worker: HostRef = { name: 'kube-worker-01', group: 'kube-worker', ip: '10.0.0.121' };

/** systemctl show's output, through the script's `sed 's/^/U /'`: one block per unit, blank line between. */
function units(...blocks: Array<[string, string, string, string]>): string {
  return blocks.map(([id, load, active, sub]) => `U Id=${id}.service\nU LoadState=${load}\nU ActiveState=${active}\nU SubState=${sub}`).join('\nU \n') + '\n';
}

describe('probe script', () => {
  it('etcd: one script with the units and etcdctl over TLS, bounded by timeout, only when the service runs', () => {
    const s = probeScript(etcd);
    expect(s).toContain('systemctl show --no-pager --property=Id,LoadState,ActiveState,SubState etcd ');
    expect(s).toContain('if systemctl is-active --quiet etcd; then out=$(timeout -k 1 4 env ETCDCTL_API=3 /opt/bin/etcdctl --endpoints=https://10.0.0.101:2379');
    expect(s).toContain('--cert=/etc/etcd/pki/kcore-client.crt');
    expect(s).toContain('endpoint health');
    expect(s).not.toContain('kubectl');
  });

  it('master: control-plane and node units, /readyz of its own API server, node Ready with the kubelet credentials', () => {
    const s = probeScript(master);
    expect(s).toContain('kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy flanneld 2>/dev/null');
    expect(s).toContain('--server=https://10.0.0.111:6443');
    expect(s).toContain('get --raw /readyz');
    expect(s).toContain('--kubeconfig=/etc/kubernetes/kubelet.kubeconfig');
    expect(s).toContain(`get node kube-master-01 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}'`);
    expect(s).not.toContain('etcdctl');
  });

  it('worker: node units and Ready only', () => {
    const s = probeScript(worker);
    expect(s).toContain('containerd kubelet kube-proxy flanneld');
    expect(s).not.toContain('readyz');
    expect(s).toContain('get node kube-worker-01');
  });
});

describe('probe verdicts', () => {
  it('healthy etcd member', () => {
    const out = units(['etcd', 'loaded', 'active', 'running']) + 'E 0 https://10.0.0.101:2379 is healthy: successfully committed proposal: took = 2.1ms\n';
    expect(parseProbe(etcd, out, 5, 40)).toMatchObject({
      verdict: 'healthy',
      reachable: true,
      problems: [],
      units: [{ name: 'etcd', load: 'loaded', active: 'active', sub: 'running' }],
      etcd: { ok: true, detail: 'https://10.0.0.101:2379 is healthy: successfully committed proposal: took = 2.1ms' },
      checkedAt: 5,
      durationMs: 40,
    });
  });

  it('stopped etcd: failing, said once (the check was not run)', () => {
    const out = units(['etcd', 'loaded', 'inactive', 'dead']) + 'E - the etcd service is not running\n';
    const h = parseProbe(etcd, out, 1, 1);
    expect(h.verdict).toBe('failing');
    expect(h.problems).toEqual(['etcd is inactive']);
    expect(h.etcd).toEqual({ ok: false, detail: 'the etcd service is not running' });
  });

  it('etcd running but not answering: the timeout is named', () => {
    const h = parseProbe(etcd, units(['etcd', 'loaded', 'active', 'running']) + 'E 124 \n', 1, 1);
    expect(h.problems).toEqual(['etcd member not healthy: no answer within 4 s']);
    const failed = parseProbe(etcd, units(['etcd', 'loaded', 'failed', 'failed']), 1, 1);
    expect(failed.problems).toEqual(['etcd is failed']);
    const restarting = parseProbe(etcd, units(['etcd', 'loaded', 'activating', 'auto-restart']), 1, 1);
    expect(restarting.problems).toEqual(['etcd is activating (auto-restart)']);
  });

  it('roles never ran: not installed, not failing', () => {
    const h = parseProbe(worker, units(['containerd', 'not-found', 'inactive', 'dead'], ['kubelet', 'not-found', 'inactive', 'dead'], ['kube-proxy', 'not-found', 'inactive', 'dead'], ['flanneld', 'not-found', 'inactive', 'dead']), 1, 1);
    expect(h.verdict).toBe('not-installed');
    expect(h.problems).toEqual(['none of containerd, kubelet, kube-proxy, flanneld is installed: run kcore-wizard converge']);
    // No systemctl at all (a light host): units unknown, same verdict.
    expect(parseProbe(etcd, '', 1, 1)).toMatchObject({ verdict: 'not-installed', units: [{ name: 'etcd', load: 'unknown' }] });
  });

  it('units are matched by Id whatever order systemctl prints them in; a unit not installed is no failure', () => {
    const out =
      units(['kube-scheduler', 'loaded', 'active', 'running'], ['kube-apiserver', 'loaded', 'active', 'running'], ['flanneld', 'not-found', 'inactive', 'dead'], ['kube-controller-manager', 'loaded', 'active', 'running'], ['kubelet', 'loaded', 'active', 'running'], ['kube-proxy', 'loaded', 'active', 'running'], ['containerd', 'loaded', 'active', 'running']) +
      'A 0 ok\nN 0 True\n';
    const h = parseProbe(master, out, 1, 1);
    expect(h.units.map((u) => `${u.name}:${u.load}:${u.active}`)).toEqual([
      'kube-apiserver:loaded:active',
      'kube-controller-manager:loaded:active',
      'kube-scheduler:loaded:active',
      'containerd:loaded:active',
      'kubelet:loaded:active',
      'kube-proxy:loaded:active',
      'flanneld:not-found:inactive',
    ]);
    expect(h).toMatchObject({ verdict: 'healthy', apiserver: { ok: true }, node: { ok: true, detail: 'Ready=True' } });
  });

  it('API server not ready and node NotReady are failures with the reason', () => {
    const all = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'containerd', 'kubelet', 'kube-proxy', 'flanneld'].map((u) => [u, 'loaded', 'active', 'running'] as [string, string, string, string]);
    const h = parseProbe(master, units(...all) + 'A 1 The connection to the server 10.0.0.111:6443 was refused\nN 0 False\n', 1, 1);
    expect(h.verdict).toBe('failing');
    expect(h.problems).toEqual(['API server /readyz: The connection to the server 10.0.0.111:6443 was refused', 'node kube-master-01 not Ready: Ready=False']);
  });

  it('unreachable: every unit unknown, the reason as the problem', () => {
    expect(unreachableHealth(etcd, 'connect ETIMEDOUT', 9, 3000)).toMatchObject({ verdict: 'unreachable', reachable: false, problems: ['connect ETIMEDOUT'], units: [{ name: 'etcd', load: 'unknown' }] });
  });
});

const ev = (e: Record<string, unknown>) => ({ at: 1000, ...e }) as EngineEvent;

describe('smoke results and command log', () => {
  it('keeps the results of tasks tagged test per host; a later run merges per host', async () => {
    const ws = await mkdtemp(path.join(tmpdir(), 'kcore-health-'));
    const events = [
      ev({ type: 'run-start', runId: 'r1', hosts: [], roles: [], dryRun: false }),
      ev({ type: 'task-end', host: 'etcd-01', role: 'etcd', task: 'etcd binaries', tags: [], status: 'ok', changes: [], durationMs: 1 }),
      ev({ type: 'task-end', host: 'etcd-01', role: 'etcd', task: 'etcd: member healthy over TLS', tags: ['test'], status: 'ok', changes: [], durationMs: 1 }),
      ev({ type: 'task-end', host: 'etcd-02', role: 'etcd', task: 'etcd: member healthy over TLS', tags: ['test'], status: 'failed', message: 'down', changes: [], durationMs: 1 }),
      ev({ type: 'run-end', at: 2000, status: 'failed', recap: {}, durationMs: 1 }),
    ];
    expect(smokeFromEvents(events)).toEqual({
      'etcd-01': { at: 2000, runId: 'r1', results: [{ task: 'etcd: member healthy over TLS', role: 'etcd', status: 'ok', message: undefined }] },
      'etcd-02': { at: 2000, runId: 'r1', results: [{ task: 'etcd: member healthy over TLS', role: 'etcd', status: 'failed', message: 'down' }] },
    });
    expect(await loadLastSmoke(ws)).toEqual({});
    await recordSmokeResults(ws, events);
    await saveLastSmoke(ws, { 'etcd-02': { at: 3000, results: [{ task: 'x', role: 'etcd', status: 'ok' }] } });
    const saved = await loadLastSmoke(ws);
    expect(Object.keys(saved)).toEqual(['etcd-01', 'etcd-02']);
    expect(saved['etcd-02']!.at).toBe(3000);
    expect(JSON.parse(await readFile(path.join(ws, '.kcore', 'last-smoke.json'), 'utf8')).version).toBe(1);
  });

  it('reads the last commands of a host from its log (first line of each)', async () => {
    const ws = await mkdtemp(path.join(tmpdir(), 'kcore-health-'));
    await mkdir(path.join(ws, '.kcore', 'logs'), { recursive: true });
    await writeFile(
      path.join(ws, '.kcore', 'logs', 'etcd-01.log'),
      '2026-11-26T20:00:00.000Z host key recorded: ssh-ed25519 SHA256:abc\n2026-11-26T20:00:01.000Z [sudo] exit=0 12ms: systemctl daemon-reload\n2026-11-26T20:00:02.000Z exit=1 40ms: a\n    b continued\n',
    );
    expect(await readLastCommands(ws, 'etcd-01', 2)).toEqual([
      { at: '2026-11-26T20:00:01.000Z', text: '[sudo] exit=0 12ms: systemctl daemon-reload' },
      { at: '2026-11-26T20:00:02.000Z', text: 'exit=1 40ms: a' },
    ]);
    expect(await readLastCommands(ws, 'nope')).toEqual([]);
  });
});

describe('--once report', () => {
  const state = () => ({
    cluster: 'demo',
    versions: { kubernetes: '1.33.1', etcd: '3.5.21' },
    hosts: [etcd, { ...etcd, name: 'etcd-02', ip: '10.0.0.102' }],
    health: {
      'etcd-01': parseProbe(etcd, units(['etcd', 'loaded', 'active', 'running']) + 'E 0 https://10.0.0.101:2379 is healthy\n', Date.UTC(2026, 10, 26, 21), 35),
      'etcd-02': parseProbe({ ...etcd, name: 'etcd-02', ip: '10.0.0.102' }, units(['etcd', 'loaded', 'inactive', 'dead']) + 'E - the etcd service is not running\n', Date.UTC(2026, 10, 26, 21), 30),
    },
    smoke: { 'etcd-01': { at: Date.UTC(2026, 10, 26, 20), results: [{ task: 'etcd: member healthy over TLS', role: 'etcd', status: 'ok' as const }] } },
  });

  it('the JSON shape: counts, healthy, per host status, units, checks, last smoke', () => {
    const r = healthReport(state(), Date.UTC(2026, 10, 26, 21, 0, 1));
    expect(r).toEqual({
      version: 1,
      cluster: 'demo',
      versions: { kubernetes: '1.33.1', etcd: '3.5.21' },
      checkedAt: '2026-11-26T21:00:01.000Z',
      healthy: false,
      counts: { total: 2, healthy: 1, failing: 1, unreachable: 0, notInstalled: 0, pending: 0 },
      hosts: [
        {
          name: 'etcd-01',
          group: 'etcd',
          ip: '10.0.0.101',
          status: 'healthy',
          reachable: true,
          problems: [],
          units: [{ name: 'etcd', installed: true, active: 'active', sub: 'running' }],
          checks: { etcd: { ok: true, detail: 'https://10.0.0.101:2379 is healthy' }, apiserver: null, node: null },
          checkedAt: '2026-11-26T21:00:00.000Z',
          durationMs: 35,
          lastSmoke: { at: '2026-11-26T20:00:00.000Z', passed: 1, failed: 0, skipped: 0, results: [{ task: 'etcd: member healthy over TLS', status: 'ok', message: null }] },
        },
        {
          name: 'etcd-02',
          group: 'etcd',
          ip: '10.0.0.102',
          status: 'failing',
          reachable: true,
          problems: ['etcd is inactive'],
          units: [{ name: 'etcd', installed: true, active: 'inactive', sub: 'dead' }],
          checks: { etcd: { ok: false, detail: 'the etcd service is not running' }, apiserver: null, node: null },
          checkedAt: '2026-11-26T21:00:00.000Z',
          durationMs: 30,
          lastSmoke: null,
        },
      ],
      api: null,
      certificates: null,
    });
  });

  it('the plain table names each host, its status and what is wrong', () => {
    const text = formatReport(healthReport(state(), Date.UTC(2026, 10, 26, 21, 0, 1)));
    expect(text).toBe(
      [
        'cluster demo (Kubernetes 1.33.1, etcd 3.5.21) at 2026-11-26T21:00:01.000Z',
        '',
        'HOST     GROUP  STATUS     UNITS AND CHECKS',
        'etcd-01  etcd   ✓ healthy  etcd:active etcd:ok',
        'etcd-02  etcd   ✗ failing  etcd:inactive etcd:FAIL',
        '    etcd is inactive',
        '',
        '1/2 hosts healthy, 1 failing',
        '',
      ].join('\n'),
    );
  });
});

describe('docs/dashboard.md', () => {
  /** Every key path of a JSON value, arrays merged ("hosts[].units[].name"). */
  function shape(v: unknown, at = ''): string[] {
    if (Array.isArray(v)) return [...new Set(v.flatMap((x) => shape(x, `${at}[]`)))];
    if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => [`${at}.${k}`, ...shape(x, `${at}.${k}`)]);
    return [];
  }
  it('its JSON example has exactly the shape of a real report', () => {
    const doc = readFileSync(new URL('../../docs/dashboard.md', import.meta.url), 'utf8');
    const example = JSON.parse(/```json\n([\s\S]*?)```/.exec(doc)![1]!) as unknown;
    const s = {
      cluster: 'demo',
      versions: { kubernetes: '1', etcd: '2' },
      hosts: [etcd],
      health: { 'etcd-01': parseProbe(etcd, units(['etcd', 'loaded', 'active', 'running']) + 'E 0 x is healthy\n', 1, 1) },
      smoke: { 'etcd-01': { at: 1, results: [{ task: 't', role: 'etcd', status: 'ok' as const }] } },
      api: { master: 'kube-master-02', server: 'https://x:6443', first: 'kube-master-01', passed: [{ name: 'kube-master-01', problem: 'p' }], nodes: { total: 1, ready: 1, notReady: ['n'] }, checkedAt: 1 },
      certs: { warnDays: 30, total: 1, expiring: [{ file: 'a.crt', subject: 'CN=a', daysLeft: 1 }] },
    };
    expect(shape(example).sort()).toEqual(shape(healthReport(s, 1)).sort());
  });
});
