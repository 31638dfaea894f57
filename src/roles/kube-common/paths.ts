/** Where the Kubernetes roles put things on a host (Flatcar: /usr is read-only, so /opt and /etc). */

export const BIN_DIR = '/opt/bin';
export const K8S_DIR = '/etc/kubernetes';
export const K8S_PKI = '/etc/kubernetes/pki';
export const MANIFESTS_DIR = '/etc/kubernetes/manifests';
export const ADDONS_DIR = '/etc/kubernetes/addons';
export const CNI_BIN = '/opt/cni/bin';
export const CNI_CONF = '/etc/cni/net.d';
export const CONTAINERD_CONFIG = '/etc/containerd/config.toml';
export const FLANNEL_DIR = '/etc/kube-flannel';
export const FLANNEL_NET_CONF = `${FLANNEL_DIR}/net-conf.json`;
export const FLANNEL_SUBNET_FILE = '/run/flannel/subnet.env';
export const SYSTEMD_DIR = '/etc/systemd/system';
/** The local API load balancer on workers when there is more than one master (src/roles/kube-worker/apiserver-lb.ts). */
export const API_LB_HOST = '127.0.0.1';
export const API_LB_PORT = 6444;
export const API_LB_DIR = `${K8S_DIR}/haproxy`;

export const ADMIN_KUBECONFIG = `${K8S_DIR}/admin.kubeconfig`;
export const KUBELET_KUBECONFIG = `${K8S_DIR}/kubelet.kubeconfig`;
export const KUBE_PROXY_KUBECONFIG = `${K8S_DIR}/kube-proxy.kubeconfig`;
/** flanneld's own kubeconfig (never the kubelet's: see the flannel certificate in src/pki/catalog.ts). */
export const FLANNEL_KUBECONFIG = `${K8S_DIR}/flannel.kubeconfig`;
export const CONTROLLER_MANAGER_KUBECONFIG = `${K8S_DIR}/controller-manager.kubeconfig`;
export const SCHEDULER_KUBECONFIG = `${K8S_DIR}/scheduler.kubeconfig`;

/** Images the cluster pulls (documented in docs/kubernetes.md). */
export const PAUSE_IMAGE = 'registry.k8s.io/pause:3.10.1';
export const SMOKE_IMAGE = 'registry.k8s.io/e2e-test-images/busybox:1.36.1-1';
export const DASHBOARD_VERSION = '2.7.0';
export const DASHBOARD_IMAGE = `docker.io/kubernetesui/dashboard:v${DASHBOARD_VERSION}`;
export const DASHBOARD_SCRAPER_IMAGE = 'docker.io/kubernetesui/metrics-scraper:v1.0.8';
export const corednsImage = (version: string) => `registry.k8s.io/coredns/coredns:v${version}`;

export const CONTROL_PLANE_TAINT = { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' } as const;
export const CONTROL_PLANE_LABEL = 'node-role.kubernetes.io/control-plane';
export const WORKER_LABEL = 'node-role.kubernetes.io/worker';

/** Restart handlers, one per component (notified when its configuration changed). */
export const RESTART = {
  apiserver: 'restart kube-apiserver',
  controllerManager: 'restart kube-controller-manager',
  scheduler: 'restart kube-scheduler',
  kubelet: 'restart kubelet',
  kubeProxy: 'restart kube-proxy',
  flanneld: 'restart flanneld',
  containerd: 'restart containerd',
} as const;
export const DAEMON_RELOAD = 'daemon-reload';
