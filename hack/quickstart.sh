#!/usr/bin/env bash
# quickstart.sh takes a fresh Debian 12 or Ubuntu machine to a running kubelab:
# it installs what is missing (hack/install-deps.sh, which brings make and Go),
# then `make quickstart` builds every binary and starts `bin/kubelab up`: a control
# plane and a kubelet for this machine, which runs real containers.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

hack/install-deps.sh
exec make quickstart
