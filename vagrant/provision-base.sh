#!/usr/bin/env bash
# provision-base.sh prepares a lab machine's kernel and packages for Kubernetes
# components. It starts nothing: the labs do that.
#
#   provision-base.sh PACKAGE...     (the Vagrantfile passes vagrant/packages.txt)
#
#   1. kernel modules, now and at every boot: overlay (container root filesystems
#      are overlay mounts) and br_netfilter (so packets crossing the pod bridge go
#      through netfilter, where kube-proxy's Service rules are);
#   2. sysctls, now and at every boot: IP forwarding (a node routes pod traffic),
#      bridge-nf-call-ip(6)tables (see br_netfilter), more inotify instances (the
#      kubelet and every informer watch files);
#   3. swap off, now and in /etc/fstab (a kubelet's memory accounting assumes it);
#   4. the packages that are missing (an offline box has them all already);
#   5. a report of the cgroup version and controllers the kubelet will find.
#
# Idempotent: it changes only what is not already so, and says what it changed.
set -euo pipefail

log() { echo "provision-base: $*"; }
die() {
	echo "provision-base: error: $*" >&2
	exit 1
}

((EUID == 0)) || die "run as root (Vagrant's shell provisioner does)"

# write_if_changed FILE: standard input becomes FILE's content, if that differs.
write_if_changed() {
	local file=$1 tmp
	tmp=$(mktemp)
	cat >"$tmp"
	if cmp -s "$tmp" "$file"; then
		rm -f "$tmp"
		return 1
	fi
	install -D -m 0644 "$tmp" "$file"
	rm -f "$tmp"
	log "wrote $file"
}

# 1. Kernel modules.
modules=(overlay br_netfilter)
printf '%s\n' '# kubelab: container filesystems and bridged pod traffic (vagrant/provision-base.sh)' \
	"${modules[@]}" | write_if_changed /etc/modules-load.d/kubelab.conf || true
for m in "${modules[@]}"; do
	if [[ ! -d /sys/module/$m ]]; then
		modprobe "$m" || die "could not load the kernel module $m (modprobe $m): is linux-image-$(dpkg --print-architecture) installed and booted?"
		log "loaded kernel module $m"
	fi
done

# 2. Sysctls.
sysctl_file=/etc/sysctl.d/99-kubelab.conf
cat <<'SYSCTL' | write_if_changed "$sysctl_file" || true
# kubelab (vagrant/provision-base.sh): what nodes of a Kubernetes cluster need.
net.ipv4.ip_forward = 1
net.ipv6.conf.all.forwarding = 1
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
fs.inotify.max_user_instances = 1024
fs.inotify.max_user_watches = 524288
SYSCTL
while read -r key _ want; do
	[[ -z $key || $key == \#* ]] && continue
	have=$(sysctl -n "$key" 2>/dev/null) || die "the kernel has no sysctl $key (is br_netfilter loaded?)"
	if [[ $have != "$want" ]]; then
		sysctl -q -w "$key=$want" >/dev/null || die "could not set $key=$want"
		log "set $key = $want (was $have)"
	fi
done <"$sysctl_file"

# 3. Swap.
if [[ -n $(swapon --noheadings --show=NAME 2>/dev/null) ]]; then
	swapoff -a
	log "turned swap off"
fi
if grep -Eq '^[^#[:space:]]+[[:space:]]+[^[:space:]]+[[:space:]]+swap[[:space:]]' /etc/fstab; then
	sed -i -E 's/^([^#[:space:]]+[[:space:]]+[^[:space:]]+[[:space:]]+swap[[:space:]].*)$/# kubelab: swap off # \1/' /etc/fstab
	log "commented out swap in /etc/fstab"
fi

# 4. Packages.
missing=()
for pkg in "$@"; do
	[[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null) == ii* ]] || missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# A fresh VM's apt timers may hold the dpkg lock for a while: wait for it.
	apt=(apt-get -q -y -o DPkg::Lock::Timeout=300)
	if ! { "${apt[@]}" update >/tmp/kubelab-apt.log 2>&1 &&
		"${apt[@]}" install --no-install-recommends "${missing[@]}" >>/tmp/kubelab-apt.log 2>&1; }; then
		tail -n 20 /tmp/kubelab-apt.log >&2
		die "could not install ${missing[*]} (log: /tmp/kubelab-apt.log). Without a route to a Debian
mirror, use the kit's offline box, which has them already: vagrant/box/build.sh --add kubelab/debian12"
	fi
fi

# 5. Cgroups: report what the kubelet will find, and refuse what it cannot use.
if [[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]]; then
	controllers=$(cat /sys/fs/cgroup/cgroup.controllers)
	for c in cpu memory pids; do
		[[ " $controllers " == *" $c "* ]] || die "cgroup v2 has no $c controller (have: $controllers)"
	done
	cgroups="cgroup v2 (controllers: $controllers)"
else
	cgroups="cgroup v1"
fi

log "ready: modules ${modules[*]}, forwarding on, swap off, $# packages, $cgroups"
