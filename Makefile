# auditd — the two commands that matter:
#   make demo   run the dashboard with an embedded PostgreSQL and demo data
#   make test   run every check and test (what CI runs)
SHELL := /bin/bash
GO ?= go
LISTEN ?= 127.0.0.1:8080
EVENTS ?= 50000
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test check build setup postgres chromium npm modules tools generate bench clean fuzz fuzz-short

# Pinned linters, installed by `go install` into bin/ under their version's
# name, so a changed pin installs the new one and nothing global is touched.
STATICCHECK_VERSION := v0.8.2
DEADCODE_VERSION := v0.48.0
STATICCHECK := $(CURDIR)/bin/staticcheck-$(STATICCHECK_VERSION)
DEADCODE := $(CURDIR)/bin/deadcode-$(DEADCODE_VERSION)

demo: postgres modules
	$(GO) run ./cmd/auditd demo --listen $(LISTEN) --events $(EVENTS)

test: setup check
	$(GO) test ./... -count=1 -timeout 45m
	$(MAKE) fuzz-short

# Fuzz targets for every parser of outside input, as package:target. go test
# runs one -fuzz target per invocation, hence the loop. A crasher is saved in
# the package's testdata/fuzz and then runs with every plain `go test`.
FUZZ_TARGETS := \
	./internal/live:FuzzParseCursor \
	./internal/access:FuzzParseAccessCursor \
	./internal/access:FuzzCaseRefAndEntryText \
	./internal/timetravel:FuzzParsePointer \
	./internal/timetravel:FuzzParseConfig \
	./internal/eventstore:FuzzParseMapping \
	./internal/timetravel:FuzzDecimal \
	./internal/projections:FuzzParseDrift \
	./internal/pii:FuzzParseAndMask \
	./web:FuzzParseTime \
	./web:FuzzParseOffset \
	./web:FuzzParseMoment \
	./internal/eventstore:FuzzParseEventRef \
	./web:FuzzCSVCell \
	./web:FuzzPagePreview \
	./web:FuzzValidQuery \
	./internal/evidence:FuzzVerify \
	./web:FuzzKeyFields
FUZZTIME ?= 3s
# -parallel 1: one fuzz worker, the machine is shared.
FUZZFLAGS ?= -parallel 1

# fuzz-short is part of make test (seconds per target); `make fuzz
# FUZZTIME=5m` fuzzes for longer.
# A run that ends with a bare "context deadline exceeded" and wrote no
# failing input is Go's own coordinator race at the -fuzztime boundary
# (golang/go#75804, fixed in Go 1.27), not a finding: it is reported, not failed.
fuzz-short: modules
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t#*:} ($${t%%:*}, $(FUZZTIME))"; \
		out=$$($(GO) test $${t%%:*} -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $(FUZZTIME) $(FUZZFLAGS) 2>&1); rc=$$?; \
		if [ $$rc -ne 0 ]; then \
			if grep -q 'context deadline exceeded' <<<"$$out" && ! grep -q 'Failing input written' <<<"$$out"; then \
				echo "  (ended by the fuzz coordinator's deadline race, golang/go#75804; no failing input)"; \
			else echo "$$out"; exit 1; fi; \
		else tail -n 1 <<<"$$out"; fi; \
	done

fuzz:
	$(MAKE) fuzz-short FUZZTIME=$(if $(filter file,$(origin FUZZTIME)),1m,$(FUZZTIME))

# check fails on gofmt findings, go vet findings, stale templ output, a go.mod
# or go.sum that `go mod tidy` would change, staticcheck findings and dead code
# not explained in deadcode.allow.
check: modules tools
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool templ generate >/dev/null
	@if [ -d .git ] && ! git diff --quiet -- '*_templ.go'; then \
		echo "go tool templ generate changed generated files: run it and commit them"; git diff --stat -- '*_templ.go'; exit 1; fi
	@if [ -d .git ] && [ -n "$$(git ls-files --others --exclude-standard -- '*_templ.go')" ]; then \
		echo "untracked generated templ files: commit them"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "go mod tidy would change go.mod/go.sum (above): run it and commit"; exit 1; }
	$(STATICCHECK) ./...
	@allowed=$$(sed -e 's/[[:space:]]*#.*//' -e '/^$$/d' deadcode.allow); \
	found=$$($(DEADCODE) -test -f '{{range .Funcs}}{{$$.Path}}.{{.Name}}{{"\n"}}{{end}}' ./...) || exit 1; \
	dead=$$(grep -vxF -f <(echo "$$allowed") <<<"$$found"); \
	if [ -n "$$dead" ]; then echo "deadcode: unreachable functions (remove them, or explain them in deadcode.allow):"; echo "$$dead"; exit 1; fi; \
	stale=$$(grep -vxF -f <(echo "$$found") <<<"$$allowed"); \
	if [ -n "$$stale" ]; then echo "deadcode.allow lists functions that are no longer unreachable: remove the lines"; echo "$$stale"; exit 1; fi

tools: $(STATICCHECK) $(DEADCODE)

$(STATICCHECK):
	mkdir -p bin/.install
	GOBIN=$(CURDIR)/bin/.install $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv bin/.install/staticcheck $@

$(DEADCODE):
	mkdir -p bin/.install
	GOBIN=$(CURDIR)/bin/.install $(GO) install golang.org/x/tools/cmd/deadcode@$(DEADCODE_VERSION)
	mv bin/.install/deadcode $@

build: modules
	$(GO) build -o bin/auditd ./cmd/auditd

setup: postgres chromium npm modules

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

# axe-core for the accessibility browser tests, pinned in package-lock.json
# and installed into node_modules/ with npm ci (again when the lock changes).
npm: node_modules/.package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then :; else \
		echo "installing Debian's npm"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq npm >/dev/null; fi
	npm ci --no-audit --no-fund
	@touch $@

generate:
	$(GO) tool templ generate

bench: postgres modules
	$(GO) test ./... -run '^$$' -bench . -benchtime 1x

clean:
	rm -rf bin .auditd
