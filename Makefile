# prerenderd: `make run` and `make test` are all a newcomer needs.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/prerenderd
PKGS  := ./...

.DEFAULT_GOAL := help

.PHONY: help deps build run test bench soak lint clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-6s %s\n", $$1, $$2}'

deps: ## install what is missing (Chromium from Debian when we are root)
	@command -v $(GO) >/dev/null || { echo "Go is not installed: get Go 1.26 or newer from https://go.dev/dl/ and put it on PATH." >&2; exit 1; }
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Chromium is missing: installing Debian's chromium package…"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	else \
		echo "Chromium is missing. Install it (Debian/Ubuntu: sudo apt-get install -y chromium)" >&2; \
		echo "or set render.chromium in config.toml to its path." >&2; \
		exit 1; \
	fi

build: ## build bin/prerenderd
	@command -v $(GO) >/dev/null || { echo "Go is not installed: get Go 1.26 or newer from https://go.dev/dl/" >&2; exit 1; }
	$(GO) build -o $(BIN) .

run: deps build ## install, build and start on the embedded default config (try the demo: see README)
	./$(BIN)

# -p 1: one package at a time. The Chromium-heavy packages (actors, httpfront, browser)
# run at once on 2 cores starved each other's renders past their page timeouts (seen:
# the 5 MB page of httpfront while actors ran 200 renders); alone, each passes.
test: deps ## every test, with the race detector, against real Chromium and Pebble
	$(GO) test -race -count=1 -p 1 -timeout 9m $(PKGS)

bench: deps build ## the speed benchmarks; the hit path and the browser pool are reported as ratios of baselines run beside them
	$(GO) test -run '^$$' -bench . -benchtime 2s -count 5 ./httpfront/ | tee bin/bench-httpfront.txt
	@grep 'req/s' bin/bench-httpfront.txt | awk '{ print $$1, $$(NF-1) }' | sort -k1,1 -k2,2n | \
	awk '{ v[$$1, ++n[$$1]] = $$2 } \
	END { for (k in n) m[k] = v[k, int((n[k] + 1) / 2)]; \
	      for (e in m) if (e ~ /^BenchmarkHit\//) { b = e; sub(/Hit\//, "HitBaseline/", b); \
	        printf "hit path %-8s %8.0f req/s = %.2fx the baseline (%.0f req/s), medians of %d runs\n", substr(e, 14), m[e], m[e] / m[b], m[b], n[e] } }'
	$(GO) test -run '^$$' -bench . -benchtime 2s -count 3 ./storage/
	$(GO) test -run '^$$' -bench 'NormalQueueTick' -benchtime 5000x -count 3 ./actors/
	$(GO) test -run '^$$' -bench 'StartWith100kPages' -benchtime 10x -count 3 ./actors/
	@# The browser pool against a naive chromedp renderer in the same run: ratios, CPU and PSS per page.
	CI=true $(GO) test -run '^$$' -bench 'VersusNaive' -benchtime 1x -timeout 20m ./browser/ | tee bin/bench-browser.txt
	@# 1,000 renders after warm-up: the PSS of the appliance must not grow by more than 10%.
	CI=true $(GO) test -run '^$$' -bench 'MemoryOver1000' -benchtime 1x -timeout 30m ./browser/ | tee -a bin/bench-browser.txt

# SOAK_DURATION shortens (or lengthens) the soak: make soak SOAK_DURATION=2m
SOAK_DURATION ?= 10m

soak: deps build ## 10x the render capacity for SOAK_DURATION (10m) through bin/prerenderd; fds, goroutines, PSS back within 10% (not in make test)
	set -o pipefail; $(GO) test -tags soak -run TestSoak -count=1 -v -timeout 60m ./soak/ -args -soak.binary=$(CURDIR)/$(BIN) -soak.duration=$(SOAK_DURATION) | tee bin/soak.txt

lint: ## go vet and staticcheck
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

clean: ## remove the binary (the cache in data/ stays)
	rm -rf bin
