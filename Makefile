# Two commands on a fresh machine: `make reproduce` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(abspath $(VENV))/bin
STAMP  := $(VENV)/.installed
export PATH := $(BIN):$(PATH)
SMK    := Snakefile $(wildcard papers/*/workflow.smk)

.PHONY: setup reproduce smoke test test-unit test-dag report lint lint-workflow clean

$(STAMP): pyproject.toml envs/constraints.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c envs/constraints.txt -e ".[all,dev]"
	touch $(STAMP)

setup: $(STAMP)            ## create .venv and install the pinned environment

reproduce: setup           ## the whole DAG at cpu scale -> reports/cpu/*.pdf, README results tables
	snakemake --config scale=cpu
	python -m common.readme --scale cpu

smoke: setup               ## the whole DAG at smoke scale (< 5 min)
	snakemake --config scale=smoke

test: setup lint           ## what CI runs: lint, unit tests, the smoke DAG and its HTML report
	pytest

test-unit: setup           ## quick: unit tests only (no Snakemake runs)
	pytest -m "not dag and not slurm"

test-dag: setup            ## the DAG tests only (dry runs, the smoke DAG, its reports)
	pytest -m "dag"

report: setup              ## Snakemake's own HTML report of the cpu run
	snakemake --config scale=cpu --report report.html

lint: setup lint-workflow  ## ruff (Python) and the workflow checks
	ruff check . && ruff format --check .

lint-workflow: setup       ## snakefmt and `snakemake --lint` (at most 10 messages)
	snakefmt --check $(SMK)
	python -m tests.lint_workflow --max 10

clean:
	rm -rf results .snakemake report.html
