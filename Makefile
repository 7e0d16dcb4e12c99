GO        ?= go
BIN       ?= bin/anteater
PKGS      ?= ./...
DATA      ?= ../shared/data
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/prometheus/common/version.Version=$(VERSION) \
             -X github.com/prometheus/common/version.Revision=$(shell git rev-parse --short HEAD 2>/dev/null) \
             -X github.com/prometheus/common/version.Branch=$(shell git rev-parse --abbrev-ref HEAD 2>/dev/null)

.PHONY: all build test test-short bench lint eval eval-nab eval-smd eval-rca demo deps fmt

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/anteater

# deps installs the real parts the integration tests run against (Debian).
deps:
	./scripts/install-deps.sh

# deps installed the real parts, so tests that need them fail rather than skip.
test: deps
	$(GO) vet $(PKGS)
	ANTEATER_REQUIRE_REAL=1 $(GO) test -race -timeout 40m $(PKGS)
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 15s ./webhook

test-short:
	$(GO) test -short $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

lint:
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

eval: eval-nab eval-smd eval-rca

eval-nab: build
	$(BIN) eval nab --data $(DATA)/nab

eval-smd: build
	$(BIN) eval smd --data $(DATA)/smd

eval-rca: build
	$(BIN) eval rca --data $(DATA)/rca/sock-shop-1

demo: build
	./scripts/demo.sh

fmt:
	gofmt -w $$(git ls-files '*.go')
