# One target per job. `make test` is what CI runs (.ci/run calls it).
SHELL := /bin/bash
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: venv collection-link lint unit images molecule galaxy test demo perf drain-compare build clean

venv: $(BIN)/molecule
$(BIN)/molecule: requirements-dev.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Let Ansible find fasterapi.deploy.* in this checkout.
collection-link:
	@mkdir -p .collections/ansible_collections/fasterapi
	@ln -sfn ../../.. .collections/ansible_collections/fasterapi/deploy

lint: venv collection-link
	yamllint --strict .
	ansible-lint --offline --profile production

unit: venv
	python -m pytest -q tests/unit

images:
	tests/harness/build-images.sh

molecule: venv collection-link images
	molecule test --all

# Build the tarball, install it into an empty path, deploy from it.
galaxy: venv images
	tests/harness/galaxy-install.sh

test: lint unit molecule galaxy

demo: venv collection-link
	tests/harness/demo.sh

perf: venv collection-link
	tests/harness/throughput.sh

drain-compare: venv collection-link
	tests/harness/drain-compare.sh

build: venv
	ansible-galaxy collection build --force --output-path build .

clean:
	rm -rf build .collections
