#!/usr/bin/env bash
#
# build.sh: build the kubelab Debian 12 Vagrant box for the libvirt provider
# from Debian's packages alone: no Vagrant Cloud, no download of a ready-made
# image.
#
#   vagrant/box/build.sh [--output FILE] [--mirror URL] [--size GB]
#                        [--key FILE] [--add NAME] [--force]
#
# How: debootstrap (minbase + a kernel, systemd, ssh, sudo, grub and every
# package in vagrant/packages.txt) into an ext4 partition of a sparse raw
# disk, make it a Vagrant machine (user "vagrant" with Vagrant's insecure
# key, passwordless sudo, DHCP on eth0), install GRUB to the disk, then
# `qemu-img convert -c` to a compressed qcow2 and tar it up with
# metadata.json and a Vagrantfile.
#
# Cost, measured on 2 shared cores: 6-7 minutes the first time (1-1.5 of
# them downloading ~150 MB of .debs into a cache), 4-4.5 minutes after that,
# with no network at all; debootstrap is most of it. The box is ~390 MiB; the
# VM's disk is 8 GiB (sparse). Needs root (loop devices, mount, chroot) and
# ~2 GB of free space next to the output file.
#
# The packages are cached as a debootstrap tarball in
# ${XDG_CACHE_HOME:-$HOME/.cache}/kubelab/debootstrap/, keyed by the package
# list and mirror, so the second build needs no network.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

usage() {
	cat <<EOF
Usage: vagrant/box/build.sh [--output FILE] [--mirror URL] [--size GB] [--key FILE] [--add NAME] [--force]

Builds the kubelab Debian 12 box for Vagrant's libvirt provider, offline
after the first run. Must run as root.

  --output FILE  where the box goes
                 (default \${XDG_CACHE_HOME:-\$HOME/.cache}/kubelab/boxes/kubelab-debian12.box)
  --mirror URL   Debian mirror (default \$KUBELAB_DEBIAN_MIRROR, else http://deb.debian.org/debian)
  --size GB      the VM's disk size in GiB (default 8)
  --key FILE     public key for the vagrant user (default: Vagrant's insecure key)
  --add NAME     run 'vagrant box add --force --name NAME FILE' afterwards
                 (the kit's Vagrantfile uses kubelab/debian12)
  --force        build again even if FILE exists
EOF
}

# ---------------------------------------------------------------- arguments

cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/kubelab
output=$cache_root/boxes/kubelab-debian12.box
mirror=${KUBELAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
size=8
key=
add_name=
force=0
args=("$@")

# need_value OPTION ARGC: an option given last on the line has no value.
need_value() {
	if (($2 < 2)); then
		box_err "$1 needs a value; see --help"
	fi
}

while (($# > 0)); do
	case $1 in
	--output)
		need_value "$1" $#
		output=$2
		shift 2
		;;
	--mirror)
		need_value "$1" $#
		mirror=$2
		shift 2
		;;
	--size)
		need_value "$1" $#
		size=$2
		shift 2
		;;
	--key)
		need_value "$1" $#
		key=$2
		shift 2
		;;
	--add)
		need_value "$1" $#
		add_name=$2
		shift 2
		;;
	--force)
		force=1
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		box_err "unknown argument \"$1\"; see --help" || true
		usage >&2
		exit 1
		;;
	esac
done

size=$(box_parse_size "$size")
mirror=$(box_check_mirror "$mirror")
if [[ -n $add_name ]]; then
	add_name=$(box_check_name "$add_name")
fi
if [[ -z $output || $output == */ ]]; then
	box_err "--output must name a file, e.g. --output /tmp/kubelab-debian12.box"
fi
# Absolute paths: the build changes directory and chroots.
output=$(realpath -m -- "$output")
packages_file=$here/../packages.txt
include=$(box_packages "$packages_file")

# ------------------------------------------------------------ preconditions

if ((EUID != 0)); then
	box_err "must run as root (it uses loop devices, mount and chroot); try: sudo $0 ${args[*]}"
fi

missing=()
for tool in debootstrap qemu-img sfdisk mkfs.ext4 losetup blkid findmnt fstrim mount umount tar gzip chroot truncate; do
	if ! command -v "$tool" >/dev/null; then
		missing+=("$(box_tool_package "$tool")")
	fi
done
if ((${#missing[@]} > 0)); then
	box_err "missing tools; install them with: apt-get install $(printf '%s\n' "${missing[@]}" | sort -u | paste -sd' ' -)"
fi
if [[ -n $add_name ]] && ! command -v vagrant >/dev/null; then
	box_err "--add needs vagrant; install it with: apt-get install vagrant vagrant-libvirt"
fi

if [[ -z $key ]]; then
	# The vagrant package ships the key inside its gem; the version is in the
	# directory name, so glob for it.
	for k in /usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub /opt/vagrant/embedded/gems/gems/vagrant-*/keys/vagrant.pub; do
		if [[ -r $k ]]; then
			key=$k
			break
		fi
	done
	if [[ -z $key ]]; then
		box_err "Vagrant's insecure public key (keys/vagrant.pub in the vagrant gem) not found; install vagrant or pass --key FILE"
	fi
fi
if [[ ! -r $key ]] || ! grep -qE '^(ssh-|ecdsa-)' "$key"; then
	box_err "--key $key is not a readable OpenSSH public key file"
fi

add_box() {
	if [[ -n $add_name ]]; then
		say "vagrant box add --force --name $add_name $output"
		vagrant box add --force --name "$add_name" "$output"
	else
		echo "To use it: vagrant box add --force --name kubelab/debian12 $output"
	fi
}

# say prints a progress line with the seconds since the start: the slow
# steps take minutes and should not look like a hang.
say() {
	printf '[%4ds] %s\n' "$SECONDS" "$*"
}

if [[ -e $output && $force == 0 ]]; then
	echo "box already built at $output ($(du -h "$output" | cut -f1)); use --force to build it again"
	add_box
	exit 0
fi

# ------------------------------------------------------------------ cleanup

outdir=$(dirname "$output")
mkdir -p "$outdir"
# The work directory sits next to the output so the final mv is a rename on
# one file system: an interrupted build never leaves half a box at $output.
work=$(mktemp -d "$outdir/.kubelab-box.XXXXXX")
mnt=$work/root
log=$work/build.log
part_loop=
tarball=

# mounted_under DIR: is DIR or anything below it a mount point?
mounted_under() {
	local t
	while read -r t; do
		if [[ $t == "$1" || $t == "$1"/* ]]; then
			return 0
		fi
	done < <(findmnt -rno TARGET)
	return 1
}

# cleanup runs on every exit, success or failure. Order matters: unmount
# everything under the chroot (proc, sys, dev, then the root), then detach
# the loop devices, and only then delete the work directory. rm never runs
# while something is still mounted under it: with /dev bind-mounted in the
# chroot, `rm -rf` would delete the host's device nodes.
cleanup() {
	local rc=$? clean=1
	trap - EXIT INT TERM
	if ((rc != 0)) && [[ -s $log ]]; then
		echo "--- last lines of the build log:" >&2
		tail -n 25 "$log" >&2
	fi
	if mounted_under "$mnt"; then
		# -R unmounts the submounts first, deepest first.
		if ! umount -R "$mnt"; then
			echo "build.sh: warning: $mnt is busy; detaching it lazily" >&2
			umount -R -l "$mnt" || clean=0
		fi
	fi
	if [[ -n $part_loop ]]; then
		losetup -d "$part_loop" || clean=0
	fi
	if ((clean)) && ! mounted_under "$work"; then
		# --one-file-system: a belt to the braces above.
		rm -rf --one-file-system "$work"
	else
		echo "build.sh: warning: left $work behind because something is still mounted there" >&2
	fi
	if [[ -n $tarball ]]; then
		rm -f "$tarball.partial"
	fi
	if ((rc != 0)); then
		echo "build.sh: error: build failed after ${SECONDS}s; nothing was written to $output" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
# Ctrl-C and kill: exit with the conventional status; the EXIT trap cleans up.
trap 'exit 130' INT
trap 'exit 143' TERM

# logged CMD... runs CMD with its chatter in the build log; cleanup shows
# the end of the log if the build fails.
logged() {
	printf '+ %s\n' "$*" >>"$log"
	"$@" >>"$log" 2>&1
}

# in_root CMD... runs CMD inside the new system.
in_root() {
	logged chroot "$mnt" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 HOME=/root "$@"
}

say "building $output (${size} GiB disk, mirror $mirror)"

# ------------------------------------------------- 1. download the packages

# debootstrap --cache-dir keeps the .debs but still fetches the InRelease
# file on every run, so it cannot work offline; a --make-tarball file holds
# the package indices and the .debs and --unpack-tarball needs no network.
cache_dir=$cache_root/debootstrap
mkdir -p "$cache_dir"
tarball=$cache_dir/$(box_cache_name "$BOX_SUITE" "$mirror" "$include")
if [[ -s $tarball ]]; then
	say "1/7 packages: using cached $tarball (no network needed)"
else
	say "1/7 packages: downloading from $mirror into $tarball (1-2 minutes)"
	# --make-tarball needs an empty directory to download into.
	mkdir "$work/download"
	logged debootstrap --variant=minbase --include="$include" \
		--make-tarball="$tarball.partial" "$BOX_SUITE" "$work/download" "$mirror"
	mv "$tarball.partial" "$tarball"
fi

# ------------------------------------------------------------ 2. the disk

say "2/7 disk: ${size} GiB sparse raw disk, one ext4 partition at 1 MiB"
disk=$work/disk.raw
truncate -s "${size}G" "$disk"
# One primary partition from sector 2048 (1 MiB) to the end. The first MiB
# stays free for GRUB's core.img (MBR gap). "bootable" makes old BIOSes happy.
printf 'label: dos\nstart=2048, type=83, bootable\n' | logged sfdisk --quiet "$disk"
part_start=$((2048 * 512))

# This kernel makes no partition devices for loop devices (losetup -P gives
# no /dev/loopNp1), so the partition gets a loop device of its own that
# starts at the partition's offset and runs to the end of the file. The
# whole disk needs no loop device: GRUB's boot sectors are written straight
# into disk.raw (step 5).
part_loop=$(losetup --find --show --offset "$part_start" "$disk")
logged mkfs.ext4 -q -L kubelab-root "$part_loop"
uuid=$(blkid -s UUID -o value "$part_loop")
mkdir -p "$mnt"
mount "$part_loop" "$mnt"
# Private: nothing mounted below $mnt propagates to the host or back.
mount --make-rprivate "$mnt"

# ----------------------------------------------------------- 3. debootstrap

# Files written before debootstrap, because packages read them as they are
# installed: the initrd (built at the end of debootstrap) settings, the
# fstab, and dpkg's list of paths not to unpack (docs and man pages).
mkdir -p "$mnt/etc/initramfs-tools/conf.d" "$mnt/etc/dpkg/dpkg.cfg.d"
box_fstab "$uuid" >"$mnt/etc/fstab"
box_initramfs_conf >"$mnt/etc/initramfs-tools/conf.d/kubelab"
box_dpkg_excludes >"$mnt/etc/dpkg/dpkg.cfg.d/kubelab-slim"

say "3/7 debootstrap: installing $(tr ',' '\n' <<<"$include" | wc -l) packages and their dependencies (2-4 minutes)"
logged debootstrap --variant=minbase --include="$include" \
	--unpack-tarball="$tarball" "$BOX_SUITE" "$mnt" "$mirror"

# -------------------------------------------------- 4. make it a Vagrant box

say "4/7 configure: vagrant user, ssh, network, apt"
kver=$(find "$mnt/boot" -maxdepth 1 -name 'vmlinuz-*' -printf '%f\n' | sed 's/^vmlinuz-//' | sort -V | tail -n 1)
if [[ -z $kver ]]; then
	box_err "debootstrap installed no kernel (no $mnt/boot/vmlinuz-*); see the log above"
fi

echo kubelab >"$mnt/etc/hostname"
box_hosts kubelab >"$mnt/etc/hosts"
box_interfaces >"$mnt/etc/network/interfaces"
mkdir -p "$mnt/etc/network/interfaces.d"
box_sources_list "$BOX_SUITE" >"$mnt/etc/apt/sources.list"
box_sshd_config >"$mnt/etc/ssh/sshd_config.d/kubelab.conf"
# debootstrap copied the build host's resolver; the VM gets its own from DHCP.
rm -f "$mnt/etc/resolv.conf"

# The vagrant user: uid 1000 and password "vagrant" are Vagrant's
# conventions; Vagrant itself logs in with the key and replaces it with a
# fresh per-VM key on the first `vagrant up`.
in_root useradd --create-home --uid 1000 --user-group --shell /bin/bash vagrant
echo 'vagrant:vagrant' | chroot "$mnt" chpasswd
install -d -m 0700 "$mnt/home/vagrant/.ssh"
install -m 0600 "$key" "$mnt/home/vagrant/.ssh/authorized_keys"
in_root chown -R vagrant:vagrant /home/vagrant/.ssh
box_sudoers >"$mnt/etc/sudoers.d/vagrant"
chmod 0440 "$mnt/etc/sudoers.d/vagrant"
in_root visudo -c -f /etc/sudoers.d/vagrant

# Each VM must get its own identity: an empty machine-id is filled by
# systemd on the first boot, and the SSH host keys are made by a unit then.
: >"$mnt/etc/machine-id"
rm -f "$mnt/var/lib/dbus/machine-id"
rm -f "$mnt"/etc/ssh/ssh_host_*
box_ssh_keygen_unit >"$mnt/etc/systemd/system/kubelab-ssh-keygen.service"
in_root systemctl enable kubelab-ssh-keygen.service

# ----------------------------------------------------------------- 5. GRUB

say "5/7 grub: boot loader on the disk, grub.cfg for kernel $kver"
mount -t proc proc "$mnt/proc"
mount -t sysfs sysfs "$mnt/sys"
mount --bind /dev "$mnt/dev"
box_grub_default "$uuid" >"$mnt/etc/default/grub"
# grub-pc reinstalls itself on upgrades to the disk debconf names; the VM's
# disk is virtio, so /dev/vda.
echo 'grub-pc grub-pc/install_devices multiselect /dev/vda' | chroot "$mnt" debconf-set-selections
# grub-install is not used: it cannot tell that $part_loop is a partition
# of disk.raw (there is no loopNp1 to relate them). For a BIOS disk it does
# three things, done here by hand: copy the modules to /boot/grub, build
# core.img (with a small embedded config that finds /boot/grub by the file
# system's UUID, so the disk's BIOS number does not matter), and write
# boot.img into the MBR and core.img into the gap before the partition.
in_root mkdir -p /boot/grub/i386-pc
in_root sh -c 'cp /usr/lib/grub/i386-pc/*.mod /usr/lib/grub/i386-pc/*.lst /boot/grub/i386-pc/'
box_grub_load_cfg "$uuid" >"$mnt/boot/grub/i386-pc/load.cfg"
in_root grub-mkimage --format=i386-pc --output=/boot/grub/i386-pc/core.img \
	--config=/boot/grub/i386-pc/load.cfg --prefix='(hd0,msdos1)/boot/grub' \
	biosdisk part_msdos ext2 search_fs_uuid
core_size=$(stat -c %s "$mnt/boot/grub/i386-pc/core.img")
if ((core_size > (2048 - 1) * 512)); then
	box_err "core.img is $core_size bytes; the gap before the partition holds $(((2048 - 1) * 512))"
fi
# boot.img goes in the MBR's first 440 bytes (the partition table follows);
# the BIOS runs it, it loads sector 1 (the first sector of core.img, whose
# built-in block list says how many sectors follow), and core.img loads
# normal.mod and grub.cfg from the ext4 partition.
dd if="$mnt/usr/lib/grub/i386-pc/boot.img" of="$disk" bs=440 count=1 conv=notrunc status=none
dd if="$mnt/boot/grub/i386-pc/core.img" of="$disk" bs=512 seek=1 conv=notrunc status=none
box_grub_cfg "$uuid" "$kver" >"$mnt/boot/grub/grub.cfg"

# --------------------------------------------------------------- 6. shrink

say "6/7 shrink: apt cache, docs, free blocks"
in_root apt-get clean
rm -rf "$mnt"/var/lib/apt/lists/* "$mnt"/var/log/*.log "$mnt"/var/cache/debconf/*-old
rm -rf "$mnt"/usr/share/man/* "$mnt"/usr/share/locale/* "$mnt"/usr/share/info/*
find "$mnt/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
umount "$mnt/dev" "$mnt/sys" "$mnt/proc"
# fstrim punches holes in disk.raw for every free block (the loop driver
# turns discards into holes), so the deleted .debs and docs cost nothing in
# the image; no need to write 8 GB of zeros.
fstrim "$mnt"
umount "$mnt"
losetup -d "$part_loop"
part_loop=

# ------------------------------------------------------------- 7. package

say "7/7 box: compressed qcow2 and tar.gz (about a minute)"
logged qemu-img convert -c -O qcow2 "$disk" "$work/box.img"
rm -f "$disk"
box_metadata "$size" >"$work/metadata.json"
box_vagrantfile >"$work/Vagrantfile"
# box.img is already compressed; gzip saves little but Vagrant expects a
# tar, tar.gz or zip, and gzip is what every guide shows.
tar -C "$work" -czf "$work/box.partial" metadata.json Vagrantfile box.img
mv -f "$work/box.partial" "$output"

say "done: $output ($(du -h "$output" | cut -f1), kernel $kver, root UUID $uuid)"
add_box
