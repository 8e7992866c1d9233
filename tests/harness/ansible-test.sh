#!/usr/bin/env bash
# Run `ansible-test sanity` or `ansible-test units` locally (no containers) on
# this checkout. ansible-test wants the collection at
# .../ansible_collections/fasterapi/deploy, so the files git knows (tracked,
# and new ones not ignored) are copied into such a tree in a temporary
# directory first.
#   tests/harness/ansible-test.sh sanity|units [ansible-test options]
set -euo pipefail
cd "$(dirname "$0")/../.."
command=${1:?usage: $0 sanity|units [ansible-test options]}
shift
python=${FASTERAPI_TEST_PYTHON:-3.11}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tree="$work/ansible_collections/fasterapi/deploy"
mkdir -p "$tree"
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
  tar --null -T - -cf - | tar -xf - -C "$tree"

# meta/runtime.yml claims the maintained ansible-core releases (2.20 and
# newer), which need Python 3.12; this machine's Python is 3.11, so
# ansible-test here is 2.19, and its ansible-doc would count the warning that
# the collection does not support 2.19 as a failed test. The copy claims the
# running version instead; the checked-in file is left as it is.
core=$(python3 -c 'import ansible.release as r; print(".".join(r.__version__.split(".")[:2]))')
if ! python3 - "$tree/meta/runtime.yml" "$core" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
claimed = re.search(r'requires_ansible:\s*"?>=\s*([0-9]+)\.([0-9]+)', text)
running = tuple(int(x) for x in sys.argv[2].split("."))
sys.exit(0 if claimed and running >= (int(claimed[1]), int(claimed[2])) else 1)
PY
then
  echo "ansible-test.sh: ansible-core $core runs here, older than meta/runtime.yml claims: the copy claims >=$core.0"
  sed -i -E "s/^requires_ansible:.*/requires_ansible: \">=$core.0\"/" "$tree/meta/runtime.yml"
fi

# ansible-test puts pip into each venv it makes (one per sanity test, kept in
# ~/.ansible/test/venv) with a get-pip.py script that it downloads from a host
# of its own; tests/harness/get_pip.py does that job from the package index.
# A real get-pip.py already in ansible-test's cache is left alone.
pip_version=$(python3 -c 'import pathlib, re, ansible_test
text = (pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py").read_text()
print(re.search(r"pip=.([0-9.]+).", text).group(1))')
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if [ ! -e "$cache" ] || grep -q "Stand-in for ansible-test" "$cache"; then
  mkdir -p "$(dirname "$cache")"
  cp tests/harness/get_pip.py "$cache"
fi

# Sanity's shellcheck test is skipped (with a warning) without shellcheck.
if [ "$command" = sanity ] && ! command -v shellcheck >/dev/null 2>&1 && [ "$(id -u)" = 0 ] &&
  command -v apt-get >/dev/null 2>&1; then
  echo "ansible-test.sh: installing Debian's shellcheck"
  tests/harness/apt-install.sh shellcheck
fi

cd "$tree"
start=$(date +%s)
status=0
ansible-test "$command" --python "$python" --color no "$@" || status=$?
echo "ansible-test $command: exit $status after $(( $(date +%s) - start )) s"
exit "$status"
