import path from 'node:path';

export interface CertKeyPaths {
  /** Certificate id: path under `<workspace>/pki` without extension. */
  id: string;
  cert: string;
  key: string;
}

export interface PkiPaths {
  /** `<workspace>/pki` */
  root: string;
  ca: CertKeyPaths;
  apiserver: CertKeyPaths;
  apiserverKubeletClient: CertKeyPaths;
  admin: CertKeyPaths;
  controllerManager: CertKeyPaths;
  scheduler: CertKeyPaths;
  kubeProxy: CertKeyPaths;
  /** flanneld on every node (its own identity: the Node authorizer lets a kubelet read only its own Node). */
  flannel: CertKeyPaths;
  /** One per master and worker node. */
  kubelet(nodeName: string): CertKeyPaths;
  /** Service-account signing key pair (no certificate). */
  serviceAccount: { id: string; key: string; pub: string };
  etcd: {
    dir: string;
    ca: CertKeyPaths;
    server(memberName: string): CertKeyPaths;
    peer(memberName: string): CertKeyPaths;
    /** Client the API server uses towards etcd. */
    apiserverClient: CertKeyPaths;
    /** Client kcore-wizard uses for smoke tests and etcdctl. */
    kcoreClient: CertKeyPaths;
    /** Client for etcd liveness probes. */
    healthcheckClient: CertKeyPaths;
  };
}

export function pkiRoot(workspace: string): string {
  return path.join(workspace, 'pki');
}

/** Typed map of every file of the store. Pure: touches no disk. */
export function pkiPaths(workspace: string): PkiPaths {
  const root = pkiRoot(workspace);
  const pair = (id: string): CertKeyPaths => ({
    id,
    cert: path.join(root, `${id}.crt`),
    key: path.join(root, `${id}.key`),
  });
  return {
    root,
    ca: pair('ca'),
    apiserver: pair('apiserver'),
    apiserverKubeletClient: pair('apiserver-kubelet-client'),
    admin: pair('admin'),
    controllerManager: pair('controller-manager'),
    scheduler: pair('scheduler'),
    kubeProxy: pair('kube-proxy'),
    flannel: pair('flannel'),
    kubelet: (name) => pair(`kubelet/${name}`),
    serviceAccount: { id: 'sa', key: path.join(root, 'sa.key'), pub: path.join(root, 'sa.pub') },
    etcd: {
      dir: path.join(root, 'etcd'),
      ca: pair('etcd/ca'),
      server: (name) => pair(`etcd/server-${name}`),
      peer: (name) => pair(`etcd/peer-${name}`),
      apiserverClient: pair('etcd/apiserver-etcd-client'),
      kcoreClient: pair('etcd/kcore-etcd-client'),
      healthcheckClient: pair('etcd/healthcheck-client'),
    },
  };
}
