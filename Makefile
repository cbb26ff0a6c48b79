# Everything the project needs on a fresh Debian machine with Python 3.11 and no ROS.
# `make demo` runs the simulator and the node; `make test` builds with colcon and runs every test.
# ROS 2 Kilted by default; `make test ROS_DISTRO=jazzy` runs the same on Jazzy, in a venv, colcon
# build/install/log folders and a pinned requirements file of its own, so the two never mix.
SHELL := /bin/bash
ROS_DISTRO ?= kilted
ifeq ($(ROS_DISTRO),kilted)
VENV ?= .venv
REQUIREMENTS := requirements.txt
SUFFIX :=
else ifeq ($(ROS_DISTRO),jazzy)
VENV ?= .venv-jazzy
REQUIREMENTS := requirements-jazzy.txt
SUFFIX := -jazzy
else
$(error ROS_DISTRO=$(ROS_DISTRO): this Makefile knows kilted (the default) and jazzy)
endif
PY := $(VENV)/bin/python
COLCON_BASES := --build-base build$(SUFFIX) --install-base install$(SUFFIX)
# colcon's log folder is chosen by an environment variable (or a global option), not per verb.
COLCON := COLCON_LOG_PATH=log$(SUFFIX) colcon
ACTIVATE := . $(VENV)/bin/activate
# Keep DDS discovery on this machine: tests and the demo never need another host.
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST

.PHONY: setup develop build test fuzz demo bench check lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: $(REQUIREMENTS)
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -r $(REQUIREMENTS)
	touch $(VENV)/COLCON_IGNORE
	$(MAKE) --no-print-directory develop ROS_DISTRO=$(ROS_DISTRO) VENV=$(VENV)
	touch $@

# The package itself, editable: `python -m arena_eval` and the console scripts (in the venv's
# bin/) work from any folder and run this source. PEP 660 (`--use-pep517`, with the venv's own
# setuptools and the pinned `wheel`): the legacy `setup.py develop` would put the scripts where
# setup.cfg sends them for ros2 run (lib/arena_eval/). Then numba's cache beside the source is filled, so the first
# start does not compile (`python -m arena_eval warm`).
develop:
	$(VENV)/bin/pip install --disable-pip-version-check --no-deps --no-build-isolation \
	    --use-pep517 -e .
	$(PY) -m arena_eval warm

# setup.py's install step warms numba's cache beside the installed package (install*/).
build: setup
	$(ACTIVATE) && $(COLCON) build --packages-select arena_eval $(COLCON_BASES)

# colcon test exits 0 even when tests fail: the verdict comes from colcon test-result.
test: build
	rc=0; \
	$(ACTIVATE) && $(COLCON) test --packages-select arena_eval $(COLCON_BASES) \
	    --event-handlers console_direct+ --return-code-on-test-failure || rc=$$?; \
	$(ACTIVATE) && $(COLCON) test-result --test-result-base build$(SUFFIX) --verbose || rc=1; \
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
	rm -rf build install log build-jazzy install-jazzy log-jazzy
