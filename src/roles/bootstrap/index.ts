/**
 * bootstrap: learn each host (OS, architecture, systemd, container runtime, the private-network
 * interface, writable /opt/bin). Nothing is installed: the SSH engine needs no Python on the hosts.
 */
import { gatherFacts } from '../../engine/facts.js';
import { ALWAYS, smokeTest, task, TaskFailure, type Role } from '../../engine/task.js';
import { CGROUP_PROBE, cgroupVerdict, parseCgroupProbe } from './cgroup.js';

export const bootstrapRole: Role = {
  name: 'bootstrap',
  hosts: (run) => run.hosts,
  tasks: [
    task({
      name: 'gather facts',
      tags: [ALWAYS],
      async gather(ctx) {
        // One exec: the facts, and whether sudo works without a password (a TaskFailure saying so if not).
        const facts = await gatherFacts(ctx.conn, ctx.host.ip, ctx.host.name, ctx.signal);
        ctx.run.facts.set(ctx.host.name, facts);
        ctx.output(`${facts.os.prettyName || facts.os.id}, ${facts.arch}, private network on ${facts.privateInterface} ${facts.privateIp}`);
      },
    }),
    smokeTest('facts the later roles need are present', async (ctx) => {
      const f = ctx.facts();
      const missing: string[] = [];
      if (!f.systemd) missing.push('systemd is not running (PID 1): units cannot be managed');
      if (!['amd64', 'arm64'].includes(f.arch)) missing.push(`architecture ${f.arch} has no release binaries (amd64 or arm64 only)`);
      if (!f.optBinWritable) missing.push('/opt/bin is not writable by root');
      if (!f.privateInterface) missing.push('no private-network interface');
      if (missing.length) throw new TaskFailure(`${ctx.host.name}: ${missing.join('; ')}`);
    }),
    task({
      // kubelet runs on the masters and the workers; since 1.35 it refuses cgroup v1 (see ./cgroup.ts).
      // Checked here, before any Kubernetes file is written, so the host stops with what to do.
      name: 'cgroup version suits the kubelet',
      tags: [ALWAYS],
      skip: (ctx) => (ctx.host.group === 'kube-master' || ctx.host.group === 'kube-worker' ? undefined : 'no kubelet on this host'),
      async gather(ctx) {
        const r = await ctx.conn.exec(CGROUP_PROBE, { signal: ctx.signal });
        const v = cgroupVerdict(parseCgroupProbe(r.stdout), ctx.run.spec.versions.kubernetes, ctx.host.name, ctx.run.spec.provider, ctx.run.spec.kubelet.allowCgroupV1);
        if (!v.ok) throw new TaskFailure(v.detail, v.fix);
        ctx.output(v.warning ? `${v.detail} (${v.fix})` : v.detail);
      },
    }),
  ],
};
