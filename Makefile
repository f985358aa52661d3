# deltafs — see README.md. Every target works on a fresh clone.
GO       ?= go
BIN      := bin/deltafs
PKGS     := ./...
FUZZTIME ?= 20s

.PHONY: all build test race vet bench fuzz demo clean fmt

all: build

build:
	$(GO) build -o $(BIN) ./cmd/deltafs

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet $(PKGS)

# The test command CI runs: vet, then every test under the race detector.
test: vet
	$(GO) test -race -timeout 20m $(PKGS)

race: test

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
# fine-tunes, mount it, load a tensor with numpy, print the savings.
demo: build
	scripts/demo.sh
