/**
 * Preflight results for the layout tests and the tmux test: the check names, details and fixes as
 * src/vagrant/preflight.ts words them for a machine without VirtualBox, with too little memory and a
 * taken network (several fixes longer than a line).
 */
import type { PreflightCheck } from '../../src/ui/wizard/actions.js';

export const FAILING_PREFLIGHT: PreflightCheck[] = [
  { check: 'vagrant', ok: true, detail: 'Vagrant 2.4.3' },
  {
    check: 'provider',
    ok: false,
    detail: 'VBoxManage is not installed (or `VBoxManage --version` fails)',
    fix: 'install VirtualBox from https://www.virtualbox.org/wiki/Linux_Downloads (with its kernel modules), or choose another provider: `provider: libvirt` (KVM) or `provider: lxc` (containers, Linux only) in kcore.yaml',
  },
  { check: 'box', ok: true, detail: 'flatcar-stable will be downloaded from https://stable.release.flatcar-linux.net/amd64-usr/current/flatcar_production_vagrant.json and checked against its published digests' },
  {
    check: 'memory',
    ok: false,
    detail: 'the machines need 7168 MB, 3012 MB is available',
    fix: 'lower memory per group or the worker count in kcore.yaml (e.g. `kcore-wizard init --force --workers 1 …`), or free 4156 MB',
  },
  { check: 'cpus', ok: true, warning: true, detail: '4 virtual CPUs on 2 real ones (shared: slower, but it works)' },
  {
    check: 'network',
    ok: false,
    detail: '10.0.0.0/24 is already used on this machine by eth1 (10.0.0.5)',
    fix: 'choose another private network: set network.prefix in kcore.yaml (e.g. `kcore-wizard init --force --prefix 10.1.0 …`), or remove that address',
  },
];
