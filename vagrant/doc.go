// Package vagrant holds no code: it is the home of the lab machines (the
// Vagrantfile at the top of the repository, the provisioning scripts and the
// topology rules in this directory) and of their tests.
//
// How the pieces fit:
//
//	Vagrantfile ── topology.rb ─────────── machines: names, addresses, sizes
//	     │
//	     ├─ rsync bin/vm ──────────────── /opt/kubelab/bin on every VM
//	     └─ provisioners (as root, on every VM, idempotent):
//	          provision-hosts.sh      /etc/hosts block, hostname, /etc/kubelab/machine.env
//	          provision-base.sh       kernel modules, sysctls, swap off, packages.txt
//	          provision-binaries.sh   /opt/kubelab/bin → /usr/local/bin, and a test run of each
//
//	box/build.sh                       the offline Debian 12 box (libvirt) from Debian's packages
//
// The tests run at three depths: the topology rules and the provisioning
// scripts against temporary directories (fast, every run); `vagrant validate`
// for every topology and provider (no VM, needs vagrant); and TestVagrantE2E,
// which boots the default topology for real under QEMU inside a network
// namespace of its own (make vagrant-e2e).
package vagrant
