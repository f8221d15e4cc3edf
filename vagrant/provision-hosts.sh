#!/usr/bin/env bash
# provision-hosts.sh gives a lab machine its identity and tells it about the others.
#
#   provision-hosts.sh NAME ROLE IP "IP NAME"...
#
# - /etc/hosts gets one block, between kubelab markers, with every lab machine, so
#   `ping worker-1` works everywhere (the labs use names, like the hard way does).
#   The block is rewritten as a whole, so running this again (every `vagrant up`
#   and `vagrant provision`) never duplicates it, and a topology change shows up.
# - Loopback aliases of the machine's own name (127.0.1.1, 127.0.2.1) are dropped:
#   the name must resolve to the private address, which is what a kubelet
#   registering its node and certificates with the name in them need.
# - /etc/kubelab/machine.env records NAME, ROLE and IP for the labs and labcheck.
#
# Vagrant runs it as root on the VM (the Vagrantfile's "hosts" provisioner).
# PROVISION_ROOT (default empty) prefixes the files it writes; tests set it.
set -euo pipefail
root=${PROVISION_ROOT:-}

die() {
	echo "provision-hosts: error: $*" >&2
	exit 1
}

(($# >= 4)) || die "usage: provision-hosts.sh NAME ROLE IP 'IP NAME'... (got $# arguments)"
name=$1 role=$2 ip=$3
shift 3
[[ $name =~ ^[a-z0-9]([a-z0-9-]*[a-z0-9])?$ ]] || die "'$name' is not a valid host name"
[[ $role == controller || $role == worker ]] || die "role '$role' must be controller or worker"
((EUID == 0)) || die "run as root (Vagrant's shell provisioner does)"

begin='# BEGIN kubelab machines (vagrant/provision-hosts.sh rewrites this block)'
end='# END kubelab machines'

block=$(mktemp)
new=$(mktemp)
trap 'rm -f "$block" "$new"' EXIT
{
	echo "$begin"
	for entry in "$@"; do
		[[ $entry =~ ^[0-9.]+\ [a-z0-9.-]+$ ]] || die "hosts entry '$entry' is not 'IP NAME'"
		echo "$entry"
	done
	echo "$end"
} >"$block"

# Keep every line but our old block and loopback aliases of our own name; then
# append the new block.
awk -v begin="$begin" -v end="$end" -v name="$name" '
	$0 == begin { skip = 1; next }
	$0 == end   { skip = 0; next }
	skip        { next }
	$1 ~ /^127\.0\.[12]\.1$/ { for (i = 2; i <= NF; i++) if ($i == name) next }
	{ print }
' "$root/etc/hosts" >"$new"
cat "$block" >>"$new"
if ! cmp -s "$new" "$root/etc/hosts"; then
	# Same file, new content: /etc/hosts may be bind-mounted, so no rename.
	cat "$new" >"$root/etc/hosts"
	echo "provision-hosts: /etc/hosts lists $# machines"
fi

if [[ $(hostname) != "$name" ]]; then
	hostname "$name"
	echo "$name" >"$root/etc/hostname"
fi

install -d -m 0755 "$root/etc/kubelab"
printf 'NAME=%s\nROLE=%s\nIP=%s\n' "$name" "$role" "$ip" >"$new"
if ! cmp -s "$new" "$root/etc/kubelab/machine.env"; then
	install -m 0644 "$new" "$root/etc/kubelab/machine.env"
	echo "provision-hosts: /etc/kubelab/machine.env: $name, $role, $ip"
fi
