#!/usr/bin/env bash
# deploy/deps.sh PACKAGE… — install the Debian packages of the list that are
# not installed yet, e.g.
#
#   deploy/deps.sh postgresql openssh-server openssh-client
#
# When every package is present it does nothing (no network, no lock).
# Otherwise it runs `apt-get update` once, then installs only the missing
# packages, waiting up to 300 s for a dpkg lock held by another process.
# Exit codes: 0 ok, 1 install failed, 2 usage error.
set -euo pipefail

if (($# == 0)); then
	echo "usage: deploy/deps.sh PACKAGE…" >&2
	exit 2
fi

missing=()
for pkg in "$@"; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	if [[ $status != "install ok installed" ]]; then
		missing+=("$pkg")
	fi
done
((${#missing[@]} == 0)) && exit 0

if ((EUID != 0)); then
	echo "deploy/deps.sh: missing ${missing[*]}; run as root to install them" >&2
	exit 1
fi
echo "deploy/deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=300 update
apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${missing[@]}"
