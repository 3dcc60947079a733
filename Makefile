# The two commands of the README:
#   make demo   set up .venv (idempotent) and run the demo on the synthetic set
#   make test   set up .venv (idempotent) and run the test suite (.ci/run)
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?= -q -n 2

.PHONY: setup demo test
setup:
	bash tools/setup_env.sh

demo: setup
	$(PY) tools/demo.py

test: setup
	$(PY) -m pytest tests $(PYTEST_ARGS)
