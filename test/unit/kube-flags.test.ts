// Every flag the control-plane and kubelet units pass, and every KubeletConfiguration field, was
// reviewed against upstream for Kubernetes 1.35–1.37 (src/spec/versions.ts). This test pins that
// review: a flag or field nobody checked (or one upstream removed) makes it fail.
//
// Sources (checked 2026):
//  - kube-apiserver: https://kubernetes.io/docs/reference/command-line-tools-reference/kube-apiserver/
//    All flags below are current and not deprecated. --insecure-* were removed in 1.24 and are absent;
//    --service-account-issuer / --service-account-key-file / --service-account-signing-key-file are the
//    three the apiserver requires since 1.20 (token projection). --anonymous-auth=true keeps the
//    unauthenticated /livez /readyz /healthz probes working (system:public-info-viewer).
//    --enable-aggregator-routing and the --requestheader-*/--proxy-client-* flags are not set: only
//    aggregated APIs (metrics-server) need them, and the cluster installs none.
//  - kube-apiserver -> kubelet: the client certificate is issued with O=system:masters
//    (src/pki/catalog.ts, apiserver-kubelet-client), a group that passes every authorization check, so
//    the kubelet's Webhook authorizer (SubjectAccessReview on nodes/proxy, nodes/log, ...) allows
//    kubectl logs/exec/port-forward without a system:kubelet-api-admin binding.
//  - kube-controller-manager: https://kubernetes.io/docs/reference/command-line-tools-reference/kube-controller-manager/
//    --allocate-node-cidrs, --cluster-cidr, --node-cidr-mask-size, --service-cluster-ip-range,
//    --cluster-signing-cert-file/key-file, --root-ca-file, --service-account-private-key-file,
//    --use-service-account-credentials, --leader-elect, --profiling, --bind-address, --cluster-name,
//    --authentication-kubeconfig/--authorization-kubeconfig (delegated authn/authz for its secure
//    /healthz and /metrics on 10257): all current. No --cloud-provider (in-tree providers were removed;
//    leaving it unset means no cloud provider).
//  - kube-scheduler: https://kubernetes.io/docs/reference/command-line-tools-reference/kube-scheduler/
//    and kubernetes/kubernetes cmd/kube-scheduler/app/options/deprecated.go: --kubeconfig and
//    --profiling are marked "DEPRECATED ... ignored if a config file is specified in --config"; they
//    still work in 1.35–1.37 because no --config is given. Moving to a KubeSchedulerConfiguration
//    (kubescheduler.config.k8s.io/v1, clientConnection.kubeconfig, enableProfiling: false) is the
//    upstream direction; it needs a new file the master role uploads. --authentication-kubeconfig,
//    --authorization-kubeconfig, --bind-address, --leader-elect: current.
//  - kubelet flags: https://kubernetes.io/docs/reference/command-line-tools-reference/kubelet/
//    --config, --kubeconfig, --node-ip, --hostname-override have no KubeletConfiguration field and stay
//    flags. --container-runtime was removed in 1.27 (containerRuntimeEndpoint in the file instead);
//    --cloud-provider, --pod-infra-container-image and the config-file-backed flags are not used.
//  - KubeletConfiguration: https://kubernetes.io/docs/reference/config-api/kubelet-config.v1beta1/
//    (staging/src/k8s.io/kubelet/config/v1beta1/types.go). authentication.{anonymous,webhook,x509.
//    clientCAFile}, authorization.mode: Webhook, cgroupDriver: systemd (containerd's runc runtime sets
//    SystemdCgroup = true, templates/containerd/config.toml.njk), clusterDNS, clusterDomain,
//    containerRuntimeEndpoint, resolvConf, tlsCertFile/tlsPrivateKeyFile (static serving certificate
//    with the node's name and IP, so rotateCertificates/serverTLSBootstrap stay false), registerNode,
//    registerWithTaints, staticPodPath, runtimeRequestTimeout, maxPods: all current fields.
//    failCgroupV1 (pkg/kubelet/apis/config/v1beta1/defaults.go defaults it to true from 1.35, KEP-5573)
//    is written explicitly: true, so the kubelet refuses a cgroup v1 node as upstream intends, unless
//    kcore.yaml opts in with kubelet.allowCgroupV1 (then false, and preflight/bootstrap warn).
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { defaultSpec, hostsOf } from '../../src/spec/index.js';
import { apiServiceIp } from '../../src/spec/hosts.js';
import { certificateProfiles } from '../../src/pki/catalog.js';
import { pkiInput } from '../../src/roles/pki/index.js';
import { apiserverUnit, controllerManagerUnit, kubeletConfig, kubeletUnit, schedulerUnit } from '../../src/roles/kube-common/index.js';

const spec = defaultSpec({ name: 'flags' });
const master = hostsOf(spec, 'kube-master')[0]!;
const worker = hostsOf(spec, 'kube-worker')[0]!;

/** The flag names on a unit's ExecStart (continuation lines joined). */
function flagsOf(unit: string): string[] {
  const exec = unit.replace(/\\\n/g, ' ').split('\n').find((l) => l.startsWith('ExecStart='));
  if (!exec) throw new Error('no ExecStart in the unit');
  return [...exec.matchAll(/\s(--[a-z0-9-]+)(?:=|\s|$)/g)].map((m) => m[1]!);
}

const REVIEWED = {
  apiserver: ['--advertise-address', '--bind-address', '--secure-port', '--allow-privileged', '--authorization-mode', '--enable-admission-plugins', '--anonymous-auth', '--client-ca-file', '--tls-cert-file', '--tls-private-key-file', '--etcd-servers', '--etcd-cafile', '--etcd-certfile', '--etcd-keyfile', '--kubelet-client-certificate', '--kubelet-client-key', '--kubelet-certificate-authority', '--kubelet-preferred-address-types', '--service-cluster-ip-range', '--service-node-port-range', '--service-account-issuer', '--service-account-key-file', '--service-account-signing-key-file', '--profiling', '--v'],
  controllerManager: ['--kubeconfig', '--authentication-kubeconfig', '--authorization-kubeconfig', '--bind-address', '--cluster-name', '--allocate-node-cidrs', '--cluster-cidr', '--node-cidr-mask-size', '--service-cluster-ip-range', '--cluster-signing-cert-file', '--cluster-signing-key-file', '--root-ca-file', '--service-account-private-key-file', '--use-service-account-credentials', '--leader-elect', '--profiling', '--v'],
  scheduler: ['--kubeconfig', '--authentication-kubeconfig', '--authorization-kubeconfig', '--bind-address', '--leader-elect', '--profiling', '--v'],
  kubelet: ['--config', '--kubeconfig', '--node-ip', '--hostname-override', '--v'],
};

/** Flags upstream removed (or that moved to the config file) in or before 1.35. */
const REMOVED = ['--insecure-port', '--insecure-bind-address', '--container-runtime', '--cloud-provider', '--address', '--port', '--pod-infra-container-image', '--network-plugin', '--cgroup-driver', '--cluster-dns', '--cluster-domain', '--resolv-conf', '--tls-cert-file', '--client-ca-file', '--container-runtime-endpoint'];

describe('generated flags are the reviewed ones (Kubernetes 1.35–1.37)', () => {
  const units = {
    apiserver: apiserverUnit(spec, master),
    controllerManager: controllerManagerUnit(spec, master),
    scheduler: schedulerUnit(spec, master),
    kubelet: kubeletUnit(spec, worker),
  };
  for (const [name, unit] of Object.entries(units) as Array<[keyof typeof REVIEWED, string]>) {
    it(`${name}: exactly the reviewed flags, each once`, () => {
      const flags = flagsOf(unit);
      expect([...flags].sort()).toEqual([...REVIEWED[name]].sort());
    });
  }
  it('no removed flag on the kubelet, no insecure or cloud-provider flag anywhere', () => {
    expect(flagsOf(units.kubelet).filter((f) => REMOVED.includes(f))).toEqual([]);
    for (const u of [units.apiserver, units.controllerManager, units.scheduler])
      expect(flagsOf(u).filter((f) => /^--insecure-|^--cloud-provider$|^--port$|^--address$/.test(f))).toEqual([]);
  });
  it('scheduler and controller manager delegate authn/authz to the apiserver so their secure /healthz serves', () => {
    for (const [u, kc] of [
      [units.scheduler, 'scheduler.kubeconfig'],
      [units.controllerManager, 'controller-manager.kubeconfig'],
    ] as const) {
      expect(u).toContain(`--authentication-kubeconfig=/etc/kubernetes/${kc} `);
      expect(u).toContain(`--authorization-kubeconfig=/etc/kubernetes/${kc} `);
    }
  });
});

const KUBELET_FIELDS = ['apiVersion', 'kind', 'authentication', 'authorization', 'cgroupDriver', 'clusterDNS', 'clusterDomain', 'containerRuntimeEndpoint', 'resolvConf', 'tlsCertFile', 'tlsPrivateKeyFile', 'rotateCertificates', 'serverTLSBootstrap', 'registerNode', 'registerWithTaints', 'staticPodPath', 'runtimeRequestTimeout', 'maxPods', 'failCgroupV1'];

describe('KubeletConfiguration fields are the reviewed v1beta1 ones', () => {
  for (const host of [master, worker]) {
    it(`${host.group}: known fields, secure authn/authz, systemd cgroups, cgroup v1 refused by default`, () => {
      const c = YAML.parse(kubeletConfig(spec, host, { resolvConf: '/run/systemd/resolve/resolv.conf' })) as Record<string, unknown>;
      expect(Object.keys(c).filter((k) => !KUBELET_FIELDS.includes(k))).toEqual([]);
      expect(c).toMatchObject({
        apiVersion: 'kubelet.config.k8s.io/v1beta1',
        kind: 'KubeletConfiguration',
        authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: '/etc/kubernetes/pki/ca.crt' } },
        authorization: { mode: 'Webhook' },
        cgroupDriver: 'systemd',
        containerRuntimeEndpoint: 'unix:///run/containerd/containerd.sock',
        resolvConf: '/run/systemd/resolve/resolv.conf',
        rotateCertificates: false,
        serverTLSBootstrap: false,
      });
      // failCgroupV1 stays on unless the spec opts in: upstream defaults it to true from 1.35.
      expect(c.failCgroupV1).toBe(true);
      const optIn = { ...spec, kubelet: { allowCgroupV1: true } };
      expect((YAML.parse(kubeletConfig(optIn, host, { resolvConf: '/run/systemd/resolve/resolv.conf' })) as Record<string, unknown>).failCgroupV1).toBe(false);
    });
  }
});

describe('kube-apiserver reaches kubelets (logs, exec, port-forward) and is reachable by its service name', () => {
  const profiles = certificateProfiles(pkiInput(spec));
  it('the kubelet client certificate is in system:masters, so the kubelet webhook authorizer allows nodes/proxy without a binding', () => {
    const unit = apiserverUnit(spec, master);
    expect(unit).toContain('--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt ');
    const cert = profiles.find((p) => p.id === 'apiserver-kubelet-client');
    expect(cert?.subject).toContainEqual(['O', 'system:masters']);
    expect(cert?.extKeyUsage).toContain('clientAuth');
  });
  it('every kubelet: its certificate is system:node:<--hostname-override> in system:nodes (Node authorizer, NodeRestriction) and serves its --node-ip', () => {
    for (const h of [...hostsOf(spec, 'kube-master'), ...hostsOf(spec, 'kube-worker')]) {
      const unit = kubeletUnit(spec, h);
      const name = /--hostname-override=(\S+)/.exec(unit)?.[1];
      const ip = /--node-ip=(\S+)/.exec(unit)?.[1];
      const cert = profiles.find((p) => p.subject.some(([k, v]) => k === 'CN' && v === `system:node:${name}`));
      expect(cert?.subject, h.name).toContainEqual(['O', 'system:nodes']);
      expect(cert?.extKeyUsage, h.name).toEqual(expect.arrayContaining(['serverAuth', 'clientAuth']));
      expect(cert?.sans, h.name).toContain(`IP:${ip}`);
    }
  });
  it('the serving certificate names the service IP, kubernetes.default.svc.<domain>, every master and localhost', () => {
    const sans = profiles.find((p) => p.id === 'apiserver')?.sans ?? [];
    const want = [
      'DNS:kubernetes.default.svc',
      `DNS:kubernetes.default.svc.${spec.network.domain}`,
      `IP:${apiServiceIp(spec)}`,
      'IP:127.0.0.1',
      'DNS:localhost',
      ...hostsOf(spec, 'kube-master').flatMap((m) => [`DNS:${m.name}`, `IP:${m.ip}`]),
    ];
    expect(want.filter((w) => !sans.includes(w))).toEqual([]);
  });
});
