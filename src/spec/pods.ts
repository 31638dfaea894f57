/**
 * Pod addresses per node. kube-controller-manager cuts `network.podCidr` into one range per node
 * (`--node-cidr-mask-size`, its `spec.podCIDR`); flannel hands that range to the node's pods through
 * host-local IPAM. The kubelet must not admit more pods than the range has addresses, so `maxPods`
 * follows the range:
 *  - a /16 pod network (the default) gives each node a /24 and the kubelet keeps its default 110 pods;
 *  - smaller pod networks give smaller ranges (a /20 gives /25s … a /22 gives /27s), so that 32 nodes
 *    still fit (the IP plan has at most 18 Kubernetes nodes);
 *  - of a range, the network and broadcast addresses and the bridge's gateway (cni0, the first address)
 *    are not for pods; of the rest the kubelet may fill half, as Kubernetes' own default does (110 pods
 *    in a /24's 253 addresses), so that addresses of pods being torn down are not yet needed again.
 */
import { parseCidr } from './ip.js';

/** The kubelet's default maxPods (KubeletConfiguration v1beta1). */
export const KUBELET_DEFAULT_MAX_PODS = 110;
/** Below this many pods per node the pod network is refused. */
export const MIN_PODS_PER_NODE = 8;

/** Prefix length of each node's pod range for a pod network of `bits`. */
export function nodeMaskFor(bits: number): number {
  return Math.min(28, Math.max(24, bits + 5));
}

export interface PodPlan {
  /** Prefix length of each node's range (`--node-cidr-mask-size`, flannel's SubnetLen). */
  nodeMask: number;
  /** How many node ranges the pod network holds. */
  nodeRanges: number;
  /** Addresses in a node's range usable by pods. */
  usable: number;
  /** The kubelet's maxPods. */
  maxPods: number;
}

export function podPlanFor(bits: number): PodPlan {
  const nodeMask = nodeMaskFor(bits);
  const usable = 2 ** (32 - nodeMask) - 3;
  return { nodeMask, nodeRanges: 2 ** (nodeMask - bits), usable, maxPods: Math.min(KUBELET_DEFAULT_MAX_PODS, Math.floor(usable / 2)) };
}

/** The plan for a pod CIDR text; throws on an invalid CIDR (validated specs only). */
export function podPlan(podCidr: string): PodPlan {
  const c = parseCidr(podCidr);
  if (!c) throw new Error(`invalid podCidr ${podCidr}`);
  return podPlanFor(c.bits);
}

/** The smallest pod network (largest prefix length) that still gives MIN_PODS_PER_NODE per node. */
export function smallestPodNetworkBits(): number {
  let bits = 8;
  while (bits < 32 && podPlanFor(bits + 1).maxPods >= MIN_PODS_PER_NODE) bits++;
  return bits;
}

/** One line for README, wizard and messages: "each node gets a /24 of it (110 pods)". */
export function describePodPlan(podCidr: string): string {
  const p = podPlan(podCidr);
  return `each node gets a /${p.nodeMask} of it (${p.maxPods} pods)`;
}
