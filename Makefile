# Two commands on a fresh machine: `make reproduce` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(abspath $(VENV))/bin
STAMP  := $(VENV)/.installed
export PATH := $(BIN):$(PATH)

.PHONY: setup reproduce smoke test report lint clean

$(STAMP): pyproject.toml envs/constraints.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c envs/constraints.txt -e ".[all,dev]"
	touch $(STAMP)

setup: $(STAMP)            ## create .venv and install the pinned environment

reproduce: setup           ## the whole DAG at cpu scale -> reports/cpu/*.pdf
	snakemake --config scale=cpu

smoke: setup               ## the whole DAG at smoke scale (< 5 min)
	snakemake --config scale=smoke

test: setup                ## unit tests + the smoke DAG
	pytest

report: setup              ## Snakemake's own HTML report of the cpu run
	snakemake --config scale=cpu --report report.html

lint: setup
	ruff check . && ruff format --check .

clean:
	rm -rf results .snakemake report.html
