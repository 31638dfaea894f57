/** `kcore-wizard init`: write a default or flag-given kcore.yaml into a folder, non-interactively. */
import path from 'node:path';
import { defaultBox, defaultSpec, defaultSshUser } from '../spec/defaults.js';
import { UsageError } from '../spec/errors.js';
import { specPath } from '../spec/load.js';
import { checkSpec, saveSpec } from '../spec/parse.js';
import { hostIp, hostName } from '../spec/hosts.js';
import { FLATCAR_CHANNELS, GROUPS, PROVIDERS, type ClusterSpec, type MachineSpec, type Provider } from '../spec/schema.js';
import { intFlag, stringFlag, type CommandDef } from './args.js';
import { displayPath, resolveWorkspace, workspaceOptions, helpOption } from './workspace.js';
import { pathExists } from '../util/fs.js';

const num = (description: string) => ({ type: 'string' as const, valueName: 'n', description });
const str = (description: string, valueName = 'value') => ({ type: 'string' as const, valueName, description });

export const initCommand: CommandDef = {
  name: 'init',
  summary: 'Write a cluster spec (kcore.yaml) into a workspace folder: the seed defaults, changed by flags.',
  usage: 'kcore-wizard init [DIR] [flags]',
  details: 'Defaults: 1 etcd (1024 MB), 1 master and 2 workers (2048 MB), 1 CPU each, on 10.0.0.1x1.',
  options: {
    ...workspaceOptions,
    name: str('cluster name (a DNS label)', 'name'),
    provider: str(`machine provider: ${PROVIDERS.join(', ')}`, 'provider'),
    etcd: num('number of etcd machines (1-9; odd is best)'),
    masters: num('number of Kubernetes masters (1-9)'),
    workers: num('number of Kubernetes workers (1-9)'),
    'etcd-memory': num('memory per etcd machine, MB'),
    'master-memory': num('memory per master, MB'),
    'worker-memory': num('memory per worker, MB'),
    'etcd-cpus': num('CPUs per etcd machine'),
    'master-cpus': num('CPUs per master'),
    'worker-cpus': num('CPUs per worker'),
    prefix: str('private host network, three octets (hosts get <prefix>.1x1…1x9)', 'a.b.c'),
    'service-cidr': str('service IP range', 'cidr'),
    'pod-cidr': str('pod IP range', 'cidr'),
    'dns-ip': str('cluster DNS service IP (inside the service range)', 'ip'),
    domain: str('cluster DNS domain', 'domain'),
    'kubernetes-version': str('Kubernetes version', 'x.y.z'),
    'etcd-version': str('etcd version', 'x.y.z'),
    'containerd-version': str('containerd version', 'x.y.z'),
    'cni-version': str('CNI plugins version', 'x.y.z'),
    'flannel-version': str('flannel version', 'x.y.z'),
    'coredns-version': str('CoreDNS version', 'x.y.z'),
    artifacts: str('artifact source: official, an http(s) mirror URL, or a local folder', 'src'),
    'ssh-user': str('SSH login user on the machines', 'user'),
    box: str('vagrant box name', 'name'),
    'box-url': str('vagrant box URL', 'url'),
    channel: str(`Flatcar channel: ${FLATCAR_CHANNELS.join(', ')}`, 'channel'),
    dashboard: { type: 'boolean', description: 'also install the Kubernetes dashboard add-on' },
    'allow-cgroup-v1': { type: 'boolean', description: 'let the kubelet run on cgroup v1 machines (failCgroupV1: false; deprecated upstream)' },
    force: { type: 'boolean', short: 'f', description: 'overwrite an existing kcore.yaml' },
    help: helpOption,
  },
  async run(ctx) {
    const workspace = resolveWorkspace(ctx);
    const file = specPath(workspace);
    if (!ctx.values.force && (await pathExists(file)))
      throw new UsageError(`${displayPath(ctx, file)} already exists: edit it, or pass --force to replace it with a new spec`);
    const spec = specFromFlags(ctx.values);
    const { warnings } = checkSpec(spec, displayPath(ctx, file));
    await saveSpec(workspace, spec);
    for (const w of warnings) ctx.stderr.write(`warning: ${w.field}: ${w.message}\n`);
    const g = spec.groups;
    const dirArg = workspace === ctx.cwd ? '' : ` ${displayPath(ctx, workspace)}`;
    ctx.stdout.write(
      `wrote ${displayPath(ctx, file)}: cluster "${spec.name}", ${g.etcd.count} etcd, ${plural(g['kube-master'].count, 'master')}, ${plural(g['kube-worker'].count, 'worker')} (provider ${spec.provider})\n` +
        (spec.provider === 'existing'
          ? `${existingNextSteps(spec, displayPath(ctx, file)).join('\n')}\nthen: kcore-wizard up${dirArg}\n`
          : `next: kcore-wizard render${dirArg}   (or: kcore-wizard up)\n`),
    );
    return 0;
  },
};

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Provider `existing`: the machines, as many per group as its count. Machines already listed stay as
 * they are (the first `count` of their group); missing ones are added as placeholders named as vagrant
 * would name them, at their planned private address, port 22, until the user writes the real ones.
 */
export function plannedMachines(spec: ClusterSpec): MachineSpec[] {
  const out: MachineSpec[] = [];
  const taken = new Set(spec.machines.map((m) => m.name));
  for (const group of GROUPS) {
    const count = spec.groups[group].count;
    const have = spec.machines.filter((m) => m.group === group).slice(0, count);
    out.push(...have);
    for (let i = 1, n = have.length; n < count && i <= count + spec.machines.length; i++) {
      const name = hostName(group, i);
      if (taken.has(name)) continue;
      taken.add(name);
      out.push({ name, address: hostIp(spec.network.prefix, group, i), group, port: 22 });
      n++;
    }
  }
  return out;
}

/** What to fill in before `up` can reach machines that kcore-wizard does not create. */
export function existingNextSteps(spec: ClusterSpec, file: string): string[] {
  const m = spec.machines;
  const list = m.length <= 3 ? m.map((x) => `${x.name} ${x.address}`).join(', ') : `${m[0]!.name} ${m[0]!.address} … ${m.at(-1)!.name} ${m.at(-1)!.address}`;
  return [
    `provider existing: no machines are created; ${file} lists ${m.length} under machines: at placeholder addresses (${list}).`,
    `next: edit machines: in ${file}: each machine's address (and port) as you reach it over SSH, privateIp when its`,
    '  cluster-network address differs; ssh.user: a login with passwordless sudo on all of them; ssh.identityFile: its',
    '  private key (leave it out to use ssh-agent). The group counts must match the machines listed.',
  ];
}

/** Build a spec from init's flags on top of the defaults (validated by the caller). */
export function specFromFlags(values: Record<string, string | boolean | string[] | undefined>): ClusterSpec {
  const provider = stringFlag(values, 'provider');
  if (provider !== undefined && !(PROVIDERS as readonly string[]).includes(provider))
    throw new UsageError(`--provider must be one of ${PROVIDERS.join(', ')}, got "${provider}"`);
  const channel = stringFlag(values, 'channel');
  if (channel !== undefined && !(FLATCAR_CHANNELS as readonly string[]).includes(channel))
    throw new UsageError(`--channel must be one of ${FLATCAR_CHANNELS.join(', ')}, got "${channel}"`);
  const spec = defaultSpec({ name: stringFlag(values, 'name'), provider: provider as Provider | undefined });
  if (channel) spec.box = defaultBox(spec.provider, channel as ClusterSpec['box']['channel']);
  const box = stringFlag(values, 'box');
  const boxUrl = stringFlag(values, 'box-url');
  if (box !== undefined) spec.box = { ...spec.box, name: box, url: boxUrl ?? '' };
  else if (boxUrl !== undefined) spec.box = { ...spec.box, url: boxUrl };
  spec.ssh.user = stringFlag(values, 'ssh-user') ?? defaultSshUser(spec.provider);

  const group = (g: keyof ClusterSpec['groups'], count: string, memory: string, cpus: string) => {
    spec.groups[g] = {
      count: intFlag(values, count) ?? spec.groups[g].count,
      memory: intFlag(values, memory) ?? spec.groups[g].memory,
      cpus: intFlag(values, cpus) ?? spec.groups[g].cpus,
    };
  };
  group('etcd', 'etcd', 'etcd-memory', 'etcd-cpus');
  group('kube-master', 'masters', 'master-memory', 'master-cpus');
  group('kube-worker', 'workers', 'worker-memory', 'worker-cpus');

  const net = spec.network;
  spec.network = {
    prefix: stringFlag(values, 'prefix') ?? net.prefix,
    serviceCidr: stringFlag(values, 'service-cidr') ?? net.serviceCidr,
    podCidr: stringFlag(values, 'pod-cidr') ?? net.podCidr,
    dnsIp: stringFlag(values, 'dns-ip') ?? net.dnsIp,
    domain: stringFlag(values, 'domain') ?? net.domain,
  };
  for (const k of Object.keys(spec.versions) as Array<keyof ClusterSpec['versions']>) {
    const v = stringFlag(values, `${k}-version`);
    if (v !== undefined) spec.versions[k] = v.replace(/^v/, '');
  }
  const artifacts = stringFlag(values, 'artifacts');
  if (artifacts !== undefined) spec.artifacts.source = /^(https?:|official$)/.test(artifacts) ? artifacts : path.resolve(artifacts);
  if (values.dashboard) spec.addons.dashboard = true;
  if (values['allow-cgroup-v1']) spec.kubelet.allowCgroupV1 = true;
  if (spec.provider === 'existing') spec.machines = plannedMachines(spec);
  return spec;
}
