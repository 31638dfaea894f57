/** pki: the cluster's certificates, made on the control machine in `<workspace>/pki` (idempotent). */
import { ensurePki, type PkiInput } from '../../pki/index.js';
import { hostsOf } from '../../spec/hosts.js';
import type { ClusterSpec } from '../../spec/schema.js';
import { smokeTest, task, TaskFailure, type Role } from '../../engine/task.js';
import { listCertificates } from '../../pki/index.js';

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
  local: true,
  hosts: () => [],
  tasks: [
    task({
      name: 'certificates and keys',
      // Read-only: what ensurePki would issue or reissue, and why.
      gather: (ctx) => ensurePki(ctx.run.workspace, pkiInput(ctx.run.spec), { dryRun: true }),
      plan: (_ctx, r) => [
        ...r.changed.map((id) => `${verb(r.reasons[id])} ${id} (${r.reasons[id] ?? 'new'})`),
        ...r.orphans.map((id) => `archive ${id} (no longer in the spec) into pki/archive/`),
      ],
      async apply(ctx) {
        const r = await ensurePki(ctx.run.workspace, pkiInput(ctx.run.spec));
        for (const w of r.warnings) ctx.output(w, 'stderr');
        if (r.archived.length) ctx.output(archivedLine(r.orphans, r.archiveDir));
      },
    }),
    // Expired fails; expiring within 30 days is a warning the `test` command prints (exit code unchanged).
    smokeTest('no certificate has expired', async (ctx) => {
      const certs = await listCertificates(ctx.run.workspace);
      if (certs.length === 0) throw new TaskFailure('no certificates in the workspace', 'run `kcore-wizard converge` without --tags test first');
      const bad = certs.filter((c) => c.daysLeft < 0);
      if (bad.length) throw new TaskFailure(`expired: ${bad.map((c) => `${c.file} (${-c.daysLeft - 1} days ago)`).join(', ')}`, 'run `kcore-wizard certs renew` to reissue them');
    }),
  ],
};

/** What the output says when certificates of removed hosts were moved aside. */
export function archivedLine(ids: string[], dir: string | null): string {
  return `archived the certificates of what is no longer in the spec (${ids.join(', ')}) into pki/${dir}/ (moved, not deleted)`;
}

function verb(reason: string | undefined): string {
  return reason && !/missing|new/.test(reason) ? 'reissue' : 'issue';
}
