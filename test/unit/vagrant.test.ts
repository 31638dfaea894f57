import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../src/engine/events.js';
import { defaultSpec } from '../../src/spec/defaults.js';
import type { ClusterSpec } from '../../src/spec/schema.js';
import {
  aptMirrorFrom,
  forgetKnownHosts,
  formatPreflight,
  LineSplitter,
  networkClashes,
  parseBoxList,
  parseDigests,
  parseMachineLine,
  parseMachineReadable,
  parsePluginList,
  parseStatus,
  parseVagrantVersion,
  removeKnownHostsEntries,
  runPreflight,
  runVagrant,
  sshConfigHosts,
  verifyAgainstDigests,
  type PreflightProbes,
} from '../../src/vagrant/index.js';

const STATUS = `1795721980,etcd-01,metadata,provider,lxc
1795721981,etcd-02,metadata,provider,lxc
1795721981,etcd-01,provider-name,lxc
1795721981,etcd-01,state,running
1795721981,etcd-01,state-human-short,running
1795721981,etcd-01,state-human-long,The container is running. To stop this machine%!(VAGRANT_COMMA) you can run\\n\`vagrant halt\`.
1795721981,etcd-02,provider-name,lxc
1795721981,etcd-02,state,not_created
1795721981,etcd-02,state-human-short,not created
1795721981,,ui,info,Current machine states:\\n\\netcd-01                   running (lxc)\\netcd-02                   not created (lxc)
`;

describe('vagrant output parsing', () => {
  it('reads machine-readable rows, unescaping commas and newlines', () => {
    const rows = parseMachineReadable(STATUS);
    const long = rows.find((r) => r.type === 'state-human-long')!;
    expect(long.target).toBe('etcd-01');
    expect(long.data[0]).toBe('The container is running. To stop this machine, you can run\n`vagrant halt`.');
    expect(rows.find((r) => r.type === 'ui')!.target).toBe('');
  });

  it('vagrant status --machine-readable → state and provider per machine', () => {
    expect(parseStatus(STATUS)).toEqual([
      { name: 'etcd-01', state: 'running', provider: 'lxc' },
      { name: 'etcd-02', state: 'not_created', provider: 'lxc' },
    ]);
    expect(parseStatus('1,kube-worker-01,state,poweroff\n')).toEqual([{ name: 'kube-worker-01', state: 'poweroff' }]);
  });

  it('box list, plugin list and version', () => {
    const boxes = `1700000000,,box-name,kcore/debian-12
1700000000,,box-provider,lxc
1700000000,,box-version,0
1700000000,,box-name,flatcar-stable
1700000000,,box-provider,virtualbox
1700000000,,box-version,3975.2.2
`;
    expect(parseBoxList(boxes)).toEqual([
      { name: 'kcore/debian-12', provider: 'lxc', version: '0' },
      { name: 'flatcar-stable', provider: 'virtualbox', version: '3975.2.2' },
    ]);
    expect(parseBoxList('1795721984,,ui,warn,There are no installed boxes! Use `vagrant box add` to add some.\n')).toEqual([]);
    expect(parsePluginList('vagrant-libvirt (0.11.2, system)\nvagrant-lxc (1.4.3, system)\n  - Version Constraint: > 0\n')).toEqual([
      { name: 'vagrant-libvirt', version: '0.11.2' },
      { name: 'vagrant-lxc', version: '1.4.3' },
    ]);
    expect(parseVagrantVersion('Vagrant 2.3.4\n')).toBe('2.3.4');
    expect(parseVagrantVersion('command not found')).toBeUndefined();
  });

  it('finds the machine of each human output line', () => {
    const machines = ['etcd-01', 'kube-master-01'];
    expect(parseMachineLine('==> etcd-01: Importing base box', machines)).toEqual({ machine: 'etcd-01', text: 'Importing base box' });
    expect(parseMachineLine('    kube-master-01: SSH address: 10.0.0.111:22', machines)).toEqual({ machine: 'kube-master-01', text: 'SSH address: 10.0.0.111:22' });
    expect(parseMachineLine("Bringing machine 'etcd-01' up with 'lxc' provider...", machines).machine).toBe('etcd-01');
    expect(parseMachineLine('    note: something else', machines).machine).toBeUndefined();
    expect(parseMachineLine('==> vagrant: A new version of Vagrant is available', machines).machine).toBeUndefined();
    expect(parseMachineLine('==> etcd-02: Booting').machine).toBe('etcd-02'); // no list: any prefix counts
  });

  it('splits streamed chunks into lines, keeping only the last redraw of a progress line', () => {
    const s = new LineSplitter();
    expect(s.push('==> etcd-01: Impo')).toEqual([]);
    expect(s.push('rting\n    etcd-01: Progress: 10%\r    etcd-01: Progress: 100%\nlast')).toEqual(['==> etcd-01: Importing', '    etcd-01: Progress: 100%']);
    expect(s.flush()).toEqual(['last']);
  });
});

describe('running vagrant', () => {
  async function fakeVagrant(script: string): Promise<string> {
    const dir = await mkdtemp(path.join(tmpdir(), 'kcore-fake-vagrant-'));
    const bin = path.join(dir, 'vagrant');
    await writeFile(bin, `#!/bin/sh\n${script}\n`);
    await chmod(bin, 0o755);
    return bin;
  }

  it('streams lines as process-output events with the machine, with the checkpoint disabled and no stdin', async () => {
    const bin = await fakeVagrant(
      'echo "Bringing machine \'etcd-01\' up with \'lxc\' provider..."; echo "==> etcd-01: Booting"; echo "checkpoint=$VAGRANT_CHECKPOINT_DISABLE"; read x && echo "stdin: $x"; echo "    kube-worker-01: oops" >&2; exit 3',
    );
    const events: EngineEvent[] = [];
    const r = await runVagrant(['up'], { bin, emit: (e) => events.push(e), machines: ['etcd-01', 'kube-worker-01'], cwd: tmpdir() });
    expect(r.exitCode).toBe(3);
    const out = events.filter((e): e is Extract<EngineEvent, { type: 'process-output' }> => e.type === 'process-output');
    expect(out.map((e) => [e.machine, e.stream, e.line])).toEqual([
      ['etcd-01', 'stdout', "Bringing machine 'etcd-01' up with 'lxc' provider..."],
      ['etcd-01', 'stdout', '==> etcd-01: Booting'],
      [undefined, 'stdout', 'checkpoint=1'],
      ['kube-worker-01', 'stderr', '    kube-worker-01: oops'],
    ]);
    expect(out.every((e) => e.source === 'vagrant')).toBe(true);
  });

  it('cancelling kills the whole process group', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kcore-fake-vagrant-'));
    const pidFile = path.join(dir, 'child.pid');
    // vagrant's child (think: ssh) ignores nothing but would outlive a plain kill of vagrant alone.
    const bin = await fakeVagrant(`sleep 60 & echo $! > ${pidFile}; echo "==> etcd-01: waiting"; wait`);
    const ac = new AbortController();
    const started = Date.now();
    const p = runVagrant(['up'], { bin, signal: ac.signal, emit: (e) => e.type === 'process-output' && ac.abort() });
    const r = await p;
    expect(r.cancelled).toBe(true);
    expect(Date.now() - started).toBeLessThan(20_000);
    const child = Number((await readFile(pidFile, 'utf8')).trim());
    let alive = true;
    for (let i = 0; i < 50 && alive; i++) {
      try {
        process.kill(child, 0);
        await new Promise((res) => setTimeout(res, 100));
      } catch {
        alive = false;
      }
    }
    expect(alive).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------

function lxcSpec(over: Partial<ClusterSpec> = {}): ClusterSpec {
  return { ...defaultSpec({ provider: 'lxc' }), ...over };
}

/** A machine with everything installed; each test breaks one thing. */
function probes(over: Partial<PreflightProbes> = {}): PreflightProbes {
  return {
    vagrantVersion: async () => '2.3.4',
    vagrantPlugins: async () => [
      { name: 'vagrant-lxc', version: '1.4.3' },
      { name: 'vagrant-libvirt', version: '0.11.2' },
    ],
    which: async (cmd) => `/usr/bin/${cmd}`,
    commandVersion: async (cmd) => (cmd === 'VBoxManage' ? '7.0.20r163906' : cmd === 'virsh' ? '9.0.0' : undefined),
    boxes: async () => [
      { name: 'kcore/debian-12', provider: 'lxc', version: '0' },
      { name: 'flatcar-stable', provider: 'virtualbox', version: '3975.2.2' },
    ],
    memory: async () => ({ totalMb: 32768, availableMb: 24000 }),
    cpus: async () => 8,
    addresses: async () => [
      { iface: 'lo', address: '127.0.0.1', cidr: '127.0.0.1/8' },
      { iface: 'eth0', address: '192.168.1.20', cidr: '192.168.1.20/24' },
    ],
    cgroup: async () => ({ layout: 2, memory: true }),
    isRoot: () => true,
    sudoWorks: async () => true,
    runningMachines: async () => [],
    ...over,
  };
}

const failed = async (spec: ClusterSpec, p: PreflightProbes) => (await runPreflight(spec, { probes: p })).filter((c) => !c.ok);

describe('preflight', () => {
  it('all green on a machine that has everything', async () => {
    const checks = await runPreflight(lxcSpec(), { probes: probes() });
    expect(checks.map((c) => c.check)).toEqual(['vagrant', 'provider', 'cgroup', 'box', 'memory', 'cpus', 'network']);
    expect(checks.every((c) => c.ok)).toBe(true);
    expect(formatPreflight(checks)).toMatch(/^✓ vagrant: Vagrant 2\.3\.4$/m);
  });

  it('missing vagrant: says how to install it', async () => {
    const f = await failed(lxcSpec(), probes({ vagrantVersion: async () => undefined, vagrantPlugins: async () => [] }));
    const v = f.find((c) => c.check === 'vagrant')!;
    expect(v.detail).toBe('vagrant is not installed (or `vagrant --version` fails)');
    expect(v.fix).toMatch(/sudo apt-get install vagrant/);
    expect(v.fix).toMatch(/developer\.hashicorp\.com\/vagrant\/install/);
    // and therefore the plugin is missing too
    expect(f.find((c) => c.check === 'provider')!.detail).toMatch(/vagrant-lxc plugin is not installed/);
  });

  it('lxc: missing plugin, missing LXC, no memory cgroup, not root: each named with its fix', async () => {
    const f = await failed(
      lxcSpec(),
      probes({
        vagrantPlugins: async () => [],
        which: async () => undefined,
        cgroup: async () => ({ layout: 'hybrid', memory: false }),
        isRoot: () => false,
        sudoWorks: async () => false,
      }),
    );
    const p = f.find((c) => c.check === 'provider')!;
    expect(p.detail).toBe(
      'the vagrant-lxc plugin is not installed; LXC is not installed (no lxc-create); the cgroup memory controller is not available, so container memory cannot be limited; vagrant-lxc needs root: this user is not root and `sudo -n` does not work',
    );
    expect(p.fix).toMatch(/apt-get install vagrant-lxc/);
    expect(p.fix).toMatch(/apt-get install lxc/);
    expect(p.fix).toMatch(/vagrant lxc sudoers/);
  });

  it('virtualbox missing; libvirt plugin missing', async () => {
    const vb = await failed(defaultSpec({ provider: 'virtualbox' }), probes({ commandVersion: async () => undefined }));
    expect(vb.map((c) => c.check)).toEqual(['provider']);
    expect(vb[0]!.detail).toBe('VirtualBox is not installed (no VBoxManage on PATH)');
    expect(vb[0]!.fix).toMatch(/virtualbox\.org/);

    const lv = await failed(defaultSpec({ provider: 'libvirt' }), probes({ vagrantPlugins: async () => [{ name: 'vagrant-lxc', version: '1.4.3' }] }));
    expect(lv.find((c) => c.check === 'provider')!.detail).toBe('the vagrant-libvirt plugin is missing');
    expect(lv.find((c) => c.check === 'provider')!.fix).toMatch(/apt-get install vagrant-libvirt/);
  });

  it('box: lxc boxes are built here; Flatcar boxes download from the spec URL', async () => {
    const lxc = await failed(lxcSpec(), probes({ boxes: async () => [] }));
    expect(lxc[0]).toMatchObject({ check: 'box', detail: 'the box kcore/debian-12 for lxc is not installed (lxc boxes are built on this machine)' });
    expect(lxc[0]!.fix).toMatch(/kcore-wizard box build --provider lxc/);

    // Flatcar publishes no libvirt box: it is built here from the QEMU image.
    const lv = (await failed(defaultSpec({ provider: 'libvirt' }), probes({ boxes: async () => [] }))).find((c) => c.check === 'box')!;
    expect(lv.detail).toMatch(/kcore\/flatcar-stable for libvirt is not installed/);
    expect(lv.fix).toMatch(/kcore-wizard box build --provider libvirt --channel stable/);

    const vb = await runPreflight(defaultSpec({ provider: 'virtualbox' }), { probes: probes({ boxes: async () => [] }) });
    expect(vb.find((c) => c.check === 'box')).toMatchObject({ ok: true, detail: expect.stringMatching(/will be downloaded from https:\/\/stable\.release\.flatcar-linux\.net\/.*checked against its published digests/) });
  });

  it('a spec larger than the host is refused with the numbers', async () => {
    // defaults: 1×1024 + 1×2048 + 2×2048 = 7168 MB
    const f = await failed(lxcSpec(), probes({ memory: async () => ({ totalMb: 8192, availableMb: 4096 }) }));
    expect(f).toHaveLength(1);
    expect(f[0]!.check).toBe('memory');
    expect(f[0]!.detail).toBe('the cluster needs 7168 MB, this machine has 4096 MB free (of 8192 MB (8.0 GB))');
    expect(f[0]!.fix).toMatch(/^lower memory per group or the worker count in kcore\.yaml/);
  });

  it('machines already running hold their memory already: a rerun is not refused', async () => {
    const p = probes({ memory: async () => ({ totalMb: 8192, availableMb: 2500 }), runningMachines: async () => ['etcd-01', 'kube-master-01', 'kube-worker-01'] });
    const checks = await runPreflight(lxcSpec(), { probes: p });
    expect(checks.find((c) => c.check === 'memory')).toMatchObject({ ok: true });
  });

  it('CPUs: a machine bigger than the host fails; overcommit is only a warning', async () => {
    const big = lxcSpec();
    big.groups = { ...big.groups, 'kube-master': { ...big.groups['kube-master'], cpus: 4 } };
    const f = await failed(big, probes({ cpus: async () => 2 }));
    expect(f[0]).toMatchObject({ check: 'cpus', detail: 'a machine is given 4 CPUs, this machine has 2', fix: 'set every group\'s cpus to at most 2 in kcore.yaml' });
    const warn = (await runPreflight(lxcSpec(), { probes: probes({ cpus: async () => 2 }) })).find((c) => c.check === 'cpus')!;
    expect(warn).toMatchObject({ ok: true, warning: true, detail: '4 virtual CPUs on 2 real ones (shared: slower, but it works)' });
  });

  it('the private network in use on this machine is refused, unless it is our own bridge', async () => {
    const spec = lxcSpec();
    const f = await failed(spec, probes({ addresses: async () => [{ iface: 'docker9', address: '10.0.0.1', cidr: '10.0.0.1/24' }] }));
    expect(f[0]!.check).toBe('network');
    expect(f[0]!.detail).toBe('10.0.0.0/24 is already in use on this machine: docker9 has 10.0.0.1/24');
    expect(f[0]!.fix).toMatch(/network\.prefix/);
    // our own bridge (a rerun of up) is fine
    expect(networkClashes(spec, [{ iface: 'kc-kcore', address: '10.0.0.254', cidr: '10.0.0.254/24' }])).toEqual([]);
    // an address outside the /24 is fine
    expect(networkClashes(spec, [{ iface: 'eth1', address: '10.0.1.5', cidr: '10.0.1.5/24' }])).toEqual([]);
    // VirtualBox reuses its host-only adapter
    expect(networkClashes(defaultSpec({ provider: 'virtualbox' }), [{ iface: 'vboxnet0', address: '10.0.0.1', cidr: '10.0.0.1/24' }])).toEqual([]);
  });

  it('existing machines: no vagrant checks at all', async () => {
    const spec = defaultSpec({ provider: 'existing' });
    spec.machines = [{ name: 'n1', address: '192.0.2.10', group: 'etcd', port: 22 }];
    const checks = await runPreflight(spec, { probes: probes({ vagrantVersion: async () => undefined }) });
    expect(checks).toEqual([{ check: 'machines', ok: true, detail: '1 existing machines listed in kcore.yaml; vagrant is not used', fix: undefined }]);
  });
});

describe('known_hosts cleanup after destroy', () => {
  it('removes the destroyed machines only, keeps other patterns and lines', () => {
    const text = [
      '# workspace known_hosts',
      '10.0.0.101 ssh-ed25519 AAAAetcd1',
      '10.0.0.102,etcd-02 ssh-ed25519 AAAAetcd2',
      '[10.0.0.111]:2222 ssh-ed25519 AAAAmaster',
      '192.0.2.7 ssh-ed25519 AAAAother',
      '@cert-authority *.example ssh-ed25519 AAAAca',
      '',
    ].join('\n');
    const r = removeKnownHostsEntries(text, ['10.0.0.101', '10.0.0.102', '[10.0.0.111]:2222']);
    expect(r.removed).toBe(3);
    expect(r.text).toBe(['# workspace known_hosts', 'etcd-02 ssh-ed25519 AAAAetcd2', '192.0.2.7 ssh-ed25519 AAAAother', '@cert-authority *.example ssh-ed25519 AAAAca', ''].join('\n'));
  });

  it('removes hashed entries and works on the file, leaving it alone when nothing matches', async () => {
    const salt = Buffer.from('0123456789abcdefghij');
    const { createHmac } = await import('node:crypto');
    const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('10.0.0.121').digest('base64')}`;
    const dir = await mkdtemp(path.join(tmpdir(), 'kcore-kh-'));
    const file = path.join(dir, 'known_hosts');
    await writeFile(file, `${hashed} ssh-ed25519 AAAAw1\n10.9.9.9 ssh-ed25519 AAAAkeep\n`);
    expect(await forgetKnownHosts(file, [{ host: '10.0.0.121' }, { host: '10.0.0.122', port: 22 }])).toBe(1);
    expect(await readFile(file, 'utf8')).toBe('10.9.9.9 ssh-ed25519 AAAAkeep\n');
    expect(await forgetKnownHosts(file, [{ host: '10.0.0.121' }])).toBe(0);
    expect(await forgetKnownHosts(path.join(dir, 'absent'), [{ host: '10.0.0.121' }])).toBe(0);
  });

  it('reads host names and ports from vagrant ssh-config', () => {
    const cfg = 'Host etcd-01\n  HostName 10.0.0.101\n  User vagrant\n  Port 22\n\nHost kube-master-01\n  HostName 127.0.0.1\n  Port 2200\n';
    expect(sshConfigHosts(cfg)).toEqual([
      { name: 'etcd-01', hostName: '10.0.0.101', port: 22 },
      { name: 'kube-master-01', hostName: '127.0.0.1', port: 2200 },
    ]);
  });
});

describe('Flatcar DIGESTS', () => {
  it('parses the sections and verifies a file by SHA-512, refusing mismatches and MD5-only lists', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kcore-digests-'));
    const file = path.join(dir, 'flatcar_production_vagrant.box');
    await writeFile(file, 'not really a box\n');
    const body = await readFile(file);
    const h = (a: string) => createHash(a).update(body).digest('hex');
    const digests = `# MD5 HASH\n${h('md5')}  flatcar_production_vagrant.box\n# SHA1 HASH\n${h('sha1')}  flatcar_production_vagrant.box\n# SHA512 HASH\n${h('sha512')}  flatcar_production_vagrant.box\n`;
    expect(parseDigests(digests).get('flatcar_production_vagrant.box')).toEqual({ md5: h('md5'), sha1: h('sha1'), sha512: h('sha512') });
    expect(await verifyAgainstDigests(file, digests)).toEqual({ algo: 'sha512', hash: h('sha512') });

    const signed = `-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n${digests}-----BEGIN PGP SIGNATURE-----\n\nxxxx\n-----END PGP SIGNATURE-----\n`;
    expect(await verifyAgainstDigests(file, signed)).toMatchObject({ algo: 'sha512' });

    const wrong = digests.replace(h('sha512'), 'f'.repeat(128));
    await expect(verifyAgainstDigests(file, wrong)).rejects.toThrow(/does not match its published SHA512/);
    await expect(verifyAgainstDigests(file, `# MD5 HASH\n${h('md5')}  flatcar_production_vagrant.box\n`)).rejects.toThrow(/SHA-256 or SHA-512 is needed/);
    await expect(verifyAgainstDigests(file, digests, 'other.box')).rejects.toThrow(/lists no hash for other\.box/);
  });
});

describe('Debian mirror for the lxc box', () => {
  it('reads deb822 and one-line sources, skipping security and other suites', () => {
    const deb822 = {
      name: '/etc/apt/sources.list.d/debian.sources',
      text: 'Types: deb\n# http://snapshot.debian.org/archive/debian/20250520T000000Z\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\n',
    };
    expect(aptMirrorFrom([deb822])).toBe('http://mirror.example/debian');
    const oneLine = { name: '/etc/apt/sources.list', text: 'deb http://security.debian.org/debian-security bookworm-security main\ndeb [arch=amd64] http://ftp.fr.debian.org/debian bookworm main contrib\n' };
    expect(aptMirrorFrom([oneLine])).toBe('http://ftp.fr.debian.org/debian');
    expect(aptMirrorFrom([{ name: '/etc/apt/sources.list', text: 'deb https://packages.example/apt stable main\n' }])).toBeUndefined();
  });
});
