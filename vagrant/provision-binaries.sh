#!/usr/bin/env bash
# provision-binaries.sh installs the kit's binaries on a lab machine.
#
#   provision-binaries.sh DIR
#
# DIR is where Vagrant's rsync synced folder put the host's build (bin/vm, from
# `make vm-binaries`). Every executable in it goes to /usr/local/bin, where the
# labs and their systemd units expect kube-apiserver, kubelet and friends. Only
# files that changed are replaced, so after a rebuild on the host
#
#   vagrant rsync && vagrant provision --provision-with binaries
#
# updates the machines, and says which binaries changed. Each binary is then run
# once (--version, or --help) so a binary built for another architecture, or
# against a newer libc than the VM has, fails here with a clear message instead
# of later in a lab.
#
# PROVISION_ROOT (default empty) prefixes the directory it installs into; tests set it.
set -euo pipefail

log() { echo "provision-binaries: $*"; }
die() {
	echo "provision-binaries: error: $*" >&2
	exit 1
}

(($# == 1)) || die "usage: provision-binaries.sh DIR"
src=$1 dst=${PROVISION_ROOT:-}/usr/local/bin
((EUID == 0)) || die "run as root (Vagrant's shell provisioner does)"
[[ -d $src ]] || die "$src does not exist: is the rsync synced folder set up? Try: vagrant reload"

hint="build them on the host with 'make vm-binaries', then: vagrant rsync && vagrant provision --provision-with binaries"
mapfile -t bins < <(find "$src" -maxdepth 1 -type f -perm -u+x ! -name '*.test' -printf '%f\n' | sort)
((${#bins[@]} > 0)) || die "no binaries in $src: $hint"

changed=()
for b in "${bins[@]}"; do
	if ! cmp -s "$src/$b" "$dst/$b"; then
		# install writes a new file and renames it: a running component keeps its
		# old binary until restarted, instead of crashing on a rewritten one.
		install -m 0755 "$src/$b" "$dst/$b"
		changed+=("$b")
	fi
done
if ((${#changed[@]} > 0)); then
	log "installed in $dst: ${changed[*]}"
fi

# Run each one. Components print "Kubernetes v1.37.2-kubelab+..." for --version;
# helper programs that have no --version must at least start and print help.
machine=$(uname -m)
for b in "${bins[@]}"; do
	if ! out=$("$dst/$b" --version 2>&1) && ! out=$("$dst/$b" --help 2>&1); then
		case $out in
		*"Exec format error"* | *"cannot execute binary file"*)
			die "$b is built for another architecture than this $machine machine: $hint (with GOARCH set for the VMs)" ;;
		*GLIBC*)
			die "$b needs a newer C library than this machine has: $out. Build static binaries: $hint" ;;
		*)
			die "$dst/$b does not run: $out" ;;
		esac
	fi
done
log "ready: ${#bins[@]} binaries in $dst (${bins[*]})"
