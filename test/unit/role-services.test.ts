/**
 * Each role declares the systemd services it keeps running (src/roles/index.ts SERVICES); the dashboard's
 * probe reads its unit list from there. The declaration must say what the role's tasks really do: a role
 * that starts a service it does not declare (or declares one it never starts) fails here.
 */
import { describe, expect, it } from 'vitest';
import { UNITS } from '../../src/health/probe.js';
import { ROLES, SERVICES, unitsOf } from '../../src/roles/index.js';
import { defaultSpec, plannedHosts } from '../../src/spec/index.js';
import type { RunContext, HostInfo } from '../../src/engine/task.js';
import type { GroupName } from '../../src/spec/schema.js';

const SERVICE_TASK = / service enabled and running$/;

describe('role services', () => {
  it('every role that starts services declares exactly those, and only such roles declare any', () => {
    for (const role of ROLES) {
      const started = role.tasks.map((t) => t.name).filter((n) => SERVICE_TASK.test(n)).map((n) => n.replace(SERVICE_TASK, ''));
      const declared = SERVICES.filter((s) => s.role === role.name).flatMap((s) => s.units);
      expect(declared, `role ${role.name}`).toEqual(started);
    }
    expect(SERVICES.map((s) => s.role).every((r) => ROLES.some((x) => x.name === r))).toBe(true);
  });

  it("declares the groups the role really runs on (its hosts() on a cluster of every group)", () => {
    const spec = defaultSpec({ name: 'svc' });
    const hosts = plannedHosts(spec) as HostInfo[];
    const run = { spec, hosts, hostsOf: (g: GroupName) => hosts.filter((h) => h.group === g) } as unknown as RunContext;
    for (const s of SERVICES) {
      const role = ROLES.find((r) => r.name === s.role)!;
      const groups = [...new Set(role.hosts(run).map((h) => h.group))].sort();
      expect(groups, `role ${s.role}`).toEqual([...s.groups].sort());
    }
  });

  it('the probe checks, per group, the units of the roles that run there, control plane first on a master', () => {
    expect(UNITS.etcd).toEqual(['etcd']);
    expect(UNITS['kube-master']).toEqual(['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'containerd', 'kubelet', 'kube-proxy', 'flanneld']);
    expect(UNITS['kube-worker']).toEqual(['containerd', 'kubelet', 'kube-proxy', 'flanneld']);
    expect(unitsOf('kube-worker')).toEqual(UNITS['kube-worker']);
  });
});
