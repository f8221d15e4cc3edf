#!/usr/bin/env bash
# check-machine.sh runs on a lab VM (as root) in TestVagrantE2E and prints one
# line per check: "ok   what" or "FAIL what: why". It exits 1 if any failed.
#
#   check-machine.sh NAME ROLE IP "IP NAME"...
set -u
name=$1 role=$2 ip=$3
shift 3
failed=0

check() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then
		echo "ok   $what"
	else
		echo "FAIL $what: $(echo "$out" | tr '\n' ' ' | cut -c1-200)"
		failed=1
	fi
}
# shellcheck disable=SC2317 # called through check
equals() { [[ $1 == "$2" ]] || { echo "got '$1', want '$2'"; return 1; }; }

# Identity and names.
check "hostname is $name" equals "$(hostname)" "$name"
check "machine.env says $name $role $ip" equals "$(tr '\n' ' ' </etc/kubelab/machine.env)" "NAME=$name ROLE=$role IP=$ip "
check "$ip is on a private interface" sh -c "ip -4 -o addr show | grep -q 'inet $ip/24'"
for entry in "$@"; do
	peer_ip=${entry% *} peer=${entry#* }
	check "$peer resolves to $peer_ip" equals "$(getent ahostsv4 "$peer" | awk 'NR == 1 { print $1 }')" "$peer_ip"
	check "$peer ($peer_ip) answers ping" ping -c 1 -W 5 "$peer_ip"
done

# Kernel prerequisites, now and at boot.
for m in overlay br_netfilter; do
	check "module $m loaded" test -d "/sys/module/$m"
	check "module $m loaded at boot" grep -qx "$m" /etc/modules-load.d/kubelab.conf
done
check "overlay filesystem available" grep -qw overlay /proc/filesystems
for s in net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables; do
	check "sysctl $s = 1" equals "$(sysctl -n "$s")" 1
done
check "swap off" equals "$(swapon --noheadings --show=NAME)" ""
check "cgroup v2" equals "$(stat -fc %T /sys/fs/cgroup)" cgroup2fs
for c in cpu memory pids; do
	check "cgroup controller $c" grep -qw "$c" /sys/fs/cgroup/cgroup.controllers
done

# Packages the components and labs use.
for c in nft conntrack ip ping socat curl jq openssl rsync; do
	check "$c installed" command -v "$c"
done
check "nft can list the ruleset" nft list ruleset

# The kit's binaries: installed, static, and they run.
for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kubelab-monitor; do
	check "$b --version" sh -c "/usr/local/bin/$b --version | grep -q '^Kubernetes v1\.'"
done
check "kubelab --version" sh -c '/usr/local/bin/kubelab --version | grep -q "Kubernetes API v1\."'
check "kubelet --help" sh -c '/usr/local/bin/kubelet --help | grep -q -- --kubeconfig'
check "nothing started (no kubelet running)" sh -c '! pgrep -x kubelet'

exit $failed
