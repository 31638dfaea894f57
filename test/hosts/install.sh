#!/usr/bin/env bash
# Installs the Debian packages the test suite needs (real test hosts, vagrant-lxc, etcd, Ruby,
# Ansible, tmux), without starting any of their services on this machine: a policy-rc.d that exits
# 101 is in place during the install (openssh-server would otherwise start an sshd on port 22,
# lxc its own NAT bridge and haproxy its default service). Idempotent, and quick when everything is already there.
# Then builds (once, cached) the Debian rootfs that systemd test machines boot from.
set -euo pipefail

PACKAGES=(
  openssh-server openssh-client sudo iproute2 util-linux   # light hosts: netns + sshd
  systemd systemd-container debootstrap dbus                # systemd machines (nspawn)
  vagrant vagrant-lxc lxc                                   # the end-to-end vagrant path
  etcd-server etcd-client                                   # etcd binaries for the local artifact mirror
  ruby ansible-core tmux openssl ca-certificates curl       # Vagrantfile/inventory checks, terminal test
  qemu-utils                                                # qemu-img: the libvirt box packaging test
  haproxy                                                   # haproxy -c and the API load balancer failover test
)

[ "$(id -u)" -eq 0 ] || { echo "install.sh: run as root (it installs Debian packages)" >&2; exit 1; }

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# kubectl, for test/unit/kube-render.test.ts (offline: `kubectl config view` parses the generated
# kubeconfigs, `kubectl annotate --local` decodes every manifest). Debian's kubernetes-client
# (1.20 in bookworm) is enough for that; a kubectl already installed from another package (it owns
# /usr/bin/kubectl too) is kept.
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install.sh: installing ${missing[*]}"
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# kcore-wizard: keep services from starting during package installs\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
  fi
  trap '[ "$own_policy" = 1 ] && rm -f "$policy"' EXIT
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "install.sh: all Debian packages present"
fi

# The rootfs of the systemd test machines (about a minute the first time, then cached).
bash "$(dirname "$0")/build-rootfs.sh" >/dev/null
echo "install.sh: systemd machine rootfs ready"

# Debian's containerd 1.6 and 1.7 (trixie, download only), runc, CNI plugins and a static busybox, and
# Debian 13's etcd 3.5 (the upgrade test: 3.4 → 3.5)
# for test/integration/containerd.test.ts (cached .debs, installed into its machines, not here).
bash "$(dirname "$0")/fetch-debs.sh" bookworm containerd runc containernetworking-plugins busybox-static >/dev/null
bash "$(dirname "$0")/fetch-debs.sh" trixie containerd etcd-server >/dev/null
echo "install.sh: containerd test packages ready"
