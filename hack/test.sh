#!/usr/bin/env bash
# test.sh runs every test kubelab has, on a fresh Debian 12 or Ubuntu machine too:
# it installs what is missing (hack/install-deps.sh --vagrant, which brings make, Go,
# and Vagrant with libvirt and QEMU for the lab machines' tests),
# then runs `make test`. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# --vagrant: also Vagrant, libvirt and QEMU, for the tests of the lab machines
# (vagrant validate, and the real-VM test). Where those packages do not exist
# (some Ubuntu releases have no vagrant package), those tests skip, and say so.
if ! hack/install-deps.sh --vagrant; then
	echo "test.sh: the Vagrant packages could not be installed; the lab machine tests will skip" >&2
	hack/install-deps.sh
fi
go=$(hack/find-go.sh)
echo "test.sh: testing with $("$go" version)"
exec make test
