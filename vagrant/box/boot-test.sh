#!/usr/bin/env bash
#
# boot-test.sh: prove a box built by build.sh boots, without Vagrant or
# libvirt.
#
#   vagrant/box/boot-test.sh [BOX]   (default: build.sh's default output)
#
# It boots box.img (through a throw-away qcow2 overlay, so the box is not
# changed) in QEMU with software emulation (TCG; KVM may not work on lab
# hosts) and NO network device, so no traffic leaves the machine. On the
# serial console it waits for the login prompt, logs in as vagrant/vagrant
# and checks: passwordless sudo, the overlay and br_netfilter modules load,
# systemd finished booting, a fresh machine-id, SSH host keys made on first
# boot, the insecure key in ~/.ssh/authorized_keys. Then it kills QEMU.
#
# Takes about 1.5 minutes on 2 shared cores (login prompt after ~50 s) and
# ~20 MB of temporary disk. Root is not needed.
set -euo pipefail

box=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/kubelab/boxes/kubelab-debian12.box}
timeout=${BOOT_TEST_TIMEOUT:-300}

fail() {
	printf 'boot-test.sh: error: %s\n' "$*" >&2
	exit 1
}

[[ -r $box ]] || fail "no box at $box; build one with vagrant/box/build.sh"
for tool in qemu-system-x86_64 qemu-img tar mkfifo; do
	command -v "$tool" >/dev/null || fail "$tool not found; apt-get install qemu-system-x86 qemu-utils"
done

work=$(mktemp -d)
qemu_pid=
reader_pid=
cleanup() {
	local rc=$?
	# Kill exactly the processes this script started, by PID.
	if [[ -n $qemu_pid ]]; then
		kill "$qemu_pid" 2>/dev/null || true
		wait "$qemu_pid" 2>/dev/null || true
	fi
	if [[ -n $reader_pid ]]; then
		kill "$reader_pid" 2>/dev/null || true
		wait "$reader_pid" 2>/dev/null || true
	fi
	if ((rc != 0)) && [[ -s $work/serial.log ]]; then
		echo "--- last lines of the serial console:" >&2
		tail -n 30 "$work/serial.log" >&2
	fi
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() {
	printf '[%4ds] %s\n' "$SECONDS" "$*"
}

say "extracting box.img from $box"
tar -C "$work" -xzf "$box" box.img
# The overlay takes all writes; the box's own image stays as built.
qemu-img create -q -f qcow2 -F qcow2 -b "$work/box.img" "$work/disk.qcow2"

# A pipe chardev: QEMU reads the guest's serial input from serial.in and
# writes its output to serial.out, so this script can log in.
mkfifo "$work/serial.in" "$work/serial.out"
qemu-system-x86_64 -machine accel=tcg -m 768 -smp 1 \
	-display none -monitor none -nic none \
	-drive "file=$work/disk.qcow2,if=virtio" \
	-serial "pipe:$work/serial" &
qemu_pid=$!
cat "$work/serial.out" >"$work/serial.log" &
reader_pid=$!

# wait_for TEXT: wait until the serial log contains TEXT (a fixed string).
wait_for() {
	while ! grep -qF -- "$1" "$work/serial.log"; do
		if ((SECONDS > timeout)); then
			fail "no \"$1\" on the serial console after ${timeout}s"
		fi
		kill -0 "$qemu_pid" 2>/dev/null || fail "QEMU exited before \"$1\" appeared"
		sleep 1
	done
}

# send TEXT: type TEXT and Enter on the serial console.
send() {
	printf '%s\r' "$1" >"$work/serial.in"
}

say "booting with TCG, no network device"
wait_for "Linux version"
say "kernel started"
wait_for "login:"
say "login prompt on ttyS0"
send vagrant
wait_for "Password:"
send vagrant
wait_for "vagrant@kubelab:~\$"
say "logged in as vagrant"
# One line, and the markers are assembled by the shell, so finding them in
# the log means the command ran (not just that its echo came back).
# shellcheck disable=SC2016 # $(...) is for the guest's shell
send 'sudo -n true && echo "SUDO""-OK"; sudo -n modprobe overlay && sudo -n modprobe br_netfilter && echo "MODULES""-OK"; systemctl is-system-running --wait; echo "MACHINE""-ID=$(cat /etc/machine-id)"; ls /etc/ssh/ssh_host_ed25519_key && echo "HOSTKEY""-OK"; grep -q vagrant ~/.ssh/authorized_keys && echo "AUTHKEY""-OK"; echo "CHECKS""-DONE"'
wait_for "CHECKS-DONE"

# Drop carriage returns and terminal escapes (colours, bash's bracketed
# paste mode) so each marker is a line of its own.
log=$(tr -d '\r' <"$work/serial.log" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g')
ok=1
for marker in SUDO-OK MODULES-OK HOSTKEY-OK AUTHKEY-OK; do
	if grep -qx "$marker" <<<"$log"; then
		say "ok: $marker"
	else
		say "FAILED: $marker"
		ok=0
	fi
done
state=$(grep -xE 'running|degraded|starting|initializing|maintenance|stopping' <<<"$log" | tail -n 1 || true)
say "systemctl is-system-running: ${state:-?}"
if [[ $state != running ]]; then
	ok=0
fi
if grep -qxE 'MACHINE-ID=[0-9a-f]{32}' <<<"$log"; then
	say "ok: $(grep -xE 'MACHINE-ID=[0-9a-f]{32}' <<<"$log")"
else
	say "FAILED: no machine-id made on first boot"
	ok=0
fi
# The initrd copies fsck.ext4 only if /etc/fstab named / when it was built.
if grep -q "fsck not present" <<<"$log"; then
	say "FAILED: the initrd has no fsck for the root file system"
	ok=0
else
	say "ok: root file system checked by fsck at boot"
fi
((ok)) || fail "the box booted but some checks failed"
say "box boots: all checks passed"
