# kubelab's Makefile. `make` alone lists the targets.
#
# Go: the `go` on PATH when it is 1.26 or later, else /usr/local/go/bin/go
# (hack/find-go.sh decides; hack/install-deps.sh installs one). Override with GO=...

GO ?= $(or $(shell hack/find-go.sh),$(error no Go 1.26 or later found: run hack/install-deps.sh))
GOFMT ?= $(shell $(GO) env GOROOT)/bin/gofmt

VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/kubelab/kubelab/components/version.Version=$(VERSION)

# What `make fmt` and `make lint` look at (testdata may hold broken code on purpose).
GOFILES = $(shell find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*')
# Shell scripts that `make lint` hands to shellcheck.
SCRIPTS := $(wildcard hack/*.sh vagrant/*.sh vagrant/box/*.sh) .ci/run

.DEFAULT_GOAL := help

.PHONY: help deps build vm-binaries test test-short quickstart kubectl clean fmt lint vagrant-check vagrant-e2e

help: ## list the targets
	@awk -F':.*## ' '/^[a-z-]+:.*## / { printf "  make %-11s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

deps: ## install what building and testing need (hack/install-deps.sh)
	hack/install-deps.sh

build: ## build every cmd/* binary into bin/ (testserver static: it goes into a container image)
	CGO_ENABLED=1 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ ./cmd/...
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o bin/testserver ./cmd/testserver

# The lab VMs' binaries: static (no libc needed, so a build on any Linux host runs
# on the Debian 12 VMs), stripped (rsync copies them into every VM). netgo and
# osusergo keep the net and os/user packages in Go, as static linking requires.
VM_GOARCH ?= amd64
VM_BIN ?= bin/vm
vm-binaries: ## static Linux binaries for the lab VMs into bin/vm (VM_GOARCH=arm64 CC=aarch64-linux-gnu-gcc to cross-build)
	CGO_ENABLED=1 GOOS=linux GOARCH=$(VM_GOARCH) $(GO) build -trimpath -tags 'netgo osusergo' \
		-ldflags '$(LDFLAGS) -s -w -linkmode external -extldflags "-static"' -o $(VM_BIN)/ ./cmd/...

vagrant-check: ## validate the Vagrantfile for every topology and provider, shellcheck vagrant/ (no VMs)
	$(GO) test -count=1 -run 'Test(Validate|Topology|Provision|Shellcheck)' ./vagrant/...

vagrant-e2e: ## real VMs: build the box and binaries, vagrant up the default topology (qemu), check, destroy
	KUBELAB_VAGRANT_E2E=1 $(GO) test -count=1 -timeout 45m -v -run TestVagrantE2E ./vagrant/

test: deps ## go vet, all tests (unit, integration, e2e as root), then the compat suite
	$(GO) vet ./...
	# -p 1: one package at a time. The end-to-end tests start real
	# clusters and containers; on a 2-core machine, packages running side
	# by side starve each other's timing-sensitive tests (rollout bounds).
	$(GO) test -p 1 -count=1 -timeout 60m ./...
	if [ -d compat ]; then $(MAKE) -C compat test GO=$(GO); fi

test-short: ## the fast tests only (go test -short)
	$(GO) test -short -count=1 ./...

quickstart: deps build kubectl ## install, build, and start a one-machine cluster with a real node (bin/kubelab up)
	bin/kubelab up

kubectl: ## bin/kubectl: the real kubectl v1.37, built from source, unless one is on PATH
	@if command -v kubectl >/dev/null 2>&1; then echo "kubectl: using $$(command -v kubectl)"; \
	elif [ ! -x bin/kubectl ]; then echo "kubectl: none on PATH; building the real one into bin/kubectl (once, ~2 min)"; \
	$(MAKE) -C compat kubectl GO=$(GO) && mkdir -p bin && cp compat/bin/kubectl bin/kubectl; fi

clean: ## remove what the build made (bin/)
	rm -rf bin/

fmt: ## gofmt every Go file
	@$(if $(GOFILES),$(GOFMT) -l -w $(GOFILES))

lint: ## gofmt must have nothing to say; shellcheck the scripts (when installed)
	@out=$$($(if $(GOFILES),$(GOFMT) -l $(GOFILES))); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@if command -v shellcheck >/dev/null; then shellcheck $(SCRIPTS); \
	else echo "shellcheck not installed (apt-get install shellcheck): scripts not checked"; fi
