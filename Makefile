# Everything the project needs on a fresh Debian machine with Python 3.11 and no ROS.
# `make demo` runs the simulator and the node; `make test` builds with colcon and runs every test.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
ACTIVATE := . $(VENV)/bin/activate
# Keep DDS discovery on this machine: tests and the demo never need another host.
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST

.PHONY: setup build test fuzz demo bench check lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -r requirements.txt
	touch $(VENV)/COLCON_IGNORE
	touch $@

build: setup
	$(ACTIVATE) && colcon build --packages-select arena_eval

# colcon test exits 0 even when tests fail: the verdict comes from colcon test-result.
test: build
	rc=0; \
	$(ACTIVATE) && colcon test --packages-select arena_eval --event-handlers console_direct+ \
	    --return-code-on-test-failure || rc=$$?; \
	$(ACTIVATE) && colcon test-result --verbose || rc=1; \
	exit $$rc

# Fresh property and fuzz cases (make test runs a fixed, derandomized set): run before a landing.
FUZZ_SCALE ?= 3
fuzz: setup
	ARENA_EVAL_HYPOTHESIS=fuzz ARENA_EVAL_FUZZ_SCALE=$(FUZZ_SCALE) ARENA_EVAL_PROPERTY_EXAMPLES=3000 \
	    $(PY) -m pytest -q -p no:cacheprovider test/test_fuzz_language.py test/test_properties.py \
	    test/test_cdr.py test/test_plans.py test/test_folding.py test/test_templates.py

demo: setup
	$(PY) -m arena_eval demo

bench: setup
	$(PY) -m arena_eval bench

check: setup
	$(PY) -m arena_eval check config/default.yaml

lint: setup
	$(VENV)/bin/ruff check arena_eval test launch setup.py
	$(VENV)/bin/ament_flake8 arena_eval test launch setup.py
	$(VENV)/bin/ament_pep257 arena_eval test launch setup.py

clean:
	rm -rf build install log
