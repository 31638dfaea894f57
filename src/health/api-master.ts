/**
 * Which master's API server to talk to when reading the cluster with the admin credentials: the first
 * master, in the spec's order, whose `/readyz` answers `ok`, not merely the first one SSH reaches (a
 * master whose host is up but whose API server is down or has lost etcd is passed over). Used by the
 * add-ons role (the choice runs on the master the role runs on), the dashboard's cluster reads and
 * `kcore-wizard kubeconfig --healthy` (the choice runs on this machine, over TLS with the workspace's
 * admin kubeconfig). Kubernetes serves /readyz to any user (the system:public-info-viewer ClusterRole);
 * we present the admin certificate anyway, as kubectl does.
 */
import { request } from 'node:https';
import { shellQuote } from '../ssh/quote.js';
import { hostsOf } from '../spec/hosts.js';
import type { ClusterSpec } from '../spec/schema.js';
import { apiServerUrl } from '../roles/kube-common/render.js';
import { kubectl } from '../roles/kube-common/cluster.js';

/** Seconds one master's /readyz may take before it counts as not answering. */
export const READYZ_TIMEOUT_S = 3;

export interface MasterRef {
  name: string;
  ip: string;
  /** https://<ip>:6443 */
  server: string;
}

export interface MasterChoice {
  /** The first master whose /readyz answered ok; null when none did. */
  chosen: MasterRef | null;
  /** The masters asked before it (or all of them), each with what it answered. */
  passed: Array<{ name: string; problem: string }>;
}

export const mastersOf = (spec: ClusterSpec): MasterRef[] => hostsOf(spec, 'kube-master').map((m) => ({ name: m.name, ip: m.ip, server: apiServerUrl(spec, m.ip) }));

/** The first master (in order) for which `problem` resolves null; every one asked before it with its problem. */
export async function chooseMaster(masters: readonly MasterRef[], problem: (m: MasterRef) => Promise<string | null>): Promise<MasterChoice> {
  const passed: MasterChoice['passed'] = [];
  for (const m of masters) {
    let p: string | null;
    try {
      p = await problem(m);
    } catch (e) {
      p = e instanceof Error ? e.message : String(e);
    }
    if (p === null) return { chosen: m, passed };
    passed.push({ name: m.name, problem: p });
  }
  return { chosen: null, passed };
}

/** One line: which master, and why the ones before it were passed over. */
export function describeChoice(c: MasterChoice): string {
  const why = c.passed.map((p) => `${p.name}: ${p.problem}`).join('; ');
  if (!c.chosen) return `no master's API server answers /readyz (${why || 'no master in the spec'})`;
  return `API server of ${c.chosen.name} (${c.chosen.server})${why ? `, passed over ${why}` : ''}`;
}

// ---- on a master, over SSH, with its kubectl and admin kubeconfig ---------------------------------

/**
 * A shell script for a master: asks each master's /readyz in order with the admin kubeconfig and stops
 * at the first that answers ok (running `then(master)` there first, when given); prints
 * `R <name> <exit code> <last line>` per master asked.
 */
export function chooseMasterScript(masters: readonly MasterRef[], then?: (m: MasterRef) => string): string {
  return masters
    .map((m) => {
      const cmd = kubectl('get --raw /readyz', { server: m.server, timeout: `${READYZ_TIMEOUT_S}s` });
      return `out=$(timeout -k 1 ${READYZ_TIMEOUT_S + 1} ${cmd} 2>&1); rc=$?; echo "R ${m.name} $rc $(printf '%s' "$out" | tail -n 1)"; if [ $rc -eq 0 ] && [ "$out" = ok ]; then ${then ? `${then(m)}; ` : ''}exit 0; fi`;
    })
    .join('\n');
}

/** What `chooseMasterScript` printed (pure). */
export function parseChoice(masters: readonly MasterRef[], stdout: string): MasterChoice {
  const passed: MasterChoice['passed'] = [];
  for (const line of stdout.split('\n')) {
    const m = /^R (\S+) (\d+) ?(.*)$/.exec(line);
    if (!m) continue;
    const ref = masters.find((x) => x.name === m[1]);
    if (!ref) continue;
    const code = Number(m[2]);
    const text = (m[3] ?? '').trim();
    if (code === 0 && text === 'ok') return { chosen: ref, passed };
    passed.push({ name: ref.name, problem: code === 124 || code === 137 ? `no answer within ${READYZ_TIMEOUT_S} s` : text || `exit ${code}` });
  }
  // Masters the script never got to (it stopped early, or was cut off) are not "passed over".
  return { chosen: null, passed };
}

/** The marker before the cluster read's body in `clusterReadScript`'s output. */
const BODY = '--- body';

/**
 * The dashboard's cluster read, on one master: choose a master (as above), then read `path` (a raw GET,
 * e.g. /api/v1/nodes) through that master's API server with the admin kubeconfig.
 */
export function clusterReadScript(masters: readonly MasterRef[], path: string): string {
  return chooseMasterScript(
    masters,
    (m) => `echo ${shellQuote(BODY)}; timeout -k 1 ${READYZ_TIMEOUT_S + 2} ${kubectl(`get --raw ${shellQuote(path)}`, { server: m.server, timeout: `${READYZ_TIMEOUT_S + 1}s` })} 2>&1`,
  );
}

/** The choice and the body the read returned (null when no master answered or the body is missing). */
export function parseClusterRead(masters: readonly MasterRef[], stdout: string): MasterChoice & { body: string | null } {
  const i = stdout.indexOf(`\n${BODY}\n`);
  const head = i < 0 ? stdout : stdout.slice(0, i);
  const choice = parseChoice(masters, head);
  return { ...choice, body: choice.chosen && i >= 0 ? stdout.slice(i + BODY.length + 2) : null };
}

export interface NodesView {
  total: number;
  ready: number;
  /** Names of the nodes not Ready, with the condition's reason. */
  notReady: string[];
}

/** A NodeList (GET /api/v1/nodes) as the dashboard's header shows it (pure; throws on bad JSON). */
export function parseNodeList(body: string): NodesView {
  const list = JSON.parse(body) as { kind?: string; items?: Array<{ metadata: { name: string }; status?: { conditions?: Array<{ type: string; status: string; reason?: string }> } }> };
  if (list.kind !== 'NodeList') throw new Error(`expected a NodeList, got ${list.kind ?? 'no kind'}: ${body.slice(0, 120)}`);
  const items = list.items ?? [];
  const notReady: string[] = [];
  for (const n of items) {
    const c = n.status?.conditions?.find((x) => x.type === 'Ready');
    if (c?.status !== 'True') notReady.push(`${n.metadata.name} (${c?.reason ?? 'no Ready condition'})`);
  }
  return { total: items.length, ready: items.length - notReady.length, notReady };
}

// ---- from this machine, over TLS ------------------------------------------------------------------

export interface TlsClient {
  ca: string | Buffer;
  cert: string | Buffer;
  key: string | Buffer;
}

/** null when `server`/readyz answers 200 `ok` over TLS verified with `tls.ca`, else what was seen. */
export function readyzFromHere(server: string, tls: TlsClient, timeoutMs = READYZ_TIMEOUT_S * 1000): Promise<string | null> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (v: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(v);
    };
    const req = request(new URL('/readyz', server), { method: 'GET', ca: tls.ca, cert: tls.cert, key: tls.key, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < 4096) body += d;
      });
      res.on('end', () => finish(res.statusCode === 200 && body.trim() === 'ok' ? null : `HTTP ${res.statusCode}: ${body.trim().split('\n').pop()?.slice(0, 200) ?? ''}`));
      res.on('error', (e) => finish(e.message));
    });
    const timer = setTimeout(() => {
      finish(`no answer within ${Math.round(timeoutMs / 1000)} s`);
      req.destroy();
    }, timeoutMs);
    req.on('error', (e) => finish((e as NodeJS.ErrnoException).code ? `${(e as NodeJS.ErrnoException).code}: ${e.message}` : e.message));
    req.end();
  });
}
