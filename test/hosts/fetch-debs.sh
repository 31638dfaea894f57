#!/usr/bin/env bash
# Downloads, once, Debian packages (.deb files, not installed) for tests that install them into a
# systemd test machine or unpack them, and prints the folder that holds them on stdout.
#
#   fetch-debs.sh SUITE PACKAGE...     e.g. fetch-debs.sh bookworm containerd runc
#
# The packages come from SUITE of the Debian archive this machine's apt uses (the first plain
# Debian archive in /etc/apt/sources.list*, as build-rootfs.sh picks it), through apt-get with a
# private, temporary package list: this machine's apt sources and lists are never changed, so a
# suite other than this machine's (Debian 13 "trixie" for containerd 1.7) is used for the download
# only. Cached in $KCORE_ROOTFS_CACHE/debs/SUITE (default /var/cache/kcore-wizard); a package
# already there is not downloaded again. Needs root (apt) and the Debian mirror the first time.
set -euo pipefail

[ "$#" -ge 2 ] || { echo "usage: fetch-debs.sh SUITE PACKAGE..." >&2; exit 2; }
SUITE=$1
shift
case "$SUITE" in *[!a-z0-9-]* | '') echo "fetch-debs.sh: bad suite name '$SUITE'" >&2; exit 2 ;; esac

CACHE_DIR=${KCORE_ROOTFS_CACHE:-/var/cache/kcore-wizard}
OUT="$CACHE_DIR/debs/$SUITE"
mkdir -p "$OUT"

missing=()
for p in "$@"; do
  compgen -G "$OUT/${p}_*.deb" >/dev/null || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "$OUT"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || { echo "fetch-debs.sh: needs root" >&2; exit 1; }

# shellcheck source=debian-mirror.sh
. "$(dirname "$0")/debian-mirror.sh"

exec 9>"$CACHE_DIR/.debs.lock"
flock -w 600 9 || { echo "fetch-debs.sh: another download holds $CACHE_DIR/.debs.lock" >&2; exit 1; }

TMP=$(mktemp -d "$CACHE_DIR/.debs-XXXXXX")
trap 'rm -rf --one-file-system "$TMP"' EXIT
mkdir -p "$TMP/lists/partial" "$TMP/cache/archives/partial" "$TMP/sources.list.d" "$TMP/preferences.d" "$TMP/dl"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(mirror) $SUITE main" >"$TMP/sources.list"
APT_OPTS=(
  -o "Dir::Etc::SourceList=$TMP/sources.list" -o "Dir::Etc::SourceParts=$TMP/sources.list.d"
  -o "Dir::Etc::Preferences=$TMP/preferences" -o "Dir::Etc::PreferencesParts=$TMP/preferences.d"
  -o "Dir::State::Lists=$TMP/lists" -o "Dir::Cache=$TMP/cache" -o "APT::Sandbox::User=root"
)
echo "fetch-debs.sh: downloading ${missing[*]} from $(mirror) $SUITE" >&2
apt-get "${APT_OPTS[@]}" update -qq >&2
(cd "$TMP/dl" && apt-get "${APT_OPTS[@]}" download "${missing[@]}" >&2)
mv "$TMP"/dl/*.deb "$OUT"/
echo "$OUT"
