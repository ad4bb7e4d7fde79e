# Nudge — every command installs what it needs first (a fresh machine needs only Python 3.11+ and Node 20).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export AWS_DEFAULT_REGION ?= us-east-1

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help install browser test lint demo bench soak synth schema clean train evaluate mutate

help:  ## list the commands
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

# The dev install takes Powertools and pydantic at the versions the Lambda layer carries
# (constraints/lambda-layer.txt), so .venv runs what Lambda runs; tests/infra/test_lambda_parity.py
# checks the functions on Python 3.13 with the runtime's boto3 as well.
LAYER_CONSTRAINTS := constraints/lambda-layer.txt

$(STAMP): pyproject.toml $(LAYER_CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -c $(LAYER_CONSTRAINTS)
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install Nudge with its dev and CDK dependencies

browser:  ## install Debian's headless Chromium if missing (the HTML report's render test uses it)
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  echo "installing chromium (Debian package) for the report render test"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# One pytest worker per core (pytest-xdist); tests/conftest.py sends the tests sharing the CDK synth, or a
# module's own module-scoped fixture, to one worker each, so nothing expensive is built twice.
# TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= auto

test: $(STAMP) browser  ## validate campaigns/ and run the whole test suite (unit, integration, infra) on every core
	$(BIN)/nudge validate campaigns
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup

# mypy reads the aws_cdk package's types on its first run (minutes); .mypy_cache makes the next runs seconds.
lint: $(STAMP)  ## ruff on everything, mypy on all the Python but tests/, the import layers (tests/unit/test_layers.py)
	$(BIN)/ruff check .
	$(BIN)/mypy app.py shared functions infra nudge benchmarks
	$(BIN)/pytest -q -p no:cacheprovider tests/unit/test_layers.py

demo: $(STAMP)  ## run a synthetic store through the whole system on moto, then write demo-out/report.html
	@mkdir -p demo-out
	$(BIN)/nudge demo --json demo-out/summary.json --report demo-out/report.html

bench: $(STAMP)  ## measure requests, CPU, imports, cost per event / per message, 100k journey wake-ups (about 12 min)
	@mkdir -p demo-out
	$(BIN)/nudge bench --json demo-out/bench.json

soak: $(STAMP)  ## 10,000 events, each delivered 1-3 times, 20% of DynamoDB/SES/SNS calls throttled (4-8 min)
	@mkdir -p demo-out
	$(BIN)/nudge soak --json demo-out/soak.json

mutate: $(STAMP)  ## mutation testing of the core decision modules (on demand, ~10 min): ARGS="--module guards"
	$(BIN)/python tests/mutation/mutate.py $(ARGS)

train: $(STAMP)  ## retrain models/scoring-model.json (the demo's L3 model) on a synthetic history
	$(BIN)/nudge train --out models/scoring-model.json

evaluate: $(STAMP)  ## time-based holdout of the L3 models on the synthetic store and CDNOW, 3 cuts x 30-365 days (minutes)
	$(BIN)/nudge evaluate --write-docs docs/predictions.md

synth: $(STAMP)  ## the template into cdk.out/ as `cdk synth` makes it: CONTEXT="sender_email=... jwt_issuer=... jwt_audience=..." (docs/deploy.md)
	CDK_OUTDIR=cdk.out CDK_DEFAULT_REGION=$${CDK_DEFAULT_REGION:-$${AWS_REGION:-$(AWS_DEFAULT_REGION)}} $(BIN)/python app.py $(addprefix -c ,$(CONTEXT))
	@ls cdk.out/*.template.json

schema: $(STAMP)  ## regenerate docs/event.schema.json and docs/campaign.schema.json from the models
	$(BIN)/nudge schema --out docs/event.schema.json
	$(BIN)/nudge schema --campaign --out docs/campaign.schema.json

clean:  ## remove build output (keeps .venv and the cached Lambda environment in .cache/)
	rm -rf cdk.out build demo-out .pytest_cache .mypy_cache .ruff_cache
