# ferry's build. Every target installs or builds what it needs by itself;
# on a fresh machine `make demo` and `make test` are all it takes.
GO       ?= go
BIN      := $(CURDIR)/bin
FERRY    := $(BIN)/ferry
FUZZTIME ?= 3s
export CGO_ENABLED ?= 0

# The real reference registry (CNCF Distribution v3) for registry tests,
# built from source into bin/ by the Go toolchain.
REGISTRY_VERSION := v3.1.2
REGISTRY         := $(BIN)/registry

# The OCI distribution-spec conformance suite, built as a test binary from
# the version scripts/conformance/go.mod pins (the Go module proxy serves
# it only as a pseudo-version); serve's TestConformancePull runs its pull
# tests against ferry serve.
CONFORMANCE := $(BIN)/conformance.test
# Versity's S3 gateway (posix backend) for the S3 route's tests: a real
# S3-compatible server built from source into bin/ like the registry;
# MinIO and SeaweedFS publish no semantic versions to the Go module proxy.
VERSITYGW_VERSION := v1.8.0
VERSITYGW         := $(BIN)/versitygw

# The peers and the link of the WAN bench (bench/wan.sh), each pinned:
# Shopify's toxiproxy for per-connection latency and bandwidth caps (its
# package is cmd/server, so the binary is renamed), and the other clients
# ferry is measured against. skopeo is Debian's package.
TOXIPROXY_VERSION := v2.5.0
TOXIPROXY         := $(BIN)/toxiproxy-server
REGCTL_VERSION    := v0.11.7
REGCTL            := $(BIN)/regctl
ORAS_VERSION      := v1.3.6
ORAS              := $(BIN)/oras
CRANE_VERSION     := v0.22.1
CRANE             := $(BIN)/crane

# The current container engines the interop suite runs beside Debian 12's
# (scripts/engines.sh installs them there).
ENGINES := $(BIN)/engines

.PHONY: all build test vet unit fuzz interop compat-docs demo bench wanbench wantools docs fixtures registry conformance s3server clean

all: build

VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

build:
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(FERRY) ./cmd/ferry

vet:
	$(GO) vet -tags interop ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

unit: $(REGISTRY) $(CONFORMANCE) $(VERSITYGW)
	$(GO) test -count=1 ./...

registry: $(REGISTRY)

conformance: $(CONFORMANCE)

$(CONFORMANCE): scripts/conformance/go.mod scripts/conformance/go.sum
	cd scripts/conformance && $(GO) test -c -o $(CONFORMANCE) github.com/opencontainers/distribution-spec/conformance

$(REGISTRY):
	GOBIN=$(BIN) $(GO) install github.com/distribution/distribution/v3/cmd/registry@$(REGISTRY_VERSION)

s3server: $(VERSITYGW)

wantools: $(TOXIPROXY) $(REGCTL) $(ORAS) $(CRANE)

$(TOXIPROXY):
	rm -rf $(BIN)/.toxiproxy && mkdir -p $(BIN)/.toxiproxy
	CGO_ENABLED=0 GOBIN=$(BIN)/.toxiproxy $(GO) install github.com/Shopify/toxiproxy/v2/cmd/server@$(TOXIPROXY_VERSION)
	mv $(BIN)/.toxiproxy/server $(TOXIPROXY) && rm -rf $(BIN)/.toxiproxy

$(REGCTL):
	CGO_ENABLED=0 GOBIN=$(BIN) $(GO) install github.com/regclient/regclient/cmd/regctl@$(REGCTL_VERSION)

$(ORAS):
	CGO_ENABLED=0 GOBIN=$(BIN) $(GO) install oras.land/oras/cmd/oras@$(ORAS_VERSION)

$(CRANE):
	CGO_ENABLED=0 GOBIN=$(BIN) $(GO) install github.com/google/go-containerregistry/cmd/crane@$(CRANE_VERSION)

$(VERSITYGW):
	CGO_ENABLED=0 GOBIN=$(BIN) $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

# test: static checks, each fuzz target briefly, every test under the
# race detector (the registry tests start bin/registry, the S3 tests
# bin/versitygw, on loopback ports, and serve's runs the conformance
# suite's pull tests against ferry serve), then the interop suite against
# the real engines.
test: vet $(REGISTRY) $(CONFORMANCE) $(VERSITYGW)
	./scripts/test-deps.sh
	./scripts/nginx.sh
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh
	CGO_ENABLED=1 $(GO) test -race -count=1 ./...
	$(MAKE) interop

# interop: docker, podman, containerd and skopeo load ferry's archives, and
# ferry imports, verifies and pushes what they write (internal/interop).
# Installs Debian 12's engines when missing, and the current ones into
# bin/engines (docker 29, docker 28 and containerd 2 built from source;
# Debian 13's docker 26, containerd 1.7, podman 5 and skopeo 1.18 unpacked
# from their packages): 6 min the first time with empty Go caches, instant
# once there. Runs private daemons (nothing touches the system's), and
# ends with the compatibility matrix, also in out/interop.md; the full log
# is out/interop.log.
interop: SHELL := /bin/bash
interop: .SHELLFLAGS := -o pipefail -c
interop: build $(REGISTRY)
	./scripts/interop-deps.sh
	./scripts/engines.sh $(ENGINES)
	@mkdir -p out
	FERRY=$(FERRY) FERRY_INTEROP_TABLE=$(CURDIR)/out/interop.md FERRY_INTEROP_ENGINES=$(ENGINES) \
		$(GO) test -tags interop -count=1 -timeout 30m -v ./internal/interop 2>&1 | tee out/interop.log | \
		awk '/^# ferry interop matrix/ { m = 1 } m || /--- (FAIL|SKIP)|^--- PASS|^    --- PASS|^        --- PASS|^(ok|FAIL|PASS)|^panic|\.go:[0-9]+:[0-9]+: /'
	./scripts/compat-docs.sh check

# compat-docs: write what the interop suite last measured into
# docs/COMPATIBILITY.md (after a change in ferry or in an engine).
compat-docs:
	./scripts/compat-docs.sh update

fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

demo: build $(REGISTRY)
	FERRY=$(FERRY) REGISTRY=$(REGISTRY) ./scripts/demo.sh

# bench: ferry verify against parallel openssl, then pull and push
# against crane and skopeo through the reference registry, then many
# small images against one big one (bench/scale.sh; SCALE_COUNTS,
# SCALE_IMAGE_SIZE, SCALE_REPOS, SCALE_RUNS configure it), then the air-gap
# update cycle: delta bytes, extra disk and throughput of volume sets
# (bench/airgap.sh; AIRGAP_* configure it), then pull and push over
# emulated wide-area links against skopeo, crane, regctl and oras
# (bench/wan.sh, docs/WAN-BENCH.md; WAN_* configure it; `make wanbench`
# runs it alone).
bench: build $(REGISTRY) wantools
	FERRY=$(FERRY) ./bench/verify.sh
	FERRY=$(FERRY) ./bench/sync.sh
	FERRY=$(FERRY) ./bench/scale.sh
	FERRY=$(FERRY) ./bench/airgap.sh
	FERRY=$(FERRY) ./bench/wan.sh

wanbench: build $(REGISTRY) wantools
	FERRY=$(FERRY) ./bench/wan.sh

docs:
	FERRY_UPDATE_DOCS=1 $(GO) test -count=1 -run TestCLIReference ./cmd/ferry

fixtures:
	$(GO) run ./testdata/mkfixtures out/fixtures

clean:
	rm -rf $(BIN) out
