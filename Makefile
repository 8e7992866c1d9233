# One target per job. `make test` is what CI runs (.ci/run calls it).
SHELL := /bin/bash
VENV ?= .venv
# Under .cache: yamllint, ansible-lint, git and the tarball all leave it out.
IMPORTER_VENV ?= .cache/venv-importer
BIN := $(abspath $(VENV))/bin
# The venvs are made from the system's Python where it has venv (Debian's
# python3-venv): Debian builds it with PGO and LTO, and Ansible on it took
# about a fifth less CPU than on a Python built without them (pyenv's
# default), measured on this machine. Ansible's controller work is close to
# half of the suite's CPU. PYTHON=python3 for the first one on PATH.
PYTHON ?= $(shell /usr/bin/python3 -c 'import ensurepip, venv' >/dev/null 2>&1 && echo /usr/bin/python3 || echo python3)
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: venv importer-venv collection-link lint unit sanity galaxy-import images molecule galaxy test demo \
	perf drain-compare uvicorn-compare converge-times installer-times build clean

venv: $(BIN)/molecule
$(BIN)/molecule: requirements-dev.txt tests/harness/requirements-ansible-test.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt \
	  -r tests/harness/requirements-ansible-test.txt
	touch $@

# Galaxy's importer has dependencies of its own: a venv of its own.
importer-venv: $(IMPORTER_VENV)/bin/ansible-lint
$(IMPORTER_VENV)/bin/ansible-lint: tests/harness/requirements-importer.txt
	$(PYTHON) -m venv $(IMPORTER_VENV)
	$(IMPORTER_VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/harness/requirements-importer.txt
	touch $@

# Let Ansible find fasterapi.deploy.* in this checkout.
collection-link:
	@mkdir -p .collections/ansible_collections/fasterapi
	@ln -sfn ../../.. .collections/ansible_collections/fasterapi/deploy

lint: venv collection-link
	yamllint --strict .
	ansible-lint --offline --profile production
	antsibull-changelog lint
	antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
	@# CHANGELOG.rst is generated from changelogs/changelog.yaml (antsibull-changelog generate): up to date?
	@mkdir -p .cache
	antsibull-changelog generate --output .cache/CHANGELOG.rst --output-format rst
	diff -u CHANGELOG.rst .cache/CHANGELOG.rst

# The plugins' tests under ansible-test (as the collection's modules and
# filters are imported on a controller and a host); the rest with pytest.
unit: venv
	python -m pytest -q tests/unit --ignore=tests/unit/plugins
	tests/harness/ansible-test.sh units tests/unit/plugins/

# ansible-test on a copy of this checkout in an ansible_collections/fasterapi/deploy
# tree, locally (no containers); ignores in tests/sanity/ignore-<version>.txt.
sanity: venv
	tests/harness/ansible-test.sh sanity

# Build the tarball and import it with Galaxy's importer (ansible-doc, ansible-lint).
galaxy-import: venv importer-venv
	IMPORTER_VENV=$(IMPORTER_VENV) tests/harness/galaxy-importer.sh

images:
	tests/harness/build-images.sh

molecule: venv collection-link images
	molecule test --all

# Build the tarball, install it into an empty path, deploy from it.
galaxy: venv images
	tests/harness/galaxy-install.sh

# Each stage in turn, timed (tests/harness/run_suite.py prints a table at the end).
# The images (debootstrap) are the suite's first stage: lint, unit and sanity
# run while they build, the scenarios after.
test: venv collection-link
	python tests/harness/run_suite.py

demo: venv collection-link
	tests/harness/demo.sh

# The role's defaults against the same apps run other ways (tests/harness/perf.py);
# PERF_ARGS="--rounds 7 --seconds 6 --sweep-workers --backlog" for its options.
PERF_ARGS ?=
perf: venv collection-link
	python tests/harness/perf.py $(PERF_ARGS)

drain-compare: venv collection-link
	tests/harness/drain-compare.sh

# uvicorn's own process manager (uvicorn --workers, fastapi run --workers)
# against the role's gunicorn in one run: failed requests over rolling
# restarts, late senders, and which release each serves after a deploy
# (docs/why-gunicorn.md). UVICORN_COMPARE_ARGS="--restarts 5 --hogs 2" for its options.
UVICORN_COMPARE_ARGS ?=
uvicorn-compare: venv collection-link
	python tests/harness/uvicorn_compare.py $(UVICORN_COMPARE_ARGS)

# Re-converge, code-only deploy and rollback times, before (CONVERGE_BASE, a
# git revision) and after (this checkout), in one run: medians and ratios.
CONVERGE_BASE ?= HEAD
converge-times: venv collection-link images
	python tests/harness/converge_times.py --base $(CONVERGE_BASE)

# Deploy times with gunicorn_installer pip and uv (a code-only change, a new
# dependency), medians and uv / pip: a benchmark, not part of make test.
installer-times: venv collection-link images
	python tests/harness/converge_times.py --installers

build: venv
	ansible-galaxy collection build --force --output-path build .

clean:
	rm -rf build .collections $(IMPORTER_VENV)
