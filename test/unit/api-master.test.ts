// Choosing a healthy master (src/health/api-master.ts): the parsers of what the chooser script and the
// cluster read print on a master, the order the dashboard tries masters in, the kubeconfig's kept
// context, and the API server certificate naming every address a client of it uses. The scripts
// themselves run on real hosts in test/integration/api-failover.test.ts.
import { describe, expect, it } from 'vitest';
import { chooseMaster, chooseMasterScript, clusterReadScript, describeChoice, mastersOf, parseChoice, parseClusterRead, parseNodeList } from '../../src/health/api-master.js';
import { clusterReadOrder } from '../../src/health/actions.js';
import type { HostHealth } from '../../src/health/probe.js';
import type { HostInfo } from '../../src/engine/task.js';
import { certificateProfiles } from '../../src/pki/index.js';
import { pkiInput } from '../../src/roles/pki/index.js';
import { adminContexts, keptContext } from '../../src/roles/kubectl/index.js';
import { API_LB_HOST, API_LB_PORT, apiServerUrl, nodeApiServerUrl } from '../../src/roles/kube-common/index.js';
import { apiServiceIp, defaultSpec, hostsOf } from '../../src/spec/index.js';

const spec = defaultSpec({ name: 'demo' });
spec.groups['kube-master'].count = 3;
const masters = mastersOf(spec);

describe('the chooser', () => {
  it('masters in the spec order, each with its https://<ip>:6443', () => {
    expect(masters.map((m) => m.name)).toEqual(['kube-master-01', 'kube-master-02', 'kube-master-03']);
    expect(masters[1]!.server).toBe(apiServerUrl(spec, masters[1]!.ip));
  });

  it('the script asks each master with the admin kubeconfig under a timeout and stops at the first ok', () => {
    const s = chooseMasterScript(masters).split('\n');
    expect(s).toHaveLength(3);
    for (const [i, m] of masters.entries()) {
      expect(s[i]).toContain(`--server=${m.server} `);
      expect(s[i]).toMatch(/^out=\$\(timeout -k 1 4 \/opt\/bin\/kubectl --kubeconfig=\/etc\/kubernetes\/admin\.kubeconfig .* get --raw \/readyz 2>&1\)/);
      expect(s[i]).toContain(`echo "R ${m.name} $rc`);
      expect(s[i]).toMatch(/then exit 0; fi$/);
    }
  });

  it('parses: the first "ok" wins; refused, timed out (124) and not-ok answers are passed over with their reason', () => {
    const out = [
      `R kube-master-01 1 The connection to the server 10.0.0.111:6443 was refused - did you specify the right host or port?`,
      'R kube-master-02 124 ',
      'R kube-master-03 0 ok',
    ].join('\n');
    const c = parseChoice(masters, out);
    expect(c.chosen?.name).toBe('kube-master-03');
    expect(c.passed).toEqual([
      { name: 'kube-master-01', problem: 'The connection to the server 10.0.0.111:6443 was refused - did you specify the right host or port?' },
      { name: 'kube-master-02', problem: 'no answer within 3 s' },
    ]);
    expect(describeChoice(c)).toBe(`API server of kube-master-03 (${masters[2]!.server}), passed over kube-master-01: The connection to the server 10.0.0.111:6443 was refused - did you specify the right host or port?; kube-master-02: no answer within 3 s`);
    // An exit 0 that is not "ok" (a proxy's page, a half-started server) is not ready.
    expect(parseChoice(masters, 'R kube-master-01 0 [-]etcd failed\nR kube-master-02 0 ok').chosen?.name).toBe('kube-master-02');
    expect(parseChoice(masters, 'R kube-master-01 7 x\nR kube-master-02 7 y\nR kube-master-03 7 z')).toMatchObject({ chosen: null, passed: [{ name: 'kube-master-01' }, { name: 'kube-master-02' }, { name: 'kube-master-03' }] });
    expect(describeChoice(parseChoice(masters, 'R kube-master-01 7 x'))).toBe("no master's API server answers /readyz (kube-master-01: x)");
    // Lines of unknown masters or other output are ignored.
    expect(parseChoice(masters, 'noise\nR kube-master-09 0 ok\nR kube-master-02 0 ok').chosen?.name).toBe('kube-master-02');
  });

  it('chooseMaster (this machine): the first whose check resolves null; a throwing check is a problem, not a crash', async () => {
    const asked: string[] = [];
    const c = await chooseMaster(masters, async (m) => {
      asked.push(m.name);
      if (m.name === 'kube-master-01') throw new Error('ECONNREFUSED');
      return m.name === 'kube-master-02' ? 'HTTP 500: [-]etcd failed' : null;
    });
    expect(c.chosen?.name).toBe('kube-master-03');
    expect(c.passed).toEqual([
      { name: 'kube-master-01', problem: 'ECONNREFUSED' },
      { name: 'kube-master-02', problem: 'HTTP 500: [-]etcd failed' },
    ]);
    expect(asked).toEqual(['kube-master-01', 'kube-master-02', 'kube-master-03']);
    // It stops at the first healthy one.
    asked.length = 0;
    await chooseMaster(masters, async (m) => (asked.push(m.name), null));
    expect(asked).toEqual(['kube-master-01']);
  });
});

describe("the dashboard's cluster read", () => {
  it('reads through the chosen master only, after the body marker', () => {
    const s = clusterReadScript(masters, '/api/v1/nodes').split('\n');
    for (const [i, m] of masters.entries()) expect(s[i]).toContain(`then echo '--- body'; timeout -k 1 5 /opt/bin/kubectl --kubeconfig=/etc/kubernetes/admin.kubeconfig --server=${m.server} --request-timeout=4s get --raw /api/v1/nodes 2>&1; exit 0; fi`);
    const list = JSON.stringify({ kind: 'NodeList', items: [{ metadata: { name: 'a' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } }, { metadata: { name: 'b' }, status: { conditions: [{ type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown' }] } }, { metadata: { name: 'c' } }] });
    const r = parseClusterRead(masters, `R kube-master-01 1 refused\nR kube-master-02 0 ok\n--- body\n${list}\n`);
    expect(r.chosen?.name).toBe('kube-master-02');
    expect(parseNodeList(r.body!)).toEqual({ total: 3, ready: 1, notReady: ['b (NodeStatusUnknown)', 'c (no Ready condition)'] });
    expect(parseClusterRead(masters, 'R kube-master-01 1 refused\n').body).toBeNull();
    expect(() => parseNodeList('{"kind":"Status","code":403}')).toThrow(/expected a NodeList, got Status/);
  });

  it('tries masters whose host answered SSH first, then the unreachable ones, each group in the spec order', () => {
    const hs = masters.map((m) => ({ name: m.name, group: 'kube-master', ip: m.ip }) as HostInfo);
    const health = (reachable: Record<string, boolean>) => Object.fromEntries(Object.entries(reachable).map(([n, r]) => [n, { reachable: r } as HostHealth]));
    expect(clusterReadOrder(hs, {}).map((h) => h.name)).toEqual(['kube-master-01', 'kube-master-02', 'kube-master-03']);
    expect(clusterReadOrder(hs, health({ 'kube-master-01': false, 'kube-master-02': true })).map((h) => h.name)).toEqual(['kube-master-02', 'kube-master-03', 'kube-master-01']);
    expect(clusterReadOrder(hs, health({ 'kube-master-01': false, 'kube-master-02': false })).map((h) => h.name)).toEqual(['kube-master-03', 'kube-master-01', 'kube-master-02']);
  });
});

describe('the workspace kubeconfig keeps a chosen context', () => {
  it('one context per master; converge keeps current-context only when it is one of them', () => {
    expect(adminContexts(spec)).toEqual(['kcore-demo', 'kcore-demo-kube-master-02', 'kcore-demo-kube-master-03']);
    expect(keptContext('current-context: kcore-demo-kube-master-02\n', spec)).toBe('kcore-demo-kube-master-02');
    expect(keptContext('current-context: someone-else\n', spec)).toBeUndefined();
    expect(keptContext(': : not yaml [', spec)).toBeUndefined();
    expect(keptContext(null, spec)).toBeUndefined();
  });
});

describe('the API server certificate names every address its clients use', () => {
  it('each master (the kubeconfig contexts, the chooser, the dashboard), the node load balancer, the service IP and names', () => {
    for (const s of [spec, defaultSpec({ name: 'one' })]) {
      const cert = certificateProfiles(pkiInput(s)).find((p) => p.id === 'apiserver')!;
      const sans = cert.sans.map((x) => x.replace(/^(IP|DNS):/, ''));
      const hostOf = (url: string) => new URL(url).hostname;
      const used = new Set<string>([
        ...mastersOf(s).map((m) => hostOf(m.server)),
        ...[...hostsOf(s, 'kube-master'), ...hostsOf(s, 'kube-worker')].map((h) => hostOf(nodeApiServerUrl(s, h))),
        hostOf(apiServerUrl(s)),
        API_LB_HOST,
        apiServiceIp(s),
        'kubernetes.default',
        `kubernetes.default.svc.${s.network.domain}`,
      ]);
      for (const a of used) expect(sans, `${s.name}: ${a}`).toContain(a);
      expect(API_LB_PORT).not.toBe(6443);
    }
  });
});

describe('dashboard --once: the cluster read and the certificates in the report', () => {
  it('JSON fields and the plain lines: a failover names what the first master answered; each expiring certificate its days', async () => {
    const { healthReport, formatReport } = await import('../../src/health/report.js');
    const base = { cluster: 'demo', versions: { kubernetes: '1', etcd: '2' }, hosts: [], health: {}, smoke: {} };
    const r = healthReport(
      {
        ...base,
        api: { master: 'kube-master-02', server: 'https://10.0.0.112:6443', first: 'kube-master-01', passed: [{ name: 'kube-master-01', problem: 'refused' }], nodes: { total: 3, ready: 2, notReady: ['x'] }, checkedAt: 1 },
        certs: { warnDays: 30, total: 5, expiring: [{ file: 'apiserver.crt', subject: 'CN=kube-apiserver', daysLeft: 12 }, { file: 'ca.crt', subject: 'CN=kubernetes-ca', daysLeft: -2 }] },
      },
      0,
    );
    expect(r.api).toEqual({ master: 'kube-master-02', server: 'https://10.0.0.112:6443', failover: true, passed: [{ name: 'kube-master-01', problem: 'refused' }], nodes: { total: 3, ready: 2, notReady: ['x'] }, error: null });
    const text = formatReport(r);
    expect(text).toContain('API server: kube-master-02 (https://10.0.0.112:6443), failover: kube-master-01: refused; nodes Ready 2/3\n');
    expect(text).toContain('certificate apiserver.crt (CN=kube-apiserver) expires in 12 days: kcore-wizard certs renew\n');
    expect(text).toContain('certificate ca.crt (CN=kubernetes-ca) has EXPIRED: kcore-wizard certs renew\n');
    const none = healthReport({ ...base, api: { master: null, first: 'kube-master-01', passed: [{ name: 'kube-master-01', problem: 'refused' }], checkedAt: 1 } }, 0);
    expect(none.api).toMatchObject({ master: null, failover: false });
    expect(formatReport(none)).toContain('API server: none answers (kube-master-01: refused)\n');
    expect(healthReport(base, 0)).toMatchObject({ api: null, certificates: null });
  });
});

describe('kubeconfig --healthy reads its servers and TLS material from the file itself', () => {
  it('one entry per master in order; a file without a master context is refused naming it and what writes it', async () => {
    const { masterContexts } = await import('../../src/commands/kubeconfig.js');
    const { kubeconfigDoc } = await import('../../src/roles/kube-common/index.js');
    const YAML = (await import('yaml')).default;
    const doc = kubeconfigDoc({ cluster: 'kcore-demo', server: masters[0]!.server, ca: 'CA', user: 'kcore-demo-admin', cert: 'CERT', key: 'KEY' });
    expect(() => masterContexts(YAML.stringify(doc), spec, '/ws/kubeconfig')).toThrow('/ws/kubeconfig has no context kcore-demo-kube-master-02: `kcore-wizard converge --tags kubectl` writes it');
    for (const m of masters.slice(1)) {
      doc.clusters.push({ name: `kcore-demo-${m.name}`, cluster: { ...doc.clusters[0]!.cluster, server: m.server } });
      doc.contexts.push({ name: `kcore-demo-${m.name}`, context: { cluster: `kcore-demo-${m.name}`, user: 'kcore-demo-admin' } });
    }
    const entries = masterContexts(YAML.stringify(doc), spec, '/ws/kubeconfig');
    expect(entries.map((e) => [e.master.name, e.context, e.master.server])).toEqual(masters.map((m, i) => [m.name, i ? `kcore-demo-${m.name}` : 'kcore-demo', m.server]));
    expect(entries[2]!.tls).toEqual({ ca: Buffer.from('CA'), cert: Buffer.from('CERT'), key: Buffer.from('KEY') });
  });
});
