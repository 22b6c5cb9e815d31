# auditd — the two commands that matter:
#   make demo   run the dashboard with an embedded PostgreSQL and demo data
#   make test   run every check and test (what CI runs)
SHELL := /bin/bash
GO ?= go
LISTEN ?= 127.0.0.1:8080
EVENTS ?= 50000
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test check build setup postgres chromium modules generate bench clean

demo: postgres modules
	$(GO) run ./cmd/auditd demo --listen $(LISTEN) --events $(EVENTS)

test: setup check
	$(GO) test ./... -count=1 -timeout 45m

# check fails on gofmt findings, go vet findings and stale templ output.
check: modules
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool templ generate >/dev/null
	@if [ -d .git ] && ! git diff --quiet -- '*_templ.go'; then \
		echo "go tool templ generate changed generated files: run it and commit them"; git diff --stat -- '*_templ.go'; exit 1; fi
	@if [ -d .git ] && [ -n "$$(git ls-files --others --exclude-standard -- '*_templ.go')" ]; then \
		echo "untracked generated templ files: commit them"; exit 1; fi

build: modules
	$(GO) build -o bin/auditd ./cmd/auditd

setup: postgres chromium modules

modules:
	$(GO) mod download

# PostgreSQL server binaries (15+) for the embedded cluster; the project never
# uses or reconfigures a system server.
postgres:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then :; else \
		echo "installing PostgreSQL server binaries (apt-get install -y postgresql)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; fi

# Debian's Chromium for the browser tests (never a downloaded browser).
chromium:
	@if command -v chromium >/dev/null 2>&1; then :; else \
		echo "installing Debian's chromium for the browser tests"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; fi

generate:
	$(GO) tool templ generate

bench: postgres modules
	$(GO) test ./... -run '^$$' -bench . -benchtime 1x

clean:
	rm -rf bin .auditd
