# Every target installs what it needs into .venv first, so a fresh clone with
# only Python 3.11+ is enough: `make demo`, `make test`. The Spark tests also need
# java on the PATH; without it they are skipped, with a message saying so.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# `make demo` needs the package alone (no test tools, no pyspark): its own stamp.
# A full install (STAMP) makes this one too.
BASE_STAMP := $(VENV)/.installed-base

.PHONY: install demo test lint fmt bench mutate clean cli-reference

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --quiet --upgrade pip

$(BASE_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --quiet -e .
	touch $(BASE_STAMP)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --quiet -e '.[dev,spark]'
	touch $(STAMP) $(BASE_STAMP)

install: $(STAMP)

# The commands are echoed as you would type them (rebalance on the PATH), then run.
RUN = @run() { echo "\$$ rebalance $$*"; $(BIN)/rebalance "$$@"; }; run

demo: $(BASE_STAMP)
	@mkdir -p demo_out
	$(RUN) inspect sample_data/transactions.csv --label is_fraud
	@echo
	$(RUN) apply sample_data/transactions.csv --label is_fraud --strategy undersample \
		--seed 42 -o demo_out/transactions_under.csv --report demo_out/transactions_under.json --force
	@echo
	$(RUN) inspect sample_data/support_tickets.parquet --label priority
	@echo
	$(RUN) apply sample_data/support_tickets.parquet --label priority --strategy smote \
		--id-columns ticket_id --seed 42 -o demo_out/tickets_smote.parquet \
		--report demo_out/tickets_smote.json --force
	@echo
	@echo "Every count, parameter and timing is in the JSON reports:"
	@echo "  demo_out/transactions_under.json, demo_out/tickets_smote.json"
	@echo "  (e.g. python3 -m json.tool demo_out/tickets_smote.json | less)"

test: $(STAMP)
	$(BIN)/ruff check rebalance_cli tests benchmarks tools
	$(BIN)/mypy rebalance_cli
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check rebalance_cli tests benchmarks tools
	$(BIN)/ruff format --check rebalance_cli tests benchmarks tools
	$(BIN)/mypy rebalance_cli tools/mutate.py

fmt: $(STAMP)
	$(BIN)/ruff format rebalance_cli tests benchmarks tools
	$(BIN)/ruff check --fix rebalance_cli tests benchmarks tools

# docs/cli.md: every command's --help (tests/test_cli_help.py fails when it is out of date)
cli-reference: $(STAMP)
	$(BIN)/python -c "from rebalance_cli.cli.help import main; main(['docs/cli.md'])"

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

# Break the package on purpose (tools/mutate.py lists how), one way at a time in a scratch
# copy, and check that the tests meant to notice do; not part of `make test`. MUTATE_ARGS:
# e.g. "--only smote-u-0-2 --only write-in-place", or "--list".
mutate: $(STAMP)
	$(BIN)/python tools/mutate.py $(MUTATE_ARGS)

clean:
	rm -rf $(VENV) demo_out bench_out .pytest_cache .ruff_cache .mypy_cache .hypothesis

# `rebalance evaluate` against imbalanced-learn's samplers on four public datasets -> EVALUATION.md
.PHONY: evaluation
evaluation: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[eval]'
	$(BIN)/python benchmarks/evaluation.py $(EVAL_ARGS)
