# Every target creates the virtual environments it needs (separate ones: aws-sam-cli, checkov and
# the test tools conflict in one environment). Only python3 (3.11+), pip, git and make are required.
PYTHON ?= python3
VENV   := .venv
UV     := $(VENV)/uv/bin/uv
TEST   := $(VENV)/test/bin
SAM    := $(VENV)/sam/bin/sam
CHECKOV := $(VENV)/checkov/bin/checkov

.PHONY: demo test unit lint template check-template build bench clean

demo: $(TEST)/.ok ## the main job: report then enforce mode against an in-process moto account
	$(TEST)/python -m tools.demo

test: $(TEST)/.ok $(SAM) $(CHECKOV) ## the whole suite: lint, unit/remediator/contract tests, template checks
	$(TEST)/ruff check .
	$(TEST)/ruff format --check .
	$(TEST)/mypy
	$(TEST)/python -m tools.template --check
	$(TEST)/python -m pytest -n 2 -q
	$(TEST)/python tools/check_template.py --sam $(SAM) --checkov $(CHECKOV)

unit: $(TEST)/.ok ## fast loop: tests only
	$(TEST)/python -m pytest -q

lint: $(TEST)/.ok
	$(TEST)/ruff check .
	$(TEST)/ruff format --check .
	$(TEST)/mypy

template: $(TEST)/.ok ## render template.yaml from tools/template/shared.yaml and the remediators' declarations
	$(TEST)/python -m tools.template

check-template: $(TEST)/.ok $(SAM) $(CHECKOV)
	$(TEST)/python tools/check_template.py --sam $(SAM) --checkov $(CHECKOV)

build: $(SAM) ## sam build, no container needed
	$(SAM) build --template-file template.yaml

bench: $(TEST)/.ok $(SAM) ## cold start, warm event, API calls and artifact size per function
	$(SAM) build --template-file template.yaml >/dev/null
	$(TEST)/python -m tools.bench

$(UV):
	$(PYTHON) -m venv $(VENV)/uv
	$(VENV)/uv/bin/pip install -q --disable-pip-version-check uv==0.13.9

$(TEST)/.ok: requirements/test.txt | $(UV)
	$(UV) venv -q --allow-existing -p $(PYTHON) $(VENV)/test
	VIRTUAL_ENV=$(VENV)/test $(UV) pip install -q -r requirements/test.txt
	VIRTUAL_ENV=$(VENV)/test $(UV) pip install -q --no-deps -e .  # the autoremediate command
	touch $@

$(SAM): requirements/sam.txt | $(UV)
	$(UV) venv -q --allow-existing -p $(PYTHON) $(VENV)/sam
	VIRTUAL_ENV=$(VENV)/sam $(UV) pip install -q -r requirements/sam.txt
	touch $@

$(CHECKOV): requirements/checkov.txt | $(UV)
	$(UV) venv -q --allow-existing -p $(PYTHON) $(VENV)/checkov
	VIRTUAL_ENV=$(VENV)/checkov $(UV) pip install -q -r requirements/checkov.txt
	touch $@

clean:
	rm -rf $(VENV) .aws-sam build .pytest_cache .mypy_cache .ruff_cache .hypothesis
