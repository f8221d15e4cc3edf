# shellcheck shell=bash
#
# lib.sh: the pure parts of the offline box builder (vagrant/box/build.sh).
#
# Every function here only reads its arguments (and, for box_packages, one
# file) and prints to stdout; errors go to stderr with a non-zero status.
# Nothing here mounts, writes or downloads, so box_test.go can run all of it
# as an ordinary user in milliseconds. build.sh sources this file and does
# the side effects.
#
# Usage: source vagrant/box/lib.sh; box_metadata 8

# box_err prints "build.sh: error: MESSAGE" on stderr and returns 1. The
# messages say what to do, not just what went wrong.
box_err() {
	printf 'build.sh: error: %s\n' "$*" >&2
	return 1
}

# BOX_SUITE is the Debian release the box is made of. Everything else (the
# grub.cfg, the apt sources) is written for it.
# shellcheck disable=SC2034 # used by build.sh, which sources this file
BOX_SUITE=bookworm

# BOX_MIN_SIZE_GB is the smallest disk that holds the system (about 1.3 GB
# installed) with room left for the lab binaries and container images.
BOX_MIN_SIZE_GB=4
BOX_MAX_SIZE_GB=2048

# BOX_BASE_PACKAGES is what a Vagrant box needs on top of debootstrap's
# minbase variant. Why each one is there:
#   linux-image-amd64   the kernel with all modules (overlay, br_netfilter)
#   systemd-sysv        systemd as PID 1; the labs install systemd units
#   dbus libpam-systemd hostnamectl, systemd-analyze and logind sessions
#   udev kmod           device nodes and modprobe
#   openssh-server sudo Vagrant logs in as "vagrant" and runs sudo
#   ifupdown isc-dhcp-client  DHCP on eth0; Vagrant's Debian guest plugin
#                       writes the private network into /etc/network/interfaces
#   iproute2 netbase    ip(8), /etc/services and /etc/protocols
#   grub-pc             BIOS boot loader (libvirt's default machine is BIOS)
#   ca-certificates     https for apt and curl once the VM is online
#   rsync               Vagrant's rsync synced folder
#   python3-minimal     many provisioning snippets expect a python3
#   initramfs-tools     the initrd that finds the root disk by UUID
BOX_BASE_PACKAGES=(
	linux-image-amd64 systemd-sysv dbus libpam-systemd udev kmod
	openssh-server sudo ifupdown isc-dhcp-client iproute2 netbase grub-pc
	ca-certificates rsync python3-minimal initramfs-tools
)

# box_parse_size SIZE prints SIZE as a whole number of GiB. It accepts "8",
# "8G", "8GB" and "8GiB" because people type all of them.
box_parse_size() {
	local raw=${1-} n
	n=${raw%GiB}
	n=${n%GB}
	n=${n%G}
	if [[ ! $n =~ ^[0-9]+$ ]]; then
		box_err "--size must be a whole number of GiB, e.g. --size 8 (got \"$raw\")"
		return 1
	fi
	# 10# stops bash from reading "010" as octal.
	n=$((10#$n))
	if ((n < BOX_MIN_SIZE_GB || n > BOX_MAX_SIZE_GB)); then
		box_err "--size must be between $BOX_MIN_SIZE_GB and $BOX_MAX_SIZE_GB GiB (got \"$raw\"); the default 8 fits the labs"
		return 1
	fi
	printf '%s\n' "$n"
}

# box_check_mirror URL prints URL without a trailing slash if debootstrap
# can use it: http://, https:// or file:///.
box_check_mirror() {
	local url=${1-}
	if [[ ! $url =~ ^(https?://[^/]+|file:///).* ]]; then
		box_err "--mirror must be an http://, https:// or file:/// URL of a Debian mirror, e.g. http://deb.debian.org/debian (got \"$url\")"
		return 1
	fi
	printf '%s\n' "${url%/}"
}

# box_check_name NAME prints NAME if Vagrant accepts it as a box name
# ("kubelab/debian12"): no spaces, no empty string, no leading dash.
box_check_name() {
	local name=${1-}
	if [[ ! $name =~ ^[A-Za-z0-9][A-Za-z0-9._/-]*$ ]]; then
		box_err "--add needs a box name like kubelab/debian12 (letters, digits, . _ - /; got \"$name\")"
		return 1
	fi
	printf '%s\n' "$name"
}

# box_tool_package TOOL prints the Debian package that ships TOOL, so a
# missing tool can be reported as "apt-get install PACKAGE".
box_tool_package() {
	case ${1-} in
	debootstrap) echo debootstrap ;;
	qemu-img) echo qemu-utils ;;
	qemu-system-x86_64) echo qemu-system-x86 ;;
	sfdisk) echo fdisk ;;
	mkfs.ext4) echo e2fsprogs ;;
	losetup | blkid | findmnt | fstrim | mount | umount) echo mount ;;
	tar) echo tar ;;
	gzip) echo gzip ;;
	chroot | truncate | sha256sum) echo coreutils ;;
	vagrant) echo vagrant ;;
	*)
		box_err "no known package for tool \"${1-}\""
		return 1
		;;
	esac
}

# box_packages FILE prints the package names in FILE (one per line, '#'
# starts a comment, blank lines ignored) followed by BOX_BASE_PACKAGES, as
# one sorted, de-duplicated, comma-separated line: the form debootstrap's
# --include takes.
box_packages() {
	local file=${1-}
	if [[ ! -r $file ]]; then
		box_err "cannot read package list \"$file\"; it ships in the repository as vagrant/packages.txt"
		return 1
	fi
	local line word
	local -a words=("${BOX_BASE_PACKAGES[@]}")
	while IFS= read -r line || [[ -n $line ]]; do
		line=${line%%#*}
		for word in $line; do
			if [[ ! $word =~ ^[a-z0-9][a-z0-9+.-]+$ ]]; then
				box_err "\"$word\" in $file is not a Debian package name"
				return 1
			fi
			words+=("$word")
		done
	done <"$file"
	printf '%s\n' "${words[@]}" | LC_ALL=C sort -u | paste -sd, -
}

# box_metadata SIZE_GB prints the box's metadata.json. vagrant-libvirt reads
# virtual_size (in GiB) to size the VM's disk and format to pick the driver.
box_metadata() {
	local size
	size=$(box_parse_size "${1-}") || return 1
	printf '{"provider":"libvirt","format":"qcow2","virtual_size":%s}\n' "$size"
}

# box_vagrantfile prints the Vagrantfile shipped inside the box. Settings in
# it are defaults under the kit's own Vagrantfile; the only thing the box
# itself cares about is a virtio disk (it becomes /dev/vda, which grub-pc's
# debconf answer names). The root file system is found by UUID, so another
# bus still boots.
box_vagrantfile() {
	cat <<'EOF'
# Vagrantfile inside the kubelab Debian 12 box (built by vagrant/box/build.sh).
Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |libvirt|
    libvirt.disk_bus = "virtio"
  end
end
EOF
}

# box_kernel_cmdline prints the kernel arguments. Why each one:
#   root=UUID=    the disk's name differs between buses (vda, sda); the UUID does not
#   console=tty0 console=ttyS0  boot messages on the screen and on the serial
#                 port (the last console= gets /dev/console, so systemd's
#                 output and the login prompt land on the serial port, which
#                 is what `virsh console` and a QEMU -serial file show)
#   net.ifnames=0 biosdevname=0  the NIC is eth0, as /etc/network/interfaces says
box_kernel_cmdline() {
	local uuid=${1-}
	box_check_uuid "$uuid" || return 1
	printf 'root=UUID=%s ro console=tty0 console=ttyS0,115200n8 net.ifnames=0 biosdevname=0\n' "$uuid"
}

# box_check_uuid UUID returns 0 if UUID looks like a file system UUID.
box_check_uuid() {
	if [[ ! ${1-} =~ ^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$ ]]; then
		box_err "\"${1-}\" is not a file system UUID (blkid -s UUID -o value DEVICE prints one)"
		return 1
	fi
}

# box_grub_cfg ROOT_UUID KERNEL_VERSION prints /boot/grub/grub.cfg. It is
# written by hand because update-grub in a chroot on a loop device finds no
# root device and writes a menu with no entry. Inside the running VM
# update-grub works, and /etc/default/grub (box_grub_default) keeps the same
# kernel arguments when a kernel upgrade rewrites this file.
box_grub_cfg() {
	local uuid=${1-} kver=${2-} cmdline
	cmdline=$(box_kernel_cmdline "$uuid") || return 1
	if [[ ! $kver =~ ^[0-9][A-Za-z0-9.+~_-]*$ ]]; then
		box_err "\"$kver\" is not a kernel version like 6.1.0-35-amd64"
		return 1
	fi
	cat <<EOF
# Written by kubelab vagrant/box/build.sh; update-grub replaces it after a
# kernel upgrade, using /etc/default/grub.
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=1
set default=0
insmod part_msdos
insmod ext2
search --no-floppy --fs-uuid --set=root $uuid
menuentry 'Debian GNU/Linux 12 (kubelab)' {
	linux /boot/vmlinuz-$kver $cmdline
	initrd /boot/initrd.img-$kver
}
EOF
}

# box_grub_load_cfg ROOT_UUID prints the config embedded in GRUB's core.img:
# find the partition by UUID and read modules and grub.cfg from it, whatever
# BIOS drive number the disk gets.
box_grub_load_cfg() {
	box_check_uuid "${1-}" || return 1
	printf 'search.fs_uuid %s root\n' "$1"
	# shellcheck disable=SC2016 # $root is GRUB's variable, not the shell's
	printf 'set prefix=($root)/boot/grub\n'
}

# box_grub_default ROOT_UUID prints /etc/default/grub for update-grub inside
# the VM: same console and interface-name arguments as box_grub_cfg.
box_grub_default() {
	local cmdline
	cmdline=$(box_kernel_cmdline "${1-}") || return 1
	# update-grub adds root= and ro itself.
	cmdline=${cmdline#root=UUID=* ro }
	cat <<EOF
# Written by kubelab vagrant/box/build.sh.
GRUB_DEFAULT=0
GRUB_TIMEOUT=1
GRUB_DISTRIBUTOR=Debian
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="$cmdline"
GRUB_TERMINAL="serial console"
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
EOF
}

# box_fstab ROOT_UUID prints /etc/fstab. errors=remount-ro is Debian's
# default: a damaged disk turns read-only instead of getting worse.
box_fstab() {
	box_check_uuid "${1-}" || return 1
	printf '# <file system> <mount point> <type> <options> <dump> <pass>\n'
	printf 'UUID=%s / ext4 errors=remount-ro 0 1\n' "$1"
}

# box_interfaces prints /etc/network/interfaces. eth0 is the management NIC
# (DHCP from libvirt's NAT network); allow-hotplug instead of auto so a VM
# without a NIC (the boot test) does not wait for DHCP. The source line lets
# extra NICs live in their own files.
box_interfaces() {
	cat <<'EOF'
# Written by kubelab vagrant/box/build.sh. Vagrant appends the private
# network (eth1) between #VAGRANT-BEGIN and #VAGRANT-END markers.
source /etc/network/interfaces.d/*

auto lo
iface lo inet loopback

allow-hotplug eth0
iface eth0 inet dhcp
EOF
}

# box_initramfs_conf prints /etc/initramfs-tools/conf.d/kubelab.
# FSTYPE=ext4: the initrd gets fsck.ext4 only if its hook can tell the root
# file system's type, and in the build chroot it cannot (it looks the fstab's
# UUID up in /dev/disk/by-uuid, which a chroot has not got), so every boot
# said "fsck not present, so skipping root file system".
# RESUME=none: there is no swap partition to resume from; without it the
# hook guesses and warns.
box_initramfs_conf() {
	cat <<'EOF'
# Written by kubelab vagrant/box/build.sh.
FSTYPE=ext4
RESUME=none
EOF
}

# box_sudoers prints /etc/sudoers.d/vagrant: Vagrant runs every provisioner
# with sudo and cannot type a password.
box_sudoers() {
	printf 'vagrant ALL=(ALL) NOPASSWD:ALL\n'
}

# box_sshd_config prints /etc/ssh/sshd_config.d/kubelab.conf. UseDNS no
# stops sshd from waiting on reverse DNS of the host's address, which has no
# answer on libvirt's private networks and costs seconds per `vagrant ssh`.
box_sshd_config() {
	printf 'UseDNS no\n'
}

# box_sources_list SUITE prints /etc/apt/sources.list for the VM once it is
# online. It always names deb.debian.org (not the --mirror the box was built
# from, which may be a classroom cache the VM cannot reach).
box_sources_list() {
	local suite=${1-}
	if [[ ! $suite =~ ^[a-z]+$ ]]; then
		box_err "\"$suite\" is not a Debian suite name like bookworm"
		return 1
	fi
	cat <<EOF
deb http://deb.debian.org/debian $suite main
deb http://deb.debian.org/debian $suite-updates main
deb http://deb.debian.org/debian-security $suite-security main
EOF
}

# box_hosts HOSTNAME prints /etc/hosts. The 127.0.1.1 line is Debian's
# convention for a host without a fixed address; Vagrant rewrites it when a
# Vagrantfile sets config.vm.hostname.
box_hosts() {
	local name=${1-}
	if [[ ! $name =~ ^[a-z0-9]([a-z0-9-]*[a-z0-9])?$ ]]; then
		box_err "\"$name\" is not a host name"
		return 1
	fi
	cat <<EOF
127.0.0.1	localhost
127.0.1.1	$name
::1	localhost ip6-localhost ip6-loopback
ff02::1	ip6-allnodes
ff02::2	ip6-allrouters
EOF
}

# box_dpkg_excludes prints /etc/dpkg/dpkg.cfg.d/kubelab-slim. minbase has
# no man(1) and no locales, so man pages, translations and most docs are dead
# weight; copyright files stay (the licences ask for them).
box_dpkg_excludes() {
	cat <<'EOF'
# Written by kubelab vagrant/box/build.sh: keep the box small.
path-exclude=/usr/share/man/*
path-exclude=/usr/share/locale/*
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/info/*
EOF
}

# box_ssh_keygen_unit prints a systemd unit that makes the SSH host keys on
# the first boot. The build deletes the keys openssh-server generated, or
# every VM made from the box would share them.
box_ssh_keygen_unit() {
	cat <<'EOF'
[Unit]
Description=Generate SSH host keys on first boot (kubelab box)
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
EOF
}

# box_cache_name SUITE MIRROR PACKAGES prints the file name of the
# debootstrap package tarball for this exact package set: a different list or
# mirror gets a different tarball instead of a stale one.
box_cache_name() {
	local key
	key=$(printf '%s\n' "$@" | sha256sum) || return 1
	printf '%s-%s.tar\n' "${1-}" "${key:0:12}"
}
