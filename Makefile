# Two entry points for a fresh machine with only python3: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

.PHONY: install demo test test-fast bench clean
install: $(STAMP)

## The main job: deploy-with-autofix of the broken example on the embedded sandbox (no AWS account).
demo: $(STAMP)
	$(BIN)/cfn-autofix deploy examples/webtier-broken.yaml --out out/webtier-broken.fixed.yaml --report-json out/report.json

## The whole test suite.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

## The inner loop: everything but the end-to-end sandbox runs (marked slow).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m "not slow"

bench: $(STAMP)
	for f in bench/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) out build *.egg-info
