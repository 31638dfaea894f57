/**
 * etcd: release binaries in /opt/bin from the artifact source, a systemd unit and drop-in rendered from
 * templates, one member or many (ETCD_INITIAL_CLUSTER from the spec), TLS with client-certificate auth on
 * client and peer URLs, restarted only when its configuration changed, data dir kept across reruns.
 * Smoke tests (tag `test`): member healthy over TLS, member list equals the spec, put/get round trip,
 * a client without a certificate is refused.
 */
import { readPki } from '../pki/read.js';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ARTIFACTS, readUnpacked, type LazyFile } from '../../engine/artifacts.js';
import { directoryTask, filesTask, serviceTask, systemUserTask, waitFor, type FileSpec } from '../../engine/ops.js';
import { smokeProbe, TaskFailure, type Role, type RunContext, type TaskContext } from '../../engine/task.js';
import { renderTemplate } from '../../render/env.js';
import { hostsOf } from '../../spec/hosts.js';
import { shellQuote } from '../../ssh/quote.js';
import type { RoleServices } from '../index.js';
import { initialSettings, joinedThisRun, memberJoinTask, memberRecordTask, membershipChangeTask, membershipSettledTask, parseMemberList, probeAfterMembershipSettled } from './membership.js';

import { BIN_DIR, DROPIN, ETCD_DATA, ETCD_PKI, UNIT } from './paths.js';
import { callProblem, etcdApiScript, etcdApiShown, etcdctl, parseEtcdAnswers, rangeValue, responseJson, type EtcdAnswer, type EtcdCall } from './api.js';

export { BIN_DIR, DROPIN, ETCD_DATA, ETCD_PKI, UNIT, etcdctl };
const RESTART = 'restart etcd';

export function initialCluster(run: Pick<RunContext, 'spec'>): string {
  return hostsOf(run.spec, 'etcd')
    .map((h) => `${h.name}=https://${h.ip}:2380`)
    .join(',');
}

export function etcdUnit(run: Pick<RunContext, 'spec'>): string {
  return renderTemplate('etcd/etcd.service.njk', { cluster: run.spec.name, bin: BIN_DIR });
}

/** `initial`: ETCD_INITIAL_CLUSTER and its state (default: the spec's members, `new`; see membership.ts initialSettings). */
export function etcdDropIn(run: Pick<RunContext, 'spec'>, host: { name: string; ip: string }, initial?: { cluster: string; state: 'new' | 'existing' }): string {
  return renderTemplate('etcd/10-kcore.conf.njk', {
    cluster: run.spec.name,
    name: host.name,
    ip: host.ip,
    dataDir: ETCD_DATA,
    initialCluster: initial?.cluster ?? initialCluster(run),
    initialState: initial?.state ?? 'new',
    token: `kcore-${run.spec.name}-etcd`,
    pki: ETCD_PKI,
  });
}

/**
 * Before a member restarts: when it is the leader, hand leadership to another started member
 * (`etcdctl move-leader`, sent to the leader itself), so the cluster does not stall in an election while
 * it is down: a rolling restart (certs renew, upgrade) then costs writers no timeout. Best effort: a member
 * that is not the leader, or a cluster that does not answer (a first start), restarts as before.
 * `endpoint status -w fields` prints "MemberID" and "Leader" (etcdctl printer_fields.go); `member list`'s simple
 * form is "<hex ID>, <status>, <name>, …" (printer_simple.go), and move-leader takes that hex ID.
 */
export function leaderHandoffScript(host: { name: string; ip: string }): string {
  const e = (args: string) => etcdctl(host.ip, args, { quick: true });
  return [
    `s=$(${e('endpoint status -w fields')} 2>/dev/null) || exit 0`,
    `me=$(printf '%s\n' "$s" | sed -n 's/^"MemberID" : //p'); lead=$(printf '%s\n' "$s" | sed -n 's/^"Leader" : //p')`,
    `[ -n "$me" ] && [ "$me" = "$lead" ] || exit 0`,
    `to=$(${e('member list')} 2>/dev/null | awk -F', ' -v n=${shellQuote(host.name)} '$2 == "started" && $3 != n { print $1; exit }')`,
    `[ -n "$to" ] || exit 0`,
    `${e('move-leader "$to"')} >/dev/null 2>&1 || true`,
  ].join('; ');
}

const NO_CERT: EtcdCall = { id: 'no-cert', op: 'no-cert' };

/**
 * A TLS handshake without a client certificate to the member's client URL, as one shell command (api.ts): curl when
 * the host has it (Flatcar ships net-misc/curl in its base image: flatcar/scripts coreos-base/coreos/coreos-0.0.1.ebuild;
 * our Debian test machines carry it too), etcdctl otherwise. etcd requires and verifies a client certificate when
 * it has a trusted CA or client-cert-auth (etcd-io/etcd client/pkg/transport/listener.go, TLSInfo.ServerConfig:
 * tls.RequireAndVerifyClientCert), so Go's server answers the client's empty Certificate message with a
 * bad_certificate alert at once: curl sees it in well under a second instead of waiting for etcdctl's command
 * timeout (its gRPC client retries). The smoke tests ask it with their other calls (smokeScript).
 */
export function refusalProbe(ip: string): string {
  return etcdApiScript(ip, [NO_CERT]);
}

/**
 * What the no-certificate call saw: null when the handshake was refused (a TLS alert: what we want), 'answered'
 * when etcd served a client without a certificate, otherwise what is wrong instead (down, closed, silent, not TLS).
 * curl exit codes (curl(1) EXIT CODES): 7 could not connect, 28 timeout, 35 TLS handshake failed, 60 the
 * server's certificate is not trusted.
 */
export function refusalProblem(tool: string, a: EtcdAnswer | undefined, host: { name: string; ip: string }): string | 'answered' | null {
  const where = `${host.ip}:2379`;
  if (!a) return `the refusal check on ${host.name} did not run: ${callProblem(a)}`;
  const err = a.text.split('\n').map((l) => l.trim()).filter(Boolean).pop() || `exit ${a.exit}`;
  if (a.exit === 0) return 'answered';
  if (tool === 'curl') {
    if (a.exit === 7) return `etcd on ${host.name} is down: nothing accepts connections on ${where} (${err})`;
    if (a.exit === 35 && /alert (bad certificate|certificate required|handshake failure)/i.test(a.text)) return null;
    if (a.exit === 28) return `etcd on ${host.name} did not answer on ${where} within 4 s (${err})`;
    return `etcd on ${host.name} did not refuse the handshake with a TLS alert on ${where} (curl exit ${a.exit}${a.http ? `, HTTP ${a.http}` : ''}): ${err}`;
  }
  // etcdctl (no curl on the host): a refused connection is a down member; any other failure is the refusal.
  if (tool === 'etcdctl') return /connection refused/i.test(a.text) ? `etcd on ${host.name} is down: nothing accepts connections on ${where} (${err})` : null;
  return `the refusal check on ${host.name} did not run: ${err}`;
}

/** The binaries are the same for every host of an architecture: read (and hashed) once per run. */
const binariesOfRun = new WeakMap<RunContext, Map<string, Promise<FileSpec[]>>>();

function binaries(ctx: TaskContext): Promise<FileSpec[]> {
  const arch = ctx.facts().arch;
  let perArch = binariesOfRun.get(ctx.run);
  if (!perArch) binariesOfRun.set(ctx.run, (perArch = new Map()));
  let p = perArch.get(arch);
  if (!p) {
    p = readBinaries(ctx, arch);
    perArch.set(arch, p);
    p.catch(() => perArch.delete(arch));
  }
  return p;
}

/**
 * The binaries a release carries: etcd and etcdctl, and from 3.5 etcdutl, which `backup` and `restore`
 * need (`etcdctl snapshot status/restore` were deprecated in 3.5 for etcdutl and are gone in 3.6:
 * https://etcd.io/docs/v3.6/op-guide/recovery/).
 */
export function etcdBinaries(version: string): string[] {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 3 || (major === 3 && minor >= 5) ? ['etcd', 'etcdctl', 'etcdutl'] : ['etcd', 'etcdctl'];
}

/** Why each binary of the etcd release is on a member (the teaching view). */
const ETCD_BINARY_WHY: Record<string, string> = {
  etcd: 'The etcd server itself, from the official release tarball (checked against its SHA-256). /opt/bin because Flatcar keeps /usr read-only; the unit runs it from here.',
  etcdctl: "etcd's command-line client: the smoke tests and the dashboard ask the member for its health and its member list with it, over TLS with kcore-wizard's client certificate. You can use it the same way on the member.",
  etcdutl: "etcd's offline tool (since 3.5): `kcore-wizard backup` checks a snapshot with it and `restore` rebuilds a member's data directory from one.",
};

async function readBinaries(ctx: TaskContext, arch: string): Promise<FileSpec[]> {
  const a = ARTIFACTS.etcd(ctx.run.spec.versions.etcd, arch);
  const dir = await ctx.run.artifacts.unpack(a, ctx.signal);
  const top = path.join(dir, a.file.replace(/\.tar\.gz$/, ''));
  const out: FileSpec[] = [];
  for (const bin of etcdBinaries(ctx.run.spec.versions.etcd)) {
    let file: { content: Buffer | LazyFile; sha256: string };
    try {
      file = await readUnpacked(path.join(top, bin));
    } catch {
      throw new TaskFailure(`${a.file} has no ${path.basename(top)}/${bin}: it is not an etcd release tarball`, `check the file at ${ctx.run.artifacts.describe(a)}`);
    }
    out.push({ path: `${BIN_DIR}/${bin}`, content: file.content, sha256: file.sha256, mode: 0o755, notify: bin === 'etcd' ? RESTART : undefined, why: ETCD_BINARY_WHY[bin] });
  }
  return out;
}

async function certificates(ctx: TaskContext): Promise<FileSpec[]> {
  const p = ctx.run.pki.etcd;
  const name = ctx.host.name;
  const read = (f: string) => readPki(ctx, f);
  const own = { owner: 'etcd', group: 'etcd' };
  return [
    { path: `${ETCD_PKI}/ca.crt`, content: await read(p.ca.cert), mode: 0o644, notify: RESTART, why: "The etcd CA's certificate (never its key): etcd trusts a client or a peer only when its certificate is signed by this CA. It is a CA of its own, apart from the cluster CA, so no Kubernetes certificate opens etcd." },
    { path: `${ETCD_PKI}/server.crt`, content: await read(p.server(name).cert), mode: 0o644, notify: RESTART, why: "This member's serving certificate on the client port 2379: clients (the API servers, etcdctl) check it names the address they dialled, the member's private IP or 127.0.0.1." },
    { path: `${ETCD_PKI}/server.key`, content: await read(p.server(name).key), mode: 0o600, ...own, secret: true, notify: RESTART, why: "The private key of this member's serving certificate. Readable only by the etcd user: whoever holds it can pose as this member to clients." },
    { path: `${ETCD_PKI}/peer.crt`, content: await read(p.peer(name).cert), mode: 0o644, notify: RESTART, why: 'The certificate this member presents to the other members on the peer port 2380 (and accepts theirs with the same CA). Peers replicate every write over this connection, so it is TLS both ways.' },
    { path: `${ETCD_PKI}/peer.key`, content: await read(p.peer(name).key), mode: 0o600, ...own, secret: true, notify: RESTART, why: "The private key of this member's peer certificate, readable only by the etcd user." },
    // kcore-wizard's own client certificate, for the smoke tests and `etcdctl` by hand (root only).
    { path: `${ETCD_PKI}/kcore-client.crt`, content: await read(p.kcoreClient.cert), mode: 0o644, why: "kcore-wizard's own etcd client certificate: with client-certificate auth on, etcdctl needs one to ask anything, so the smoke tests, the dashboard and `backup` use this one, as root on the member." },
    { path: `${ETCD_PKI}/kcore-client.key`, content: await read(p.kcoreClient.key), mode: 0o600, secret: true, why: "The private key of kcore-wizard's etcd client certificate, root only." },
  ];
}

/**
 * "Healthy" as `etcdctl endpoint health` means it: a linearizable read of the key "health" is answered, which
 * takes a leader and a quorum behind it (etcdctl/ctlv3/command/ep_command.go: `cli.Get(ctx, "health")`; a
 * permission error counts as healthy there, and cannot happen here: no etcd auth, client certificates only).
 */
const HEALTH: EtcdCall = { id: 'health', op: 'range', key: 'health' };

/** null when the member is healthy, else what is wrong, with the service state (pure; what etcdApiScript printed). */
export function healthProblem(host: string, stdout: string): string | null {
  const { answers, state } = parseEtcdAnswers(stdout);
  const problem = callProblem(answers.get(HEALTH.id));
  return problem === null ? null : `etcd on ${host} is not healthy (service ${state ?? 'unknown'}): ${problem}`;
}

async function health(ctx: TaskContext): Promise<string | null> {
  const r = await ctx.conn.exec(etcdApiScript(ctx.host.ip, [HEALTH], { stateUnlessOk: HEALTH.id }), { sudo: true, signal: ctx.signal });
  return healthProblem(ctx.host.name, r.stdout);
}

const smokeKey = (host: string) => `/kcore-wizard/smoke/${host}`;
interface SmokeScript {
  script: string;
  value: string;
  shows: (ids: string[]) => string;
}
const smokeScripts = new WeakMap<RunContext, Map<string, SmokeScript>>();

/**
 * Every etcd smoke test of a member asks its questions in this one command, the same text for each of them, so
 * the engine runs it once for all (one curl, one TLS connection, and one more for the no-certificate handshake)
 * and each test reads its own answers. Made once per host and run (each test asks for it), with its random value.
 */
function smokeScript(ctx: TaskContext): SmokeScript {
  let byHost = smokeScripts.get(ctx.run);
  if (!byHost) smokeScripts.set(ctx.run, (byHost = new Map()));
  let made = byHost.get(ctx.host.name);
  if (!made) byHost.set(ctx.host.name, (made = makeSmokeScript(ctx.host)));
  return made;
}

function makeSmokeScript(host: { name: string; ip: string }): SmokeScript {
  const value = randomBytes(8).toString('hex');
  const key = smokeKey(host.name);
  const calls: EtcdCall[] = [
    NO_CERT,
    HEALTH,
    { id: 'members', op: 'members' },
    { id: 'put', op: 'put', key, value },
    { id: 'get', op: 'range', key },
    { id: 'del', op: 'delete', key },
  ];
  return {
    script: etcdApiScript(host.ip, calls, { stateUnlessOk: HEALTH.id }),
    value,
    // The value is new every run: shown as what it is, so the teaching view (and docs/how-it-works.md) stays the same.
    shows: (ids) =>
      `${etcdApiShown(host.ip, calls.filter((c) => ids.includes(c.id)))}\n# asked with the other etcd smoke tests of this member: one curl, one TLS connection`
        .replaceAll(Buffer.from(value).toString('base64'), '<a random value, base64>')
        .replaceAll(value, '<a random value>'),
  };
}

export const etcdServices: RoleServices = { role: 'etcd', groups: ['etcd'], units: ['etcd'] };

export const etcdRole: Role = {
  name: 'etcd',
  why: 'etcd is the database of the cluster: every Kubernetes object (nodes, pods, secrets, leases) lives there and nowhere else, and only the API servers talk to it. It runs on machines of its own as one cluster of members that agree on every write (Raft), so it survives losing a minority of them. Everything is TLS with client certificates: without a certificate from the etcd CA nobody reads or writes a key.',
  docs: 'https://etcd.io/docs/latest/op-guide/clustering/',
  concepts: [
    {
      name: 'members and ETCD_INITIAL_CLUSTER',
      text: 'Each etcd machine is a member with a name (etcd-01 …) and a peer URL (https://<ip>:2380). A new cluster is bootstrapped statically: every member starts with the same ETCD_INITIAL_CLUSTER list (name=peer URL for all members, written from the spec into the drop-in), ETCD_INITIAL_CLUSTER_STATE=new and a cluster token, and they find each other from it. The list matters only at the first start (etcd ignores it once the data dir exists). Later changes of membership go through `etcdctl member add/remove`: when groups.etcd.count changes, converge removes members first-remove-then-stop and adds them one at a time, each new one started with the cluster as it is plus itself and ETCD_INITIAL_CLUSTER_STATE=existing; the smoke test then compares the live member list with the spec.',
      docs: 'https://etcd.io/docs/latest/op-guide/clustering/',
    },
    {
      name: 'peer TLS and client TLS',
      text: 'A member listens on two ports: 2380 for the other members (peer traffic: replication, elections) and 2379 for clients (the API servers, etcdctl). Each has its own certificate (peer.crt, server.crt) and both require TLS; the peer port also checks the other member holds a certificate of the etcd CA (ETCD_PEER_CLIENT_CERT_AUTH).',
      docs: 'https://etcd.io/docs/latest/op-guide/security/',
    },
    {
      name: 'client-certificate authentication',
      text: "With ETCD_CLIENT_CERT_AUTH=true and ETCD_TRUSTED_CA_FILE set, etcd refuses in the TLS handshake any client that does not present a certificate signed by the etcd CA: there are no passwords. The API servers use apiserver-etcd-client, kcore-wizard its own kcore-client; the smoke test 'a client without a certificate is refused' proves the door is shut.",
      docs: 'https://etcd.io/docs/latest/op-guide/security/',
    },
    {
      name: 'quorum',
      text: 'A write is committed when a majority of the members (the quorum: 2 of 3, 3 of 5) have it. A cluster of n members survives losing (n-1)/2 of them, rounded down: 1 member survives none, 3 survive one, 5 survive two. An even count adds no tolerance (4 survive one, like 3), which is why the spec warns about it; without quorum the cluster refuses writes and Kubernetes stops changing.',
      docs: 'https://etcd.io/docs/latest/faq/',
    },
  ],
  hosts: (run) => run.hostsOf('etcd'),
  tasks: [
    membershipChangeTask,
    { ...systemUserTask('etcd system user', 'etcd', ETCD_DATA), why: 'etcd runs as its own unprivileged user, not root: a flaw in etcd then reaches only its data directory and its keys. The user has no login shell and no home of its own.' },
    { ...directoryTask('etcd directories', [
      { path: BIN_DIR, mode: 0o755 },
      { path: '/etc/etcd', mode: 0o755 },
      { path: ETCD_PKI, mode: 0o755 },
      { path: ETCD_DATA, mode: 0o700, owner: 'etcd' },
      { path: '/etc/systemd/system/etcd.service.d', mode: 0o755 },
    ]), why: "The folders etcd needs, with their owners: /opt/bin for the binaries, /etc/etcd/pki for its certificates, and /var/lib/etcd (0700, the etcd user's) for the data, which converge never touches once it exists." },
    { ...filesTask('etcd binaries', binaries, [], { paths: (ctx) => etcdBinaries(ctx.run.spec.versions.etcd).map((b) => `${BIN_DIR}/${b}`) }), why: 'Installs etcd, etcdctl and etcdutl of versions.etcd from the official release (or your mirror), checked against the published SHA-256. A new version restarts etcd; an unchanged one changes nothing.' },
    { ...filesTask('etcd certificates', certificates), why: "Copies to this member only its own certificates and keys (server, peer) and the etcd CA's certificate, from the workspace PKI. Keys are 0600 and owned by the etcd user; a changed certificate restarts etcd." },
    { ...filesTask('etcd unit and drop-in', async (ctx) => [
      { path: UNIT, content: etcdUnit(ctx.run), mode: 0o644, notify: [RESTART, 'daemon-reload'], why: 'The systemd unit that runs etcd as the etcd user from /opt/bin and restarts it when it dies. It holds no settings: those are in the drop-in, so the unit is the same on every member.' },
      { path: DROPIN, content: etcdDropIn(ctx.run, ctx.host, await initialSettings(ctx.run, ctx.host)), mode: 0o644, notify: [RESTART, 'daemon-reload'], why: "This member's settings as environment variables: its name, its client and peer URLs, ETCD_INITIAL_CLUSTER (the members as they were when this one first started: every member for a new cluster, the cluster so far plus itself with ETCD_INITIAL_CLUSTER_STATE=existing for one added later), the cluster token, and TLS with client-certificate auth on both ports. Read it to see exactly how the member is configured." },
    ]), why: 'Writes the systemd unit and its drop-in. A change to either reloads systemd and restarts etcd, and only then.' },
    memberJoinTask,
    {
      // A member that joined in this run (etcd member join) is started and healthy already.
      skip: (ctx) => (joinedThisRun(ctx) ? 'joined the cluster in this run (etcd member join)' : undefined),
      ...serviceTask('etcd', {
      restartHandler: RESTART,
      beforeRestart: (ctx) => leaderHandoffScript(ctx.host),
      wait: (ctx) =>
        waitFor(`etcd on ${ctx.host.name}`, () => health(ctx), {
          timeoutMs: 90_000,
          intervalMs: 1000,
          signal: ctx.signal,
          hint: `look at the journal: kcore-wizard dashboard (key l), or ssh in and run journalctl -u etcd`,
        }),
      }),
      why: "Keeps etcd enabled and running, restarted only when its binary, certificates or settings changed, then waits (90 s at most) until the member reports healthy. The members of a new cluster wait for each other, so they are started without blocking and checked together.",
    },
    memberRecordTask,
    membershipSettledTask,

    // Probes: the engine runs them with the role's other probes on the host, in one round trip; the four share
    // one script (smokeScript), which it runs once.
    smokeProbe('etcd: member healthy over TLS', (ctx) => ({
      script: smokeScript(ctx).script,
      shows: smokeScript(ctx).shows([HEALTH.id]),
      parse(o) {
        const problem = healthProblem(ctx.host.name, o.stdout);
        if (problem) throw new TaskFailure(problem, `start it: sudo systemctl start etcd (on ${ctx.host.name}); see journalctl -u etcd`);
      },
    }), { why: "Asks this member, over TLS with kcore-wizard's client certificate, whether it is healthy: it answers only when it is part of a cluster with quorum and can commit. The first thing to check when the API server cannot reach its database." }),
    smokeProbe('etcd: member list equals the spec', async (ctx) => ({
      script: await probeAfterMembershipSettled(ctx, smokeScript(ctx).script),
      shows: smokeScript(ctx).shows(['members']),
      parse(o) {
        const a = parseEtcdAnswers(o.stdout).answers.get('members');
        const problem = callProblem(a);
        if (problem) throw new TaskFailure(`the member list failed on ${ctx.host.name}: ${problem}`);
        const have = parseMemberList(responseJson(a!)).map((m) => `${m.name || '(unstarted)'}=${m.peerURLs.join('|')}`).sort();
        const want = initialCluster(ctx.run).split(',').sort();
        if (have.join(',') !== want.join(','))
          throw new TaskFailure(`etcd members differ from the spec: have ${have.join(', ')}; want ${want.join(', ')}`, 'converge adds and removes members to match kcore.yaml (etcd membership change, etcd member join): run it, or see its refusal');
      },
    }), { why: 'ETCD_INITIAL_CLUSTER matters only at the first start: later, the members the cluster really has may drift from the spec. This compares the live member list (names and peer URLs) with the spec, so a member that never joined or one left over is named.' }),
    smokeProbe('etcd: put/get round trip', (ctx) => {
      const { script, value, shows } = smokeScript(ctx);
      return {
        script,
        shows: shows(['put', 'get', 'del']),
        parse(o) {
          const { answers } = parseEtcdAnswers(o.stdout);
          const problem = callProblem(answers.get('put')) ?? callProblem(answers.get('get'));
          const got = problem === null ? rangeValue(answers.get('get')!) : null;
          const failed = problem ?? (got !== value ? `read back "${got ?? ''}" instead of "${value}"` : callProblem(answers.get('del')));
          if (failed) throw new TaskFailure(`put/get through ${ctx.host.name} failed: ${failed}`);
        },
      };
    }, { why: 'Healthy is not the same as working: this writes a random value under /kcore-wizard/smoke/<host>, reads it back through this member and deletes it. A write needs quorum, so it proves the cluster commits.' }),
    smokeProbe('etcd: a client without a certificate is refused', (ctx) => ({
      script: smokeScript(ctx).script,
      shows: smokeScript(ctx).shows([NO_CERT.id]),
      parse(o) {
        const { tool, answers } = parseEtcdAnswers(o.stdout);
        const problem = refusalProblem(tool, answers.get(NO_CERT.id), ctx.host);
        if (problem === 'answered') throw new TaskFailure(`etcd on ${ctx.host.name} answered a client without a certificate: client-certificate auth is off`, 'check ETCD_CLIENT_CERT_AUTH=true in the drop-in and restart etcd');
        if (problem) throw new TaskFailure(problem, `start it: sudo systemctl start etcd (on ${ctx.host.name}); see journalctl -u etcd`);
      },
    }), { why: 'Client-certificate auth is the only lock on etcd: this connects without a certificate and expects the TLS handshake to be refused. A member that answered would hand every secret of the cluster to anyone on the network.', docs: 'https://etcd.io/docs/latest/op-guide/security/' }),
  ],
};
