# Two commands set everything up: `make quickstart` and `make test`.
# Both create .venv on first use and install the project into it.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: quickstart test test-fast lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	# torch comes in pinned as the local CPU wheel first, so nothing pulls CUDA packages.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]" --config-settings editable_mode=compat
	touch $(STAMP)

quickstart: $(STAMP)
	$(VENV)/bin/ensembler run configs/quickstart.yaml

# everything, slow tests included (what CI runs)
test: $(STAMP)
	$(PY) -m pytest -q tests

# the edit-test loop: tests marked slow (end-to-end runs, training, Dask, PostgreSQL) skipped
test-fast: $(STAMP)
	$(PY) -m pytest -q tests -m "not slow"

# ruff (incl. the pickle bans and complexity), mypy (incl. tests) and the import contracts
lint: $(STAMP)
	$(VENV)/bin/ruff check ensembler base_models stacking tests bench docs
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# the quick benchmarks; bench/bench_ptbxl.py (about 40 min, needs $$ENSEMBLER_PTBXL_DIR) runs alone
bench: $(STAMP)
	for f in $(filter-out bench/bench_ptbxl.py,$(wildcard bench/bench_*.py)); do $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) runs
