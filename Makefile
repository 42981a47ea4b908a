VENV ?= .venv
PY := $(VENV)/bin/python
KELP := $(VENV)/bin/kelp

.PHONY: demo test install clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(KELP) repair src/kelp/data/quixbugs/python_programs/gcd.py \
		--pytest "src/kelp/data/quixbugs/python_testcases/test_gcd.py"

test: install
	$(PY) -m pytest tests

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
