/**
 * Flatcar's containerd layout, for tests: the settings of its shipped config and its unit, as its build
 * tree holds them (github.com/flatcar/scripts at ab6d76d957b8, 2026-08-22;
 * sdk_container/src/third_party/coreos-overlay/coreos/sysext/containerd/usr/share/containerd/config.toml
 * and config-cgroupfs.toml, usr/lib/systemd/system/containerd.service). The config.toml is the same file
 * in the lts-4081.3.10 (containerd 1.7.21), stable-4593.2.5 (2.1.5), beta-4757.1.0 and alpha-4790.0.0
 * (2.2.5) tags and on main (2.3). The same keys and values, written out here without upstream's comments.
 */
const BASE = `version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
subreaper = true
oom_score = -999
disabled_plugins = []

[grpc]
address = "/run/containerd/containerd.sock"
uid = 0
gid = 0

[plugins."io.containerd.runtime.v1.linux"]
shim = "containerd-shim"
runtime = "runc"
no_shim = false
`;

const RUNC = (systemd: boolean) => `
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
SystemdCgroup = ${systemd}
`;

/** /usr/share/containerd/config.toml: SELinux labelling on, systemd cgroups. */
export const FLATCAR_CONFIG_TOML = `${BASE}
[plugins."io.containerd.grpc.v1.cri"]
# enable SELinux labeling
enable_selinux = true
${RUNC(true)}`;

/** /usr/share/containerd/config-cgroupfs.toml: no enable_selinux, cgroupfs. */
export const FLATCAR_CONFIG_CGROUPFS_TOML = `${BASE}${RUNC(false)}`;

/** /usr/lib/systemd/system/containerd.service, with the containerd binary's path as a parameter. */
export const flatcarContainerdUnit = (containerd = '/usr/bin/containerd') => `[Unit]
Description=containerd container runtime
Documentation=https://containerd.io
After=network.target

[Service]
Delegate=yes
Environment=CONTAINERD_CONFIG=/usr/share/containerd/config.toml
ExecStartPre=mkdir -p /run/docker/libcontainerd
ExecStartPre=ln -fs /run/containerd/containerd.sock /run/docker/libcontainerd/docker-containerd.sock
ExecStart=${containerd} --config \${CONTAINERD_CONFIG}
KillMode=process
Type=notify
Restart=always
RestartSec=5
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity

[Install]
WantedBy=multi-user.target
`;
