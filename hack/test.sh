#!/usr/bin/env bash
# test.sh runs every test kubelab has, on a fresh Debian 12 or Ubuntu machine too:
# it installs what is missing (hack/install-deps.sh, which brings make and Go),
# then runs `make test`. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

hack/install-deps.sh
go=$(hack/find-go.sh)
echo "test.sh: testing with $("$go" version)"
exec make test
