#!/usr/bin/env bash
# Builds, once, the Debian bookworm root filesystem that systemd test machines boot from
# (systemd-nspawn over a per-machine overlay), and prints its path on stdout.
#
# The cache is keyed by ROOTFS_VERSION: bump it whenever the package list or the setup below
# changes, and every machine picks up the new tree (old trees can be deleted by hand).
# The tree is built in a temporary directory next to the cache and renamed into place when
# complete, so an interrupted build never leaves a half cache. A lock serialises builds.
#
# Environment: KCORE_ROOTFS_CACHE (default /var/cache/kcore-wizard),
#              KCORE_DEBIAN_MIRROR (default: the machine's Debian mirror, else deb.debian.org).
# Needs root, debootstrap and Debian's package mirror; takes 3-7 minutes the first time.
set -euo pipefail

ROOTFS_VERSION=1
SUITE=bookworm
# curl and ping are cheap and handy for tests inside the machines.
PACKAGES=systemd,systemd-sysv,dbus,openssh-server,sudo,iproute2,iputils-ping,ca-certificates,curl,procps,tar,gzip,coreutils,less

CACHE_DIR=${KCORE_ROOTFS_CACHE:-/var/cache/kcore-wizard}
TARGET="$CACHE_DIR/test-rootfs-$SUITE-v$ROOTFS_VERSION"

if [ -d "$TARGET" ]; then
  echo "$TARGET"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || { echo "build-rootfs.sh: needs root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "build-rootfs.sh: debootstrap missing (run test/hosts/install.sh)" >&2; exit 1; }

# shellcheck source=debian-mirror.sh
. "$(dirname "$0")/debian-mirror.sh"

mkdir -p "$CACHE_DIR"
exec 9>"$CACHE_DIR/.build.lock"
flock -w 1800 9 || { echo "build-rootfs.sh: another build holds $CACHE_DIR/.build.lock" >&2; exit 1; }
# Someone else may have finished the build while we waited for the lock.
if [ -d "$TARGET" ]; then
  echo "$TARGET"
  exit 0
fi

# Builds interrupted by SIGKILL leave .build-* behind; with the lock held nobody else is building.
for stale in "$CACHE_DIR"/.build-*; do
  [ -e "$stale" ] || continue
  findmnt -rn -o TARGET | grep -F "$stale/" | sort -r | xargs -r -n1 umount -l || true
  rm -rf --one-file-system "$stale"
done

BUILD=$(mktemp -d "$CACHE_DIR/.build-XXXXXX")
cleanup() {
  findmnt -rn -o TARGET | grep -F "$BUILD/" | sort -r | xargs -r -n1 umount -l || true
  rm -rf --one-file-system "$BUILD"
}
trap cleanup EXIT

ROOT="$BUILD/rootfs"
MIRROR=$(mirror)
echo "build-rootfs.sh: debootstrap $SUITE from $MIRROR into $ROOT" >&2
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOT" "$MIRROR" >&2

# --- Make it a good test machine ------------------------------------------------------------
# Per-machine identity is written into each machine's overlay: host keys, machine-id, hostname.
rm -f "$ROOT"/etc/ssh/ssh_host_*
: >"$ROOT/etc/machine-id"
rm -f "$ROOT/var/lib/dbus/machine-id"
# debootstrap copies this machine's name, hosts and resolver into the tree: none of it belongs there.
echo localhost >"$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$ROOT/etc/hosts"
printf '# no resolver in kcore-wizard test machines\n' >"$ROOT/etc/resolv.conf"
chmod 644 "$ROOT/etc/hostname" "$ROOT/etc/hosts" "$ROOT/etc/resolv.conf"
# The machine's console is a pipe to a log file: send the journal there too, so a machine that
# fails to boot explains itself in the error message.
mkdir -p "$ROOT/etc/systemd/journald.conf.d"
printf '[Journal]\nForwardToConsole=yes\nMaxLevelConsole=info\n' >"$ROOT/etc/systemd/journald.conf.d/kcore-console.conf"
# IPv4 only: no link-local IPv6 chatter on the test bridge.
printf 'net.ipv6.conf.all.disable_ipv6=1\nnet.ipv6.conf.default.disable_ipv6=1\n' >"$ROOT/etc/sysctl.d/90-kcore-ipv4-only.conf"
# Services that only slow a boot down or reach for the network. The console is a pipe to a log
# file, so no getty on it.
for unit in console-getty.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
  systemd-timesyncd.service fstrim.timer man-db.timer; do
  ln -sf /dev/null "$ROOT/etc/systemd/system/$unit"
done
# Static addressing on host0 comes from systemd-networkd (the .network file is per machine).
chroot "$ROOT" systemctl enable systemd-networkd.service ssh.service >&2
# No package lists or downloaded .debs in the cache.
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*
echo "kcore-wizard test rootfs $SUITE v$ROOTFS_VERSION" >"$ROOT/etc/kcore-test-rootfs"

mv "$ROOT" "$TARGET"
echo "build-rootfs.sh: built $TARGET" >&2
echo "$TARGET"
