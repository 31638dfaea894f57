# Sourced by build-rootfs.sh and fetch-debs.sh: the Debian archive to download from.
# KCORE_DEBIAN_MIRROR wins; otherwise the first plain Debian archive the machine's apt uses
# (deb822 or one-line format), else deb.debian.org.
mirror() {
  if [ -n "${KCORE_DEBIAN_MIRROR:-}" ]; then echo "$KCORE_DEBIAN_MIRROR"; return; fi
  local m
  m=$(grep -hsE '^(URIs:|deb) ' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list 2>/dev/null |
    grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ' || true)
  echo "${m:-http://deb.debian.org/debian}"
}
