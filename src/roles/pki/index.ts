/** pki: the cluster's certificates, made on the control machine in `<workspace>/pki` (idempotent). */
import { ensurePki, type PkiInput } from '../../pki/index.js';
import { hostsOf } from '../../spec/hosts.js';
import type { ClusterSpec } from '../../spec/schema.js';
import { smokeTest, task, TaskFailure, type Role, type RunContext, type Task } from '../../engine/task.js';
import { listCertificates } from '../../pki/index.js';

/**
 * What the role's two reads found when they started early (readAhead: while the hosts answered the bootstrap's
 * batch); each is taken once, and the listing is dropped when the role issued anything.
 */
type Early = { check?: ReturnType<typeof ensurePki>; list?: ReturnType<typeof listCertificates> };
const early = new WeakMap<RunContext, Early>();

function take<K extends 'check' | 'list'>(run: RunContext, k: K) {
  const e = early.get(run);
  const p = e?.[k];
  if (e) delete e[k];
  return p;
}

/** The listing this smoke test judged last in this process: `test` prints its expiry warnings from it. */
let lastListing: { workspace: string; certs: Awaited<ReturnType<typeof listCertificates>> } | undefined;

/** What the smoke test listed in `workspace` during this process's run, if it ran (the `test` command). */
export function listedThisRun(workspace: string): Awaited<ReturnType<typeof listCertificates>> | undefined {
  return lastListing?.workspace === workspace ? lastListing.certs : undefined;
}

const CERTIFICATES = 'certificates and keys';
const NOT_EXPIRED = 'no certificate has expired';

export function pkiInput(spec: ClusterSpec): PkiInput {
  const nodes = (g: Parameters<typeof hostsOf>[1]) => hostsOf(spec, g).map((h) => ({ name: h.name, ip: h.ip }));
  return {
    clusterName: spec.name,
    clusterDomain: spec.network.domain,
    serviceCidr: spec.network.serviceCidr,
    etcd: nodes('etcd'),
    masters: nodes('kube-master'),
    workers: nodes('kube-worker'),
  };
}

export const pkiRole: Role = {
  name: 'pki',
  why: "Every connection in the cluster is TLS, and every component proves who it is with a certificate signed by a certificate authority (CA) the others trust. This role makes those CAs and certificates on this machine, in the workspace's pki/ folder (keys 0600), and later roles copy to each machine only what that machine needs. It is idempotent: a rerun issues only what is missing, expiring or no longer matches the spec (a new master's address, say).",
  docs: 'https://kubernetes.io/docs/setup/best-practices/certificates/',
  concepts: [
    {
      name: 'certificate authority (CA)',
      text: 'A CA is a key pair whose certificate everyone trusts; a certificate it signs is believed. The cluster has two: the cluster CA (API server, kubelets, components, users) and a separate etcd CA, so a Kubernetes client certificate opens nothing in etcd. The CA keys stay in the workspace, except the cluster CA key the controller manager needs on the masters to sign certificate requests.',
      docs: 'https://kubernetes.io/docs/setup/best-practices/certificates/',
    },
    {
      name: 'subject alternative names (SANs)',
      text: "A server certificate lists every name and address clients may use to reach it; a client that dials an address not in the list refuses the connection. The API server's certificate therefore carries every master's address, the first service IP (the in-cluster kubernetes service), kubernetes.default.svc names, 127.0.0.1 and localhost (for the local load balancer). `kcore-wizard pki` lists them.",
    },
    {
      name: 'client certificates as identities',
      text: 'The API server takes a client certificate\'s common name (CN) as the user name and its organisation (O) as groups: the kubelet of kube-worker-01 is CN=system:node:kube-worker-01, O=system:nodes, the admin is in system:masters. No passwords or tokens are needed between components.',
      docs: 'https://kubernetes.io/docs/reference/access-authn-authz/authentication/',
    },
  ],
  local: true,
  hosts: () => [],
  // Both reads only read the workspace's pki/ folder: they start while the hosts answer the bootstrap's batch,
  // when this process has nothing else to do, instead of after it (~20-130 ms of a no-op run here).
  readAhead(run: RunContext, tasks: Task[]) {
    const e: Early = {};
    if (tasks.some((t) => t.name === CERTIFICATES)) (e.check = ensurePki(run.workspace, pkiInput(run.spec), { dryRun: true })).catch(() => undefined);
    if (tasks.some((t) => t.name === NOT_EXPIRED)) (e.list = listCertificates(run.workspace)).catch(() => undefined);
    early.set(run, e);
  },
  tasks: [
    task({
      name: CERTIFICATES,
      why: 'Issues, on this machine, every CA, certificate and key the spec needs and reissues those whose names, addresses or expiry no longer fit. Nothing leaves this machine here: the later roles upload each file to the machines that use it.',
      // Read-only: what ensurePki would issue or reissue, and why.
      gather: (ctx) => take(ctx.run, 'check') ?? ensurePki(ctx.run.workspace, pkiInput(ctx.run.spec), { dryRun: true }),
      plan: (_ctx, r) => [
        ...r.changed.map((id) => `${verb(r.reasons[id])} ${id} (${r.reasons[id] ?? 'new'})`),
        ...r.orphans.map((id) => `archive ${id} (no longer in the spec) into pki/archive/`),
      ],
      async apply(ctx) {
        take(ctx.run, 'list')?.catch(() => undefined);
        const r = await ensurePki(ctx.run.workspace, pkiInput(ctx.run.spec));
        for (const w of r.warnings) ctx.output(w, 'stderr');
        if (r.archived.length) ctx.output(archivedLine(r.orphans, r.archiveDir));
      },
    }),
    // Expired fails; expiring within 30 days is a warning the `test` command prints (exit code unchanged).
    smokeTest(NOT_EXPIRED, async (ctx) => {
      const certs = await (take(ctx.run, 'list') ?? listCertificates(ctx.run.workspace));
      lastListing = { workspace: ctx.run.workspace, certs };
      if (certs.length === 0) throw new TaskFailure('no certificates in the workspace', 'run `kcore-wizard converge` without --tags test first');
      const bad = certs.filter((c) => c.daysLeft < 0);
      if (bad.length) throw new TaskFailure(`expired: ${bad.map((c) => `${c.file} (${-c.daysLeft - 1} days ago)`).join(', ')}`, 'run `kcore-wizard certs renew` to reissue them');
    }, { why: 'An expired certificate stops the component that presents it, usually all at once and long after setup. This check fails the pki role as soon as one has expired; `kcore-wizard certs` warns a month ahead, and `certs renew` reissues them.' }),
  ],
};

/** What the output says when certificates of removed hosts were moved aside. */
export function archivedLine(ids: string[], dir: string | null): string {
  return `archived the certificates of what is no longer in the spec (${ids.join(', ')}) into pki/${dir}/ (moved, not deleted)`;
}

function verb(reason: string | undefined): string {
  return reason && !/missing|new/.test(reason) ? 'reissue' : 'issue';
}
