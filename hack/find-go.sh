#!/usr/bin/env bash
# find-go.sh prints the path of a Go toolchain new enough for kubelab (go1.26 or later):
# the `go` on PATH if it is new enough, else $KUBELAB_GOROOT/bin/go (default /usr/local/go/bin/go).
# It prints nothing and exits 1 when there is none; hack/install-deps.sh installs one.
set -euo pipefail

min_minor=26 # go1.26, the version go.mod asks for
goroot=${KUBELAB_GOROOT:-/usr/local/go}

for go in "$(command -v go || true)" "$goroot/bin/go"; do
	[[ -n $go && -x $go ]] || continue
	# Ask the binary itself: from / (no go.mod) and with GOTOOLCHAIN=local a newer
	# go command cannot switch to another toolchain while answering.
	version=$(cd / && GOTOOLCHAIN=local GOFLAGS='' "$go" version 2>/dev/null) || continue
	if [[ $version =~ go1\.([0-9]+) ]] && ((BASH_REMATCH[1] >= min_minor)); then
		echo "$go"
		exit 0
	fi
done
exit 1
