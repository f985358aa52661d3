# deltafs — see README.md. Every target works on a fresh clone.
GO       ?= go
BIN      := bin/deltafs
PKGS     := ./...
FUZZTIME ?= 20s
# Pure code without goroutines (formats, the entropy stage, the analysis):
# `make test` runs its tests without the race detector, which has nothing to
# find there and makes its exhaustive matrices ten times slower.
NORACE   := deltafs/npy deltafs/delta/planes deltafs/delta/analysis

.PHONY: all build test race vet bench fuzz demo clean fmt deps-demo deps-test

all: build

build:
	$(GO) build -o $(BIN) ./cmd/deltafs

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet $(PKGS)

# The test command CI runs. Every test runs: the codecs' exhaustive
# matrices (delta and the pure packages) and the command line's scripts
# without the race detector, then everything else under it, delta and the
# command line included with -short, which skips only what the first pass
# ran in full and has no goroutines to watch: the single-goroutine kernel
# matrices, and the scripts that never run two deltafs processes or a daemon
# at once. The S3 server of the remote tests (SeaweedFS) is built first,
# once per machine (scripts/build-seaweedfs.sh: long the first time).
test: deps-test vet
	DELTAFS_WEED="$${DELTAFS_WEED:-$$(scripts/build-seaweedfs.sh)}" && export DELTAFS_WEED && \
	$(GO) test -timeout 20m ./npy/... ./delta/... ./cmd/... && \
	$(GO) test -race -short -timeout 20m $$($(GO) list $(PKGS) | grep -vxF $(foreach p,$(NORACE),-e $(p)))

# Every test, all under the race detector.
race: deps-test vet
	DELTAFS_WEED="$${DELTAFS_WEED:-$$(scripts/build-seaweedfs.sh)}" && export DELTAFS_WEED && \
	$(GO) test -race -timeout 40m $(PKGS)

# Install the Debian packages the demo or the tests need (only those missing).
deps-demo:
	scripts/install-deps.sh demo

deps-test:
	scripts/install-deps.sh test

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m $(PKGS)

fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin

# The demo: build, make a store with a generated base model and two
# fine-tunes (.npy) and a bf16 safetensors base and fine-tune, mount it,
# read tensors back with cmp and numpy, print the savings.
demo: deps-demo build
	scripts/demo.sh
