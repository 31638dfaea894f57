/**
 * bootstrap: learn each host (OS, architecture, systemd, container runtime, the private-network
 * interface, writable /opt/bin). Nothing is installed: the SSH engine needs no Python on the hosts.
 */
import { factsFailure, factsProbe } from '../../engine/facts.js';
import { ALWAYS, probeTask, smokeTest, TaskFailure, type Role } from '../../engine/task.js';
import { CGROUP_PROBE, cgroupVerdict, parseCgroupProbe } from './cgroup.js';

export const bootstrapRole: Role = {
  name: 'bootstrap',
  why: 'Before anything is installed, kcore-wizard looks at every machine: which OS and architecture it runs, whether systemd is in charge, which network interface holds its private address, which container runtime it already has. The later roles choose what to write from these facts, so one cluster spec works on Flatcar and on Debian alike. Nothing is installed here: the machines need no Python or agent, only SSH and sudo.',
  hosts: (run) => run.hosts,
  tasks: [
    probeTask({
      name: 'gather facts',
      why: 'One read-only script per machine reports its OS, architecture, systemd, container runtime, addresses and whether /opt/bin is writable. It runs on every converge (tag always), because a reinstalled or changed machine must not be configured from stale facts.',
      tags: [ALWAYS],
      // One exec with the role's other probes: the facts, and whether sudo works without a password.
      probe: (ctx) => factsProbe(ctx.host.ip, ctx.host.name),
      keep(ctx, facts) {
        ctx.run.facts.set(ctx.host.name, facts);
        ctx.output(`${facts.os.prettyName || facts.os.id}, ${facts.arch}, private network on ${facts.privateInterface} ${facts.privateIp}`);
      },
      failure: (ctx, e) => factsFailure(ctx.conn.target.user, ctx.host.name, e),
    }),
    smokeTest('facts the later roles need are present', async (ctx) => {
      const f = ctx.facts();
      const missing: string[] = [];
      if (!f.systemd) missing.push('systemd is not running (PID 1): units cannot be managed');
      if (!['amd64', 'arm64'].includes(f.arch)) missing.push(`architecture ${f.arch} has no release binaries (amd64 or arm64 only)`);
      if (!f.optBinWritable) missing.push('/opt/bin is not writable by root');
      if (!f.privateInterface) missing.push('no private-network interface');
      if (missing.length) throw new TaskFailure(`${ctx.host.name}: ${missing.join('; ')}`);
    }, { why: 'Stops a machine the later roles cannot configure (no systemd, an architecture without release binaries, no private-network interface, a read-only /opt/bin) before they start, with the reason. A failure here is cheaper to read than one in the middle of the kube-worker role.' }),
    probeTask({
      // kubelet runs on the masters and the workers; since 1.35 it refuses cgroup v1 (see ./cgroup.ts).
      // Checked here, before any Kubernetes file is written, so the host stops with what to do.
      name: 'cgroup version suits the kubelet',
      why: 'Since Kubernetes 1.35 the kubelet refuses to start on cgroup v1 machines. Checking the cgroup version here, before any Kubernetes file is written, stops a master or worker early with what to do (boot with cgroup v2, or knowingly allow v1).',
      docs: 'https://kubernetes.io/docs/concepts/architecture/cgroups/',
      tags: [ALWAYS],
      skip: (ctx) => (ctx.host.group === 'kube-master' || ctx.host.group === 'kube-worker' ? undefined : 'no kubelet on this host'),
      probe: (ctx) => ({
        script: CGROUP_PROBE,
        parse: (out) => {
          const v = cgroupVerdict(parseCgroupProbe(out.stdout), ctx.run.spec.versions.kubernetes, ctx.host.name, ctx.run.spec.provider, ctx.run.spec.kubelet.allowCgroupV1);
          if (!v.ok) throw new TaskFailure(v.detail, v.fix);
          return v;
        },
      }),
      keep: (ctx, v) => ctx.output(v.warning ? `${v.detail} (${v.fix})` : v.detail),
    }),
  ],
};
