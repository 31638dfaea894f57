/**
 * Cross-field rules of the cluster spec, with the messages users see. Each rule returns problems that
 * name the field; `errors` refuse the spec, `warnings` are shown but allowed.
 */
import type { ClusterSpec } from './schema.js';
import { GROUPS } from './names.js';
import type { SpecProblem } from './errors.js';
import { MIN_MEMORY_MB } from './defaults.js';
import { MAX_PER_GROUP } from './hosts.js';
import { validateVersions } from './versions.js';
import { podPlanFor, smallestPodNetworkBits } from './pods.js';
import { cidrContains, cidrsOverlap, hasHostBits, nthAddress, parseCidr, parseIpv4 } from './ip.js';

export interface Validation {
  errors: SpecProblem[];
  warnings: SpecProblem[];
}

const ROLE_WORDS = { etcd: 'etcd', 'kube-master': 'Kubernetes master', 'kube-worker': 'Kubernetes worker' } as const;

export function validateSpec(spec: ClusterSpec): Validation {
  const errors: SpecProblem[] = [];
  const warnings: SpecProblem[] = [];
  const err = (field: string, message: string) => errors.push({ field, message });

  for (const group of GROUPS) {
    const g = spec.groups[group];
    const field = `groups.${group}`;
    if (g.count < 1) err(`${field}.count`, `a cluster needs at least 1 ${ROLE_WORDS[group]} machine (got ${g.count})`);
    if (g.count > MAX_PER_GROUP)
      err(
        `${field}.count`,
        `at most ${MAX_PER_GROUP} ${ROLE_WORDS[group]} machines fit the IP plan (${spec.network.prefix}.1x1–1x9), got ${g.count}`,
      );
    const min = MIN_MEMORY_MB[group];
    if (g.memory < min) err(`${field}.memory`, `${g.memory} MB is below the ${min} MB a ${ROLE_WORDS[group]} machine needs`);
  }

  const etcd = spec.groups.etcd.count;
  if (etcd >= 2 && etcd % 2 === 0)
    warnings.push({
      field: 'groups.etcd.count',
      message: `${etcd} etcd members tolerate as many failures as ${etcd - 1} (quorum is ${etcd / 2 + 1}): an odd number is better`,
    });

  // Network plan.
  const prefixOctets = spec.network.prefix.split('.').map(Number);
  if (prefixOctets.some((o) => o > 255)) err('network.prefix', `${spec.network.prefix} is not a valid address prefix (octets go up to 255)`);
  const hostNet = parseCidr(`${spec.network.prefix}.0/24`);
  const service = parseCidr(spec.network.serviceCidr);
  const pods = parseCidr(spec.network.podCidr);
  if (!service) err('network.serviceCidr', `${spec.network.serviceCidr} is not a valid CIDR`);
  if (!pods) err('network.podCidr', `${spec.network.podCidr} is not a valid CIDR`);
  for (const [field, text] of [
    ['network.serviceCidr', spec.network.serviceCidr],
    ['network.podCidr', spec.network.podCidr],
  ] as const) {
    if (hasHostBits(text)) err(field, `${text} has host bits set: did you mean ${parseCidr(text)!.text.replace(/^[\d.]+/, nthAddress(parseCidr(text)!, 0))}?`);
  }
  if (service && service.bits > 28) err('network.serviceCidr', `${service.text} is too small for services: use a /28 or larger (e.g. 10.3.0.0/24)`);
  if (pods && pods.bits > smallestPodNetworkBits()) {
    const p = podPlanFor(pods.bits);
    err(
      'network.podCidr',
      `${pods.text} is too small for pods: each node would get a /${p.nodeMask} of it, room for ${p.maxPods} pods; use a /${smallestPodNetworkBits()} or larger (a /16 gives each node a /24, ${podPlanFor(16).maxPods} pods)`,
    );
  }
  if (service && pods && cidrsOverlap(service, pods))
    err('network.podCidr', `${pods.text} overlaps network.serviceCidr ${service.text}: pods and services need separate ranges`);
  if (hostNet && spec.provider !== 'existing') {
    if (service && cidrsOverlap(service, hostNet))
      err('network.serviceCidr', `${service.text} overlaps the host network ${hostNet.text} (network.prefix): pick another range`);
    if (pods && cidrsOverlap(pods, hostNet))
      err('network.podCidr', `${pods.text} overlaps the host network ${hostNet.text} (network.prefix): pick another range`);
  }
  if (parseIpv4(spec.network.dnsIp) === null) err('network.dnsIp', `${spec.network.dnsIp} is not a valid IPv4 address`);
  else if (service) {
    if (!cidrContains(service, spec.network.dnsIp))
      err('network.dnsIp', `${spec.network.dnsIp} is outside network.serviceCidr ${service.text}: the cluster DNS address must be a service address`);
    else if (spec.network.dnsIp === nthAddress(service, 1))
      err('network.dnsIp', `${spec.network.dnsIp} is the kubernetes API service's address (the first of ${service.text}): use another, e.g. ${nthAddress(service, 10)}`);
    else if (spec.network.dnsIp === nthAddress(service, 0))
      err('network.dnsIp', `${spec.network.dnsIp} is the network address of ${service.text}: use another, e.g. ${nthAddress(service, 10)}`);
  }

  // Machines: only with the `existing` provider, and they must match the group counts.
  if (spec.provider === 'existing') {
    if (spec.machines.length === 0)
      err('machines', 'provider "existing" needs the machines listed by address (name, address, group for each)');
    const seen = new Set<string>();
    spec.machines.forEach((m, i) => {
      if (seen.has(m.name)) err(`machines.${i}.name`, `${m.name} is listed twice: machine names must be unique`);
      seen.add(m.name);
    });
    if (spec.machines.length > 0)
      for (const group of GROUPS) {
        const n = spec.machines.filter((m) => m.group === group).length;
        if (n !== spec.groups[group].count)
          err(`groups.${group}.count`, `is ${spec.groups[group].count} but machines lists ${n} ${group} machine${n === 1 ? '' : 's'}: make them agree`);
      }
  } else if (spec.machines.length > 0) {
    err('machines', `machines are only used with provider "existing" (provider is "${spec.provider}"): remove them or change the provider`);
  }
  const v = validateVersions(spec.versions);
  errors.push(...v.errors);
  warnings.push(...v.warnings);
  return { errors, warnings };
}
