import { isIP } from 'node:net';
import { firstServiceIp } from './net.js';
import { pkiPaths } from './paths.js';
import { PkiError, type PkiInput, type PkiNode } from './types.js';
import { sanEntry, type CertProfile } from './x509.js';

export const CLUSTER_CA_ID = 'ca';
export const ETCD_CA_ID = 'etcd/ca';
export const SERVICE_ACCOUNT_ID = 'sa';
/** The user flanneld authenticates as (its certificate's CN); the flannel ClusterRoleBinding names it. */
export const FLANNEL_USER = 'kcore:flannel';

const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function uniq(values: string[]): string[] {
  return [...new Set(values)];
}

function checkNodes(role: string, nodes: PkiNode[]): void {
  const seen = new Set<string>();
  for (const n of nodes) {
    if (!NODE_NAME.test(n.name) || n.name.length > 253) {
      throw new PkiError(`${role} node name ${JSON.stringify(n.name)} is not a lowercase DNS name (RFC 1123)`);
    }
    if (!isIP(n.ip)) throw new PkiError(`${role} node ${n.name}: ${JSON.stringify(n.ip)} is not an IP address`);
    if (seen.has(n.name)) throw new PkiError(`${role} node ${n.name} is listed twice`);
    seen.add(n.name);
  }
}

/** Masters and workers, each name once (a node listed as both gets one kubelet certificate). */
function kubeletNodes(input: PkiInput): PkiNode[] {
  const byName = new Map<string, PkiNode>();
  for (const n of [...input.masters, ...input.workers]) {
    const prev = byName.get(n.name);
    if (prev && prev.ip !== n.ip) {
      throw new PkiError(`node ${n.name} appears with two addresses: ${prev.ip} and ${n.ip}`);
    }
    byName.set(n.name, n);
  }
  return [...byName.values()];
}

/** Every certificate the input asks for, CAs first. Pure. Throws PkiError on an invalid input. */
export function certificateProfiles(input: PkiInput): CertProfile[] {
  checkNodes('etcd', input.etcd);
  checkNodes('master', input.masters);
  checkNodes('worker', input.workers);
  if (input.etcd.length === 0) throw new PkiError('at least one etcd node is needed');
  if (input.masters.length === 0) throw new PkiError('at least one master node is needed');
  if (!NODE_NAME.test(input.clusterDomain)) throw new PkiError(`clusterDomain ${JSON.stringify(input.clusterDomain)} is not a DNS name`);
  const p = pkiPaths('');
  const client = ['clientAuth'] as const;
  const both = ['serverAuth', 'clientAuth'] as const;
  const d = input.clusterDomain;
  const profiles: CertProfile[] = [
    {
      id: CLUSTER_CA_ID,
      subject: [['CN', 'kubernetes-ca']],
      sans: [],
      extKeyUsage: [],
      isCa: true,
      issuer: null,
      purpose: `Cluster CA of ${input.clusterName}: signs the API server, kubelet and component certificates; every component trusts it.`,
    },
    {
      id: ETCD_CA_ID,
      subject: [['CN', 'etcd-ca']],
      sans: [],
      extKeyUsage: [],
      isCa: true,
      issuer: null,
      purpose: 'etcd CA: signs etcd server, peer and client certificates, so only holders of its certificates reach etcd.',
    },
    {
      id: p.apiserver.id,
      subject: [['CN', 'kube-apiserver']],
      sans: uniq(
        [
          'kubernetes',
          'kubernetes.default',
          'kubernetes.default.svc',
          `kubernetes.default.svc.${d}`,
          firstServiceIp(input.serviceCidr),
          ...input.masters.flatMap((m) => [m.name, m.ip]),
          '127.0.0.1',
          'localhost',
          ...(input.apiServerExtraSans ?? []),
        ].map(sanEntry),
      ),
      extKeyUsage: ['serverAuth'],
      isCa: false,
      issuer: CLUSTER_CA_ID,
      purpose: 'Serving certificate of kube-apiserver on every master (service IP, master names and IPs, localhost).',
    },
    {
      id: p.apiserverKubeletClient.id,
      subject: [
        ['O', 'system:masters'],
        ['CN', 'kube-apiserver-kubelet-client'],
      ],
      sans: [],
      extKeyUsage: [...client],
      isCa: false,
      issuer: CLUSTER_CA_ID,
      purpose: 'Client certificate kube-apiserver presents to kubelets (logs, exec, port-forward).',
    },
    {
      id: p.admin.id,
      subject: [
        ['O', 'system:masters'],
        ['CN', 'kube-admin'],
      ],
      sans: [],
      extKeyUsage: [...client],
      isCa: false,
      issuer: CLUSTER_CA_ID,
      purpose: 'Cluster-admin client certificate for the admin kubeconfig (kubectl, kcore-wizard).',
    },
    {
      id: p.controllerManager.id,
      subject: [['CN', 'system:kube-controller-manager']],
      sans: [],
      extKeyUsage: [...client],
      isCa: false,
      issuer: CLUSTER_CA_ID,
      purpose: 'Client certificate of kube-controller-manager towards the API server.',
    },
    {
      id: p.scheduler.id,
      subject: [['CN', 'system:kube-scheduler']],
      sans: [],
      extKeyUsage: [...client],
      isCa: false,
      issuer: CLUSTER_CA_ID,
      purpose: 'Client certificate of kube-scheduler towards the API server.',
    },
    {
      id: p.kubeProxy.id,
      subject: [
        ['O', 'system:node-proxier'],
        ['CN', 'system:kube-proxy'],
      ],
      sans: [],
      extKeyUsage: [...client],
      isCa: false,
      issuer: CLUSTER_CA_ID,
      purpose: 'Client certificate of kube-proxy (all nodes share it) towards the API server.',
    },
    {
      id: p.flannel.id,
      // Not a node identity (no system:node:, no system:nodes): the Node authorizer lets a node read only
      // its own Node, and flanneld's kube subnet manager lists and watches every Node. No `system:` prefix
      // either (reserved for Kubernetes itself); the flannel ClusterRoleBinding names this user.
      subject: [['CN', FLANNEL_USER]],
      sans: [],
      extKeyUsage: [...client],
      isCa: false,
      issuer: CLUSTER_CA_ID,
      purpose: `Client certificate of flanneld (all nodes share it): user ${FLANNEL_USER}, bound to the flannel ClusterRole (list/watch nodes, patch nodes/status).`,
    },
  ];
  for (const n of kubeletNodes(input)) {
    profiles.push({
      id: p.kubelet(n.name).id,
      subject: [
        ['O', 'system:nodes'],
        ['CN', `system:node:${n.name}`],
      ],
      sans: uniq([n.name, n.ip].map(sanEntry)),
      extKeyUsage: [...both],
      isCa: false,
      issuer: CLUSTER_CA_ID,
      purpose: `Kubelet of ${n.name}: serves the kubelet API and authenticates the node to the API server (Node authorizer).`,
    });
  }
  for (const n of input.etcd) {
    const sans = uniq([n.name, n.ip, '127.0.0.1', 'localhost'].map(sanEntry));
    profiles.push({
      id: p.etcd.server(n.name).id,
      subject: [['CN', n.name]],
      sans,
      extKeyUsage: [...both],
      isCa: false,
      issuer: ETCD_CA_ID,
      purpose: `etcd member ${n.name}: serves clients on port 2379.`,
    });
    profiles.push({
      id: p.etcd.peer(n.name).id,
      subject: [['CN', n.name]],
      sans,
      extKeyUsage: [...both],
      isCa: false,
      issuer: ETCD_CA_ID,
      purpose: `etcd member ${n.name}: talks to the other members on port 2380 (mutual TLS).`,
    });
  }
  profiles.push(
    {
      id: p.etcd.apiserverClient.id,
      subject: [['CN', 'kube-apiserver-etcd-client']],
      sans: [],
      extKeyUsage: [...client],
      isCa: false,
      issuer: ETCD_CA_ID,
      purpose: 'Client certificate kube-apiserver uses to store cluster state in etcd.',
    },
    {
      id: p.etcd.kcoreClient.id,
      subject: [['CN', 'kcore-etcd-client']],
      sans: [],
      extKeyUsage: [...client],
      isCa: false,
      issuer: ETCD_CA_ID,
      purpose: 'Client certificate kcore-wizard uses for etcdctl and smoke tests.',
    },
    {
      id: p.etcd.healthcheckClient.id,
      subject: [['CN', 'kube-etcd-healthcheck-client']],
      sans: [],
      extKeyUsage: [...client],
      isCa: false,
      issuer: ETCD_CA_ID,
      purpose: 'Client certificate for etcd health checks (liveness probes, monitoring).',
    },
  );
  return profiles;
}

/** A sentence for a certificate found on disk, by its id (also for ids the input no longer lists). */
export function purposeOf(id: string, profiles: readonly CertProfile[] = []): string {
  const known = profiles.find((pr) => pr.id === id);
  if (known) return known.purpose;
  const fixed: Record<string, string> = {
    ca: 'Cluster CA: signs the API server, kubelet and component certificates.',
    'etcd/ca': 'etcd CA: signs etcd server, peer and client certificates.',
    apiserver: 'Serving certificate of kube-apiserver.',
    'apiserver-kubelet-client': 'Client certificate kube-apiserver presents to kubelets.',
    admin: 'Cluster-admin client certificate for the admin kubeconfig.',
    'controller-manager': 'Client certificate of kube-controller-manager.',
    scheduler: 'Client certificate of kube-scheduler.',
    'kube-proxy': 'Client certificate of kube-proxy.',
    flannel: 'Client certificate of flanneld.',
    'etcd/apiserver-etcd-client': 'Client certificate kube-apiserver uses towards etcd.',
    'etcd/kcore-etcd-client': 'Client certificate kcore-wizard uses for etcdctl and smoke tests.',
    'etcd/healthcheck-client': 'Client certificate for etcd health checks.',
  };
  if (fixed[id]) return fixed[id];
  let m = /^kubelet\/(.+)$/.exec(id);
  if (m) return `Kubelet of ${m[1]}: serves the kubelet API and authenticates the node.`;
  m = /^etcd\/server-(.+)$/.exec(id);
  if (m) return `etcd member ${m[1]}: serves clients on port 2379.`;
  m = /^etcd\/peer-(.+)$/.exec(id);
  if (m) return `etcd member ${m[1]}: talks to the other members on port 2380.`;
  return 'Not issued by kcore-wizard.';
}
