# studybuddy-batch — the two commands of the README, and their parts.
#
#   make demo   build, start a throwaway PostgreSQL, load demo data, run the jobs, print the summary
#   make test   build and run every test against a throwaway PostgreSQL of its own
#               (the fault drills of issue 6 included, short: 20 kills)
#   make drills the fault drills only, long (200 kills), with a table of outcomes
#   make bench  release build, every job against its floor at scales S M L (BENCHMARKS.md; not part of test)
#
# Both install what is missing first (as root: apt-get, only when needed).

SHELL := /bin/bash
SWIFT ?= swift
BIN := .build/debug/studybuddy-batch
DEMO_DB := studybuddy_demo
DEMO_LEARNERS ?= 400
DEMO_DAYS ?= 30
DEMO_SEED ?= 42
SCALES ?= S M L

.PHONY: all deps build test drills bench demo demo-stop clean

all: build

## deps: install libsystemd-dev / libpq-dev / PostgreSQL 15 when missing (needs root for apt).
deps:
	@missing=""; \
	pkg-config --exists libsystemd 2>/dev/null || missing="$$missing libsystemd-dev"; \
	pkg-config --exists libpq 2>/dev/null || missing="$$missing libpq-dev"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql-15"; \
	command -v pkg-config >/dev/null || missing="$$missing pkg-config"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "missing:$$missing — install them (apt-get install$$missing) or run as root" >&2; exit 1; fi; \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

build: deps
	$(SWIFT) build

## test: every suite against real PostgreSQL; the cluster is removed even when tests fail.
test: deps
	$(SWIFT) build --build-tests
	@set -e; \
	host=$$(scripts/pg-cluster start test-$$$$); \
	trap 'scripts/pg-cluster stop test-'$$$$ EXIT; \
	STUDYBUDDY_TEST_PGHOST=$$host $(SWIFT) test --skip-build

## drills: the DrillTests suites with STUDYBUDDY_DRILL_KILLS (default 200) kills, then a table per drill.
drills: deps
	$(SWIFT) build --build-tests
	@STUDYBUDDY_DRILL_KILLS=$${STUDYBUDDY_DRILL_KILLS:-200} SWIFT=$(SWIFT) scripts/drills

## bench: release build, a throwaway cluster of its own (settings in scripts/bench), demo data at each of
## SCALES (S 10k learners, M 50k, L 200k: L needs ~21 GB and ~35 min; with L the run's cluster is on /var/tmp), every job against
## its floor; with S also 30 versus 300 days of history. `make bench SCALES="S"` for a quick run.
bench: deps
	@command -v psql >/dev/null || { echo "bench needs psql (postgresql-client)" >&2; exit 1; }
	@if [ ! -x /usr/bin/time ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "bench needs /usr/bin/time: apt-get install time (or run as root)" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; \
	fi
	$(SWIFT) build -c release
	scripts/bench --scales "$(SCALES)" $(BENCH_ARGS)

## demo: a local throwaway PostgreSQL (.pg/demo points at it), demo data, the jobs, the summary.
demo: build
	@set -e; \
	host=$$(scripts/pg-cluster start demo); \
	db="host=$$host user=postgres dbname=$(DEMO_DB)"; \
	PGOPTIONS="-c client_min_messages=warning" psql -X -q -h "$$host" -U postgres -d postgres -c "DROP DATABASE IF EXISTS $(DEMO_DB) WITH (FORCE)" -c "CREATE DATABASE $(DEMO_DB)"; \
	echo "$$db" > .pg/demo.conninfo; \
	end=$$(date -u -d yesterday +%F); \
	$(BIN) migrate --with-app-schema --database "$$db"; \
	$(BIN) demo-data --learners $(DEMO_LEARNERS) --days $(DEMO_DAYS) --seed $(DEMO_SEED) --end-date $$end --database "$$db"; \
	$(BIN) --job nightly --date $$end --database "$$db"; \
	echo; $(BIN) status --database "$$db"; \
	echo; echo "The demo database stays up: psql \"$$db\"   (stop it with: make demo-stop)"

demo-stop:
	scripts/pg-cluster stop demo

clean:
	rm -rf .build reports
