#!/usr/bin/env bash
# install-deps.sh installs what kubelab needs to build and test on Debian 12 or Ubuntu:
#
#   1. Debian packages: compilers, git, etcd 3.4 (tests can use it as an external etcd),
#      nftables, iproute2, conntrack, a static busybox (for test images), ...
#   2. Go 1.26 or later. When there is none, it bootstraps one without naming any
#      download host: Debian's golang-go (1.19) fetches the official toolchain as a
#      Go module (golang.org/toolchain) through the module proxy it is configured
#      with, and the module's tree, which is a Go distribution, is copied to
#      $KUBELAB_GOROOT. Then the temporary golang-go is removed again.
#   3. The kubelab module's dependencies (go mod download), so builds work offline.
#
#   With --vagrant, also what the lab machines need on this host, and what their
#   tests use: Vagrant with the libvirt provider, libvirt, QEMU, debootstrap (the
#   offline box builder) and shellcheck. Students on laptops install Vagrant and
#   VirtualBox or libvirt their own way (labs/01-machines.md).
#
# It is idempotent and quiet: a step prints one line when it does something, and a
# second run prints nothing (but a reminder, when the Go it uses is not on your PATH).
# Run it as root, or as a user who may sudo.
#
# Environment:
#   KUBELAB_GOROOT      where Go is installed if missing (default /usr/local/go)
#   KUBELAB_GO_VERSION  the Go release to install (default 1.26.8)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
export KUBELAB_GOROOT=${KUBELAB_GOROOT:-/usr/local/go} # find-go.sh reads it too
go_version=${KUBELAB_GO_VERSION:-1.26.8}

packages=(
	ca-certificates git gcc libc6-dev make # building
	etcd-server etcd-client                # an external etcd 3.4 for tests, etcdctl for labs
	nftables iproute2 conntrack procps     # what kube-proxy and the kubelet drive
	busybox-static                         # the busybox test image is built from it
	curl unzip
	shellcheck # make lint, and the tests of vagrant/'s scripts
)
# --vagrant: the lab machines (Vagrantfile, vagrant/) and their tests.
vagrant_packages=(
	vagrant vagrant-libvirt ruby                                       # vagrant validate; topology.rb
	libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils # VMs (the qemu driver needs no KVM)
	dnsmasq-base ebtables                                              # libvirt's networks
	debootstrap fdisk rsync                                            # vagrant/box/build.sh (sfdisk); rsync synced folder
)

case ${1:-} in
"") ;;
--vagrant) packages+=("${vagrant_packages[@]}") ;;
-h | --help)
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "install-deps: unknown option '$1' (options: --vagrant)" >&2
	exit 2
	;;
esac

step() { printf 'install-deps: %s\n' "$*"; }
die() {
	printf 'install-deps: error: %s\n' "$*" >&2
	exit 1
}

tmp=$(mktemp -d)
cleanup() {
	# We only ever add a policy-rc.d while installing, and only when there was none.
	if [[ -f $tmp/policy-rc.d.ours ]]; then as_root rm -f /usr/sbin/policy-rc.d; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# as_root runs a command as root: directly, or through sudo.
as_root() {
	if ((EUID == 0)); then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		die "need root to run '$*': run this script as root, or install sudo"
	fi
}

# quietly runs a command with its output kept aside, and shows the output only if it fails.
quietly() {
	if ! "$@" >"$tmp/log" 2>&1; then
		cat "$tmp/log" >&2
		die "failed: $*"
	fi
}

installed_packages() {
	dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 == "ii" { print $2 }' | sort
}

apt_update_if_stale() {
	local lists=/var/lib/apt/lists
	if compgen -G "$lists/*_Packages*" >/dev/null && [[ -n $(find "$lists" -maxdepth 0 -mmin -1440) ]]; then
		return
	fi
	step "apt-get update (package lists missing or older than a day)"
	quietly as_root apt-get update -q
	as_root touch "$lists" # apt leaves unchanged lists alone; this marks them as checked today
}

# install_packages installs those of the named packages that are not installed yet.
install_packages() {
	local missing=() pkg
	for pkg in "$@"; do
		[[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null) == ii* ]] || missing+=("$pkg")
	done
	((${#missing[@]} > 0)) || return 0
	apt_update_if_stale
	step "apt-get install ${missing[*]}"
	# We want binaries, not system services: Debian's etcd-server would start an etcd on
	# port 2379 at install time. A policy-rc.d that says "no" stops that for this install.
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$tmp/policy-rc.d"
		as_root install -m 0755 "$tmp/policy-rc.d" /usr/sbin/policy-rc.d
		touch "$tmp/policy-rc.d.ours"
	fi
	local install=(as_root env DEBIAN_FRONTEND=noninteractive
		apt-get install -y -q --no-install-recommends "${missing[@]}")
	if ! "${install[@]}" >"$tmp/log" 2>&1; then
		# Lists from earlier today can already name package versions the mirror replaced.
		step "apt-get install failed; updating the package lists and trying once more"
		quietly as_root apt-get update -q
		quietly "${install[@]}"
	fi
	if [[ -f $tmp/policy-rc.d.ours ]]; then
		as_root rm -f /usr/sbin/policy-rc.d
		rm -f "$tmp/policy-rc.d.ours"
	fi
	# On systemd machines the unit would still start at the next boot (and hold the
	# port the labs' own etcd wants).
	if [[ " ${missing[*]} " == *" etcd-server "* && -d /run/systemd/system ]]; then
		as_root systemctl disable --now etcd.service >/dev/null 2>&1 || true
	fi
}

# toolchain_arch maps Debian's architecture name to Go's, as the toolchain modules spell it.
toolchain_arch() {
	local arch
	arch=$(dpkg --print-architecture)
	case $arch in
	amd64 | arm64 | s390x | riscv64 | loong64) echo "$arch" ;;
	armhf | armel) echo armv6l ;;
	i386) echo 386 ;;
	ppc64el) echo ppc64le ;;
	*) die "no Go toolchain known for the Debian architecture '$arch'" ;;
	esac
}

# bootstrap_go installs Go $go_version into $KUBELAB_GOROOT, fetched as a Go module by
# whatever go command there is, however old (Debian's golang-go if there is none).
bootstrap_go() {
	local go before mod json dir version added=()
	go=$(command -v go || true)
	if [[ -z $go && -x $KUBELAB_GOROOT/bin/go ]]; then go=$KUBELAB_GOROOT/bin/go; fi
	if [[ -z $go ]]; then
		before=$(installed_packages)
		install_packages golang-go
		mapfile -t added < <(comm -13 <(echo "$before") <(installed_packages))
		go=$(command -v go || echo /usr/lib/go/bin/go)
	fi

	mod=golang.org/toolchain@v0.0.1-go$go_version.linux-$(toolchain_arch)
	step "fetching Go $go_version as the module $mod (using $(cd / && "$go" version | cut -d' ' -f3))"
	# A throwaway module cache; -modcacherw lets us delete it afterwards.
	if ! json=$(cd "$tmp" && env GOMODCACHE="$tmp/modcache" GOFLAGS=-modcacherw \
		GOTOOLCHAIN=local GO111MODULE=on "$go" mod download -json "$mod" 2>&1); then
		printf '%s\n' "$json" >&2
		die "could not fetch $mod through the Go module proxy"
	fi
	dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")
	[[ -n $dir && -d $dir ]] || die "no Dir in: $json"

	step "installing Go $go_version into $KUBELAB_GOROOT"
	install_toolchain "$dir" "$KUBELAB_GOROOT"
	version=$("$KUBELAB_GOROOT/bin/go" version) || die "$KUBELAB_GOROOT/bin/go does not run"
	[[ $version == *" go$go_version "* ]] || die "$KUBELAB_GOROOT/bin/go says '$version'"

	if ((${#added[@]} > 0)); then
		step "removing the bootstrap Go again: ${added[*]}"
		quietly as_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "${added[@]}"
	fi
}

# install_toolchain copies an unpacked golang.org/toolchain module to a GOROOT, undoing
# the two things a module zip cannot hold (as the go command does when it switches
# toolchains, see cmd/go/internal/toolchain/select.go): exec bits, and nested go.mod
# files, which the module stores as _go.mod.
install_toolchain() {
	local src=$1 dst=$2
	local new=$dst.new.$$ old=$dst.old.$$
	as_root mkdir -p "$(dirname "$dst")"
	as_root rm -rf "$new"
	as_root cp -R --no-preserve=mode "$src" "$new"
	as_root chmod +x "$new"/bin/*
	as_root find "$new/pkg/tool" -type f -exec chmod +x {} +
	as_root find "$new/lib" -type f -name 'go_?*_?*_exec' -exec chmod +x {} +
	# shellcheck disable=SC2016 # $f is expanded by the inner sh
	as_root find "$new" -type f -name _go.mod -exec sh -c 'for f; do cp "$f" "${f%_go.mod}go.mod"; done' sh {} +
	if [[ -e $dst ]]; then as_root mv "$dst" "$old"; fi
	as_root mv "$new" "$dst"
	as_root rm -rf "$old"
}

# 1. Debian packages.
if command -v apt-get >/dev/null && command -v dpkg-query >/dev/null; then
	install_packages "${packages[@]}"
	debian=yes
else
	step "not Debian or Ubuntu: make sure you have the equivalents of: ${packages[*]}"
	debian=no
fi

# 2. Go.
if ! go=$("$here/find-go.sh"); then
	[[ $debian == yes ]] || die "no Go 1.26 or later found: install it, or put it on PATH"
	bootstrap_go
	go=$("$here/find-go.sh") || die "Go $go_version was installed but find-go.sh does not find it"
fi
if [[ $(command -v go || true) != "$go" ]]; then
	step "Go is $go; to use it yourself: export PATH=$(dirname "$go"):\$PATH"
fi

# 3. The module's dependencies (a no-op when they are all in the module cache already).
if [[ -f $repo/go.mod ]] && ! (cd "$repo" && GOPROXY=off "$go" mod download) >/dev/null 2>&1; then
	step "go mod download (the module's dependencies, so builds work offline)"
	(cd "$repo" && quietly "$go" mod download)
fi
