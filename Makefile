# prerenderd: `make run` and `make test` are all a newcomer needs; `make help` lists
# every target and the variables they take.
SHELL := /bin/bash
GO    ?= go
BIN   ?= bin/prerenderd
PKGS  := ./...

# make run: CONFIG=path/to/config.toml (its keys override the embedded default) and
# ARGS='more flags' for the binary.
CONFIG ?=
ARGS   ?=
# make install: the binary goes to $(DESTDIR)$(BINDIR)/prerenderd.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin

# What `prerenderd -version`, the start-up log line and prerender_build_info report:
# git describe of the nearest v* tag (else "dev") and the commit, "-dirty" when the
# tree has uncommitted changes. Outside a git checkout both fall back in the binary.
VERSION ?= $(shell git describe --tags --match 'v*' --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell c=$$(git rev-parse HEAD 2>/dev/null) && { git diff --quiet HEAD -- 2>/dev/null && echo $$c || echo $$c-dirty; })
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.DEFAULT_GOAL := help

.PHONY: help deps testdeps benchdeps build run install uninstall test bench bench-hits bench-memory bench-shapes bench-scale bench-cluster soak lint clean deploy-files screenshot proto

help: ## list the targets and their variables
	@echo "targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'
	@echo "variables: CONFIG=file and ARGS='flags' (run), PREFIX=/usr/local or BINDIR (install), GO=go"

deps: ## install what is missing to run it (Chromium's headless shell and curl, from Debian when we are root)
	@echo "==> make deps: checking for Go, Chromium's headless shell and curl"
	@command -v $(GO) >/dev/null || { echo "Go is not installed: get Go 1.26 or newer from https://go.dev/dl/ and put it on PATH." >&2; exit 1; }
	@# prerenderd renders with the headless shell when it is installed (about half the
	@# memory of a full Chromium, and it starts faster: README "Renders and memory"),
	@# else with a full chromium, chromium-browser or google-chrome.
	@if [ -x /usr/lib/chromium/chromium-headless-shell ] || command -v chrome-headless-shell >/dev/null || command -v headless-shell >/dev/null; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Chromium's headless shell is missing: installing Debian's chromium-headless-shell package (a few minutes the first time)…"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium-headless-shell; \
	elif command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null; then \
		echo "Rendering with the full Chromium found on PATH. Chromium's headless shell idles at about half its memory: sudo apt-get install -y chromium-headless-shell" >&2; \
	else \
		echo "Chromium is missing. Install its headless shell (Debian/Ubuntu: sudo apt-get install -y chromium-headless-shell)" >&2; \
		echo "or set render.chromium in config.toml to the path of a Chromium or Chrome." >&2; \
		exit 1; \
	fi
	@# The README's commands (and the test that runs them) use curl.
	@command -v curl >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		echo "curl is missing: installing Debian's curl package…" && \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y curl; } || \
		{ echo "curl is missing: install it (Debian/Ubuntu: sudo apt-get install -y curl)" >&2; exit 1; }

# nginx and Caddy are started by the tests in front of prerenderd (httpfront: prerender.io's
# nginx configuration; deploy/: ours); they are test dependencies only, so `make run`
# never installs a web server that Debian would start on port 80.
testdeps: ## install the real clients the tests put in front of prerenderd: nginx, Caddy, etcd and npm (Debian, when root), prerender-node (npm ci), and a full Chromium
	@echo "==> make testdeps: checking for nginx, Caddy, etcd, npm, prerender-node and a full Chromium"
	@# prerenderd renders with the headless shell (make deps); one test renders with a
	@# full Chromium, which prerenderd uses where the headless shell is not installed.
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "A full Chromium is missing: installing Debian's chromium package (the test of the fallback renders with it)…"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	else \
		echo "A full Chromium is missing: the test of the fallback fails under CI, is skipped otherwise (Debian/Ubuntu: sudo apt-get install -y chromium)." >&2; \
	fi
	@if { command -v nginx || [ -x /usr/sbin/nginx ]; } >/dev/null && command -v caddy >/dev/null; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "nginx or Caddy is missing: installing Debian's packages (the client tests run them)…"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nginx caddy; \
	else \
		echo "nginx or Caddy is missing: their tests are skipped (Debian/Ubuntu: sudo apt-get install -y nginx caddy)." >&2; \
	fi
	@if command -v etcd >/dev/null || [ -x /usr/bin/etcd ]; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "etcd is missing: installing Debian's etcd-server (the cluster tests run it)…"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server; \
	else \
		echo "etcd is missing: the cluster tests are skipped (Debian/Ubuntu: sudo apt-get install -y etcd-server)." >&2; \
	fi
	@if ! command -v npm >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "npm is missing: installing Debian's npm package…"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y npm; \
	fi
	@if ! command -v npm >/dev/null; then \
		echo "npm is missing: the prerender-node test is skipped (Debian/Ubuntu: sudo apt-get install -y npm)." >&2; \
	elif ! grep -qs '"version": "3.8.3"' testdata/clients/node_modules/prerender-node/package.json; then \
		cd testdata/clients && npm ci --no-audit --no-fund; \
	fi

# wrk drives the hit figures (make bench-hits) and nginx is their ceiling; they are
# benchmark dependencies only, installed from Debian when we are root.
benchdeps: ## install what make bench-hits runs: wrk and nginx (Debian, when root)
	@if command -v wrk >/dev/null && { command -v nginx || [ -x /usr/sbin/nginx ]; } >/dev/null; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "wrk or nginx is missing: installing Debian's packages (make bench-hits runs them)…"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk nginx; \
	else \
		echo "wrk or nginx is missing: install them (Debian/Ubuntu: sudo apt-get install -y wrk nginx)" >&2; \
		exit 1; \
	fi

# -v names each package as it is compiled: on a cold build cache that is a few hundred
# (Pebble, chromedp, protoactor and their dependencies), a minute or more on 2 cores;
# on a warm cache only the link runs and it takes seconds.
build: ## build bin/prerenderd, stamped with its version
	@command -v $(GO) >/dev/null || { echo "Go is not installed: get Go 1.26 or newer from https://go.dev/dl/" >&2; exit 1; }
	@echo "==> make build: go build $(BIN) $(VERSION) (a cold build cache compiles a few hundred packages, listed below, in a minute or more; a warm one takes seconds)"
	@$(GO) build -v -ldflags '$(LDFLAGS)' -o $(BIN) .
	@echo "==> built $(BIN): $$($(BIN) -version | head -1)"

run: deps build ## build and start it in the foreground (CONFIG=file, ARGS='flags'); it prints a curl to try once ready
	@echo "==> make run: starting $(BIN)$(if $(CONFIG), -config $(CONFIG))$(if $(ARGS), $(ARGS)): Chromium starts, then a \"ready\" line shows a curl to try; Ctrl-C stops it"
	@$(BIN) $(if $(CONFIG),-config $(CONFIG)) $(ARGS)

install: build ## copy bin/prerenderd to PREFIX/bin, default /usr/local/bin (PREFIX=~/.local needs no sudo)
	@install -d '$(DESTDIR)$(BINDIR)' 2>/dev/null && install -m 0755 $(BIN) '$(DESTDIR)$(BINDIR)/prerenderd' || { \
		echo "cannot write $(DESTDIR)$(BINDIR): run 'sudo make install', or 'make install PREFIX=$$HOME/.local' and put $$HOME/.local/bin on PATH" >&2; exit 1; }
	@echo "==> installed $(DESTDIR)$(BINDIR)/prerenderd"
	@case ":$$PATH:" in *":$(BINDIR):"*) ;; *) echo "    $(BINDIR) is not on PATH: add it (export PATH=\"$(BINDIR):\$$PATH\") or run $(DESTDIR)$(BINDIR)/prerenderd";; esac

uninstall: ## remove PREFIX/bin/prerenderd
	rm -f '$(DESTDIR)$(BINDIR)/prerenderd'

# Two lanes side by side, each one package at a time (-p 1). The serial lane holds the
# packages whose tests render hardest and time their renders (main, actors, browser,
# httpfront): run at once on 2 cores they starved each other's renders past their page
# timeouts (seen: the 5 MB pages of browser and httpfront while actors ran 200 renders,
# and again with two lanes of them). The other lane holds every other package: the
# cluster test first (three binaries, mostly waiting on etcd leases), the packages that
# start Chromium or the binary for a few renders, then the Chromium-free ones; it ends
# while main and actors still run (measured: about 190 s against their 295), so browser
# and httpfront have the cores to themselves. Its output is kept until the end.
# A new package whose tests render hard and time their renders belongs in SERIAL_PKGS.
# Nothing on the serial lane waits for a link it need not: the packages are compiled
# first with every core, then main's test binary and the race binary are linked side
# by side; the other lane begins by linking the test binaries of actors,
# browser and httpfront (bin/tests, about 35 s of the serial lane before) while main's
# tests run (their output is kept in bin/tests/*.out and shown when they fail, as go
# test does); the race-enabled binary that the tests of main, middleware, deploy and the
# dashboard start is linked once for all of them (PRERENDERD_TEST_BINARY), with the
# stamp main_test.go builds with (testVersion, testCommit), so that main's TestMain and
# the README test, starting from a copy of it, find it up to date and link nothing.
# A binary built with -race sleeps 1 s when it exits, by default, so that goroutines
# still running may report a race: the tests start prerenderd and its CLI many times,
# and each package's test binary exits once. prerenderd stops and waits for
# every goroutine before it exits, so the tests run with no such sleep (a GORACE of
# your own is added after, and wins).
TEST_GORACE := atexit_sleep_ms=0
# Test binaries are linked without DWARF (-w): a race report and a panic read the
# symbol table, which stays, and the links of some thirty test binaries cost less.
TEST_BUILD := -race -ldflags=-w
TEST_LDFLAGS := -X main.version=v0.0.0-test -X main.commit=0123456789abcdef0123456789abcdef01234567
SERIAL_PKGS := prerenderd prerenderd/actors prerenderd/browser prerenderd/httpfront
PREBUILT_DIRS := actors browser httpfront
LIGHT_CHROMIUM_PKGS := prerenderd/internal/clustertest prerenderd/browser/dashboardtest prerenderd/deploy \
	prerenderd/internal/appliancebench prerenderd/markdown prerenderd/middleware prerenderd/soak
CHROMIUM_PKGS := $(SERIAL_PKGS) $(LIGHT_CHROMIUM_PKGS)
OTHER_PKGS = $(LIGHT_CHROMIUM_PKGS) $(filter-out $(CHROMIUM_PKGS),$(shell $(GO) list $(PKGS)))

test: deps testdeps ## every test, with the race detector, against real Chromium, Pebble, etcd, nginx, Caddy and prerender-node (about 8 min on 2 cores)
	@echo "==> make test: compiling with -race, then go test -race: main, actors, browser and httpfront one at a time, the other packages beside them (about 8 minutes on 2 cores)"
	$(GO) build -race $(PKGS)
	@rm -rf bin/tests && mkdir -p bin/tests
	@echo "$(GO) build -race -o bin/prerenderd-race . and $(GO) test $(TEST_BUILD) -c -o bin/tests/ . side by side"; \
	$(GO) build -race -ldflags '$(TEST_LDFLAGS)' -o bin/prerenderd-race . & race=$$!; \
	$(GO) test $(TEST_BUILD) -c -o bin/tests/ . ; main=$$?; wait $$race && [ $$main -eq 0 ]
	@export PRERENDERD_TEST_BINARY=$(CURDIR)/bin/prerenderd-race GORACE="$(TEST_GORACE)$${GORACE:+ $$GORACE}"; \
	{ $(GO) test $(TEST_BUILD) -c -o bin/tests/ $(addprefix ./,$(PREBUILT_DIRS)); echo $$? > bin/tests/linked; \
	  $(GO) test $(TEST_BUILD) -count=1 -p 1 -timeout 9m $(OTHER_PKGS); } > bin/test-other.txt 2>&1 & other=$$!; \
	serial=0; \
	run() { start=$$SECONDS; (cd $$1 && $(CURDIR)/bin/tests/$$2.test -test.count=1 -test.timeout=9m -test.paniconexit0) > bin/tests/$$2.out 2>&1; \
		if [ $$? -eq 0 ]; then echo "ok  	$$3	$$((SECONDS - start))s"; \
		else cat bin/tests/$$2.out; echo "FAIL	$$3	$$((SECONDS - start))s"; serial=1; fi; }; \
	run . prerenderd prerenderd; \
	while [ ! -f bin/tests/linked ] && kill -0 $$other 2>/dev/null; do sleep 1; done; \
	if [ "$$(cat bin/tests/linked 2>/dev/null)" != 0 ]; then \
		echo "==> the test binaries of $(PREBUILT_DIRS) did not link:"; cat bin/test-other.txt; serial=1; \
	else for d in $(PREBUILT_DIRS); do run $$d $$d prerenderd/$$d; done; fi; \
	wait $$other; other=$$?; \
	echo "==> the other packages, run beside them:"; cat bin/test-other.txt; \
	[ $$serial -eq 0 ] && [ $$other -eq 0 ]

bench: deps benchdeps build ## the speed benchmarks; the hit path and the browser pool are reported as ratios of baselines run beside them
	@# Cache hits through bin/prerenderd with wrk, beside net/http and nginx serving the same bytes.
	$(MAKE) --no-print-directory bench-hits
	$(GO) test -run '^$$' -bench . -benchtime 2s -count 5 ./httpfront/ | tee bin/bench-httpfront.txt
	@grep 'req/s' bin/bench-httpfront.txt | awk '{ print $$1, $$(NF-1) }' | sort -k1,1 -k2,2n | \
	awk '{ v[$$1, ++n[$$1]] = $$2 } \
	END { for (k in n) m[k] = v[k, int((n[k] + 1) / 2)]; \
	      for (e in m) if (e ~ /^BenchmarkHit\//) { b = e; sub(/Hit\//, "HitBaseline/", b); \
	        printf "hit path %-8s %8.0f req/s = %.2fx the baseline (%.0f req/s), medians of %d runs\n", substr(e, 14), m[e], m[e] / m[b], m[b], n[e] } }'
	@# The analytics on the hit path, on against off in alternating rounds of one run.
	@grep '^BenchmarkHitAnalytics' bin/bench-httpfront.txt | awk '{ for (i = 2; i < NF; i++) if ($$(i+1) == "on/off") print $$i }' | sort -n | \
	awk '{ v[NR] = $$1 } END { if (NR) printf "hit path with analytics on: %.3fx the throughput with them off, median of %d runs\n", v[int((NR + 1) / 2)], NR }'
	$(GO) test -run '^$$' -bench . -benchtime 2s -count 3 ./storage/
	@# Analytics: the cost of one answer's count, /api/stats over 48 hours of minutes of
	@# 10 sites, and what 90 days of 10 sites take on disk (filled once: -benchtime 1x).
	$(GO) test -run '^$$' -bench 'Record|Stats48h' -benchtime 2s -count 3 ./analytics/
	$(GO) test -run '^$$' -bench 'Storage90Days' -benchtime 1x -timeout 30m ./analytics/
	@# The crawler matcher against a combined regexp and a strings.Contains loop; the
	@# middleware on a browser's request against the bare handler.
	$(GO) test -run '^$$' -bench . -benchtime 1s -count 3 ./crawlers/ ./middleware/
	$(GO) test -run '^$$' -bench 'NormalQueueTick' -benchtime 5000x -count 3 ./actors/
	$(GO) test -run '^$$' -bench 'StartWith100kPages' -benchtime 10x -count 3 ./actors/
	@# The browser pool against a naive chromedp renderer in the same run: ratios, CPU and PSS per page.
	CI=true $(GO) test -run '^$$' -bench 'VersusNaive' -benchtime 1x -timeout 20m ./browser/ | tee bin/bench-browser.txt
	@# The egress proxy against direct connections, same run: latency and pages/s ratios at 4 concurrent.
	CI=true $(GO) test -run '^$$' -bench 'Egress' -benchtime 1x -timeout 20m ./browser/ | tee -a bin/bench-browser.txt
	@# 1,000 renders after warm-up: the PSS of the appliance must not grow by more than 10%.
	CI=true $(GO) test -run '^$$' -bench 'MemoryOver1000' -benchtime 1x -timeout 30m ./browser/ | tee -a bin/bench-browser.txt

# BENCH_HITS_DURATION=10s per wrk run, BENCH_HITS_ROUNDS=3 interleaved rounds.
BENCH_HITS_DURATION ?= 10s
BENCH_HITS_ROUNDS ?= 3

bench-hits: deps benchdeps build ## cache hits of 30 KB pages through bin/prerenderd with wrk -t2 -c32, beside a bare net/http server and nginx serving the same bytes: medians and ratios (not in make test; ~7 min)
	@mkdir -p bin
	set -o pipefail; cd internal/hitbench && PRERENDERD_BIN=$(CURDIR)/$(BIN) BENCH_HITS_DURATION=$(BENCH_HITS_DURATION) \
		BENCH_HITS_ROUNDS=$(BENCH_HITS_ROUNDS) $(GO) test -run '^$$' -bench 'HitsThroughBinary' -benchtime 1x -timeout 60m . | tee $(CURDIR)/bin/bench-hits.txt

# The appliance as a user runs it: bin/prerenderd on its default config (pool shape
# "auto") beside the npm prerender server 5.21.6 (installed by npm ci into
# internal/appliancebench/testdata/npm-prerender, pinned by its lockfile) and the naive
# chromedp renderer, on the same Chromium and pages. BENCH_RENDERS=1000 sets the long
# run (BENCH_BASELINE_RENDERS=200 shortens the baselines' part of it); BENCH_SHAPE=2x2
# measures another shape than "auto".
BENCH_RENDERS ?= 1000
BENCH_BASELINE_RENDERS ?= $(BENCH_RENDERS)
BENCH_SHAPE ?= auto

bench-memory: deps build ## PSS after start, peak PSS and pages/s at 4 concurrent renders, PSS over BENCH_RENDERS (1000) renders, beside the npm prerender server (not in make test; ~25 min)
	@mkdir -p bin
	set -o pipefail; cd internal/appliancebench && CI=true PRERENDERD_BIN=$(CURDIR)/$(BIN) BENCH_RENDERS=$(BENCH_RENDERS) \
		BENCH_BASELINE_RENDERS=$(BENCH_BASELINE_RENDERS) BENCH_SHAPE=$(BENCH_SHAPE) \
		$(GO) test -run '^$$' -bench '^BenchmarkMemory$$' -benchtime 1x -timeout 90m . | tee $(CURDIR)/bin/bench-memory.txt

# BENCH_SHAPES=1x4,2x2 (browsers x tabs per browser, or auto) and BENCH_ROUNDS=3.
bench-shapes: deps build ## pages/s, latency and PSS of pool shapes through bin/prerenderd, interleaved rounds: the table behind "auto" (not in make test)
	@mkdir -p bin
	set -o pipefail; cd internal/appliancebench && CI=true PRERENDERD_BIN=$(CURDIR)/$(BIN) \
		$(GO) test -run '^$$' -bench 'PoolShapes' -benchtime 1x -timeout 90m . | tee $(CURDIR)/bin/bench-shapes.txt

# SCALE_PAGES=20000 for a quick run; SCALE_DIR=/big/disk for the temporary store
# (a million pages take about 30 GiB while it runs; it is removed at the end);
# SCALE_BASELINE_BIN=path measures another build's start-up on the same store last.
SCALE_PAGES ?= 1000000
SCALE_DIR ?=
SCALE_BASELINE_BIN ?=
# SCALE_STORE=/big/disk/dir keeps the filled store there: the first run fills it (when the
# directory is empty), later runs reuse it (seconds instead of a quarter of an hour) and
# work on a copy of it (hard links), so its pages stay as filled. Remove it to fill anew.
SCALE_STORE ?=

bench-scale: deps build ## SCALE_PAGES (1,000,000) pages (SCALE_STORE=dir fills once, then reuses): fill, disk, start-up, memory, hits (wrk), search, clear, the normal queue, eviction, through bin/prerenderd (not in make test)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		echo "wrk is missing: installing Debian's wrk package (the hit figures are measured with it)…" && \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk; } || \
		{ echo "wrk is missing: install it (Debian/Ubuntu: sudo apt-get install -y wrk); make bench-scale measures hits with it" >&2; exit 1; }
	@mkdir -p bin
	set -o pipefail; cd internal/scalebench && PRERENDERD_BIN=$(CURDIR)/$(BIN) SCALE_PAGES=$(SCALE_PAGES) \
		SCALE_DIR=$(SCALE_DIR) SCALE_STORE=$(SCALE_STORE) SCALE_BASELINE_BIN=$(SCALE_BASELINE_BIN) \
		$(GO) test -run '^$$' -bench Scale -benchtime 1x -timeout 6h . | tee $(CURDIR)/bin/bench-scale.txt

# SOAK_DURATION shortens (or lengthens) the soak: make soak SOAK_DURATION=2m
SOAK_DURATION ?= 10m

# CLUSTER_RENDERS=60 pages per stage, CLUSTER_ROUNDS=7 interleaved wrk rounds of
# CLUSTER_WRK_SECONDS=5, CLUSTER_BASELINE_REV=223ed79^1 (main before the cluster);
# CLUSTER_PARTS=off,renders,hits,failover picks measurements (CLUSTER_PARTS=off: only
# the cluster-off hits against the baseline, best on a quiet machine).
bench-cluster: deps testdeps build ## the cluster story with CLUSTER_URLS (300) URLs, then renders/s of 1-3 nodes, owner/non-owner hits, cluster-off hits against the build before the cluster, failover (not in make test)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		echo "wrk is missing: installing Debian's wrk package (the hit figures are measured with it)…" && \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk; } || \
		{ echo "wrk is missing: install it (Debian/Ubuntu: sudo apt-get install -y wrk); make bench-cluster measures hits with it" >&2; exit 1; }
	@mkdir -p bin
	set -o pipefail; CLUSTER_URLS=$(or $(CLUSTER_URLS),300) $(GO) test -count=1 -v -timeout 30m -run TestThreeNodesAreOneCache ./internal/clustertest/ | tee bin/bench-cluster.txt
	set -o pipefail; cd internal/clusterbench && PRERENDERD_BIN=$(CURDIR)/$(BIN) CLUSTER_RENDERS=$(CLUSTER_RENDERS) CLUSTER_ROUNDS=$(CLUSTER_ROUNDS) \
		CLUSTER_WRK_SECONDS=$(CLUSTER_WRK_SECONDS) CLUSTER_BASELINE_REV=$(CLUSTER_BASELINE_REV) CLUSTER_PARTS=$(CLUSTER_PARTS) \
		$(GO) test -run '^$$' -bench '^BenchmarkCluster$$' -benchtime 1x -timeout 60m . | tee -a $(CURDIR)/bin/bench-cluster.txt

proto: ## regenerate actors/clusterpb/*.pb.go (needs protoc and protoc-gen-go v1.33.0; the generated file is committed)
	cd actors/clusterpb && protoc --go_out=. --go_opt=paths=source_relative prerenderd_cluster.proto

soak: deps build ## 10x the render capacity for SOAK_DURATION (10m) through bin/prerenderd; fds, goroutines, PSS back within 10% (not in make test)
	set -o pipefail; $(GO) test -tags soak -run TestSoak -count=1 -v -timeout 60m ./soak/ -args -soak.binary=$(CURDIR)/$(BIN) -soak.duration=$(SOAK_DURATION) | tee bin/soak.txt

# staticcheck is pinned as a tool in go.mod (go get -tool), so lint needs nothing but
# the module proxy (or a warm module cache), like the build.
lint: ## go vet and staticcheck (the version pinned in go.mod)
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

# The test of the dashboard in Chromium, with a few minutes of traffic first so the
# charts have points; SCREENSHOT_MINUTES=n changes how many.
screenshot: deps ## write docs/dashboard.png: the dashboard in Chromium after 4 minutes of real traffic on the built binary
	SCREENSHOT=$(CURDIR)/docs/dashboard.png $(GO) test -count=1 -run TestTheDashboard -timeout 20m ./browser/dashboardtest/
	@echo "==> wrote docs/dashboard.png"

deploy-files: ## regenerate the crawler matchers of deploy/ from crawlers/crawlers.json
	$(GO) generate ./deploy/

clean: ## remove the binary (the cache in data/ stays)
	rm -rf bin
