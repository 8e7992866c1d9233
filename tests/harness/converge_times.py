"""Time the role's converges, before and after a change, in one run on one machine.

For each of two trees (BASE, a git revision exported to a temporary
directory, and this checkout), in a fresh systemd container of its own
(one at a time, over the docker connection), after a first `site` run:

  site        an unchanged re-converge of playbooks/site.yml
  deploy      a code-only deploy (playbooks/deploy.yml, the VERSION file changed)
  rollback    playbooks/rollback.yml (back to the release before)

each ROUNDS times, wall time of ansible-playbook (facts included). Prints
every run, then the median of each and the ratio after/before.

With --installers, this checkout alone, one host: a code-only deploy and a
deploy that changes the dependencies (six==1.17.0 in, then out again), each
with gunicorn_installer pip and uv, ROUNDS times; the medians and uv / pip.
(The releases scenario checks that both installers deploy both kinds; this
is where their speed is measured.)

    python3 tests/harness/converge_times.py [--base REV] [--rounds 5]    (make converge-times)
    python3 tests/harness/converge_times.py --installers [--rounds 5]    (make installer-times)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KINDS = ("site", "deploy", "rollback")


def sh(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"converge_times: {' '.join(argv)} failed ({done.returncode}):\n{(done.stdout + done.stderr)[-4000:]}")
    return done.stdout


def export(revision: str, into: Path) -> Path:
    """The tree of REVISION in INTO, with its .collections link, as a fresh clone would have it."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def link_collection(tree: Path) -> None:
    top = tree / ".collections" / "ansible_collections" / "fasterapi"
    top.mkdir(parents=True, exist_ok=True)
    link = top / "deploy"
    if not link.is_symlink():
        link.symlink_to("../../..")


def start_container(name: str, image: str) -> None:
    cache = os.environ.get("FASTERAPI_CACHE_DIR", "/var/cache/fasterapi-deploy")
    ca = os.environ.get("FASTERAPI_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    Path(cache, "pip").mkdir(parents=True, exist_ok=True)
    subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
    sh(["docker", "run", "-d", "--name", name, "--hostname", name, "--cap-add", "SYS_ADMIN",
        "--security-opt", "seccomp=unconfined", "--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
        "--tmpfs", "/run", "--tmpfs", "/run/lock", "--stop-signal", "RTMIN+3",
        "-v", f"{cache}/pip:/var/cache/fasterapi-pip:rw", "-v", f"{ca}:/usr/local/share/fasterapi-host-ca.crt:ro",
        image, "/lib/systemd/systemd"])
    for _attempt in range(100):
        state = subprocess.run(["docker", "exec", name, "systemctl", "is-system-running"], capture_output=True, text=True,
                               check=False).stdout.strip()
        if state in ("running", "degraded"):
            return
        time.sleep(0.2)


def write_inventory(directory: Path, host: str, app: Path) -> Path:
    (directory / "group_vars").mkdir(parents=True)
    (directory / "hosts.yml").write_text(
        f"fasterapi:\n  hosts:\n    {host}:\n      ansible_connection: community.docker.docker\n"
        "      ansible_python_interpreter: /usr/bin/python3\n")
    (directory / "group_vars" / "fasterapi.yml").write_text(
        f"gunicorn_app_src: {app}\ngunicorn_health_path: /health\ngunicorn_workers: 2\n"
        "gunicorn_pip_cert: /usr/local/share/fasterapi-host-ca.crt\ngunicorn_pip_cache_dir: /var/cache/fasterapi-pip\n")
    return directory / "hosts.yml"


def play(tree: Path, playbook: str, inventory: Path, *extra: str) -> float:
    env = dict(os.environ, ANSIBLE_CONFIG=str(tree / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    started = time.monotonic()
    sh(["ansible-playbook", f"playbooks/{playbook}.yml", "--inventory", str(inventory), *extra], cwd=tree, env=env)
    return time.monotonic() - started


def measure(label: str, tree: Path, work: Path, image: str, rounds: int) -> dict[str, list[float]]:
    host = f"fasterapi-times-{label}"
    app = work / f"app-{label}"
    shutil.copytree(ROOT / "tests" / "sample_app", app, ignore=shutil.ignore_patterns("__pycache__"))
    inventory = write_inventory(work / f"inventory-{label}", host, app)
    link_collection(tree)
    start_container(host, image)
    try:
        print(f"{label}: first site run (not timed): {play(tree, 'site', inventory):.1f} s", flush=True)
        times: dict[str, list[float]] = {kind: [] for kind in KINDS}
        version = (app / "VERSION").read_text()
        for number in range(1, rounds + 1):
            times["site"].append(play(tree, "site", inventory))
            (app / "VERSION").write_text(f"2.0.{number}\n")
            times["deploy"].append(play(tree, "deploy", inventory, "--extra-vars", f"gunicorn_app_version=2.0.{number}"))
            # Back to the code site deployed: after the rollback, the next site run is unchanged.
            (app / "VERSION").write_text(version)
            times["rollback"].append(play(tree, "rollback", inventory))
            print(f"{label}: round {number}: " + ", ".join(f"{kind} {times[kind][-1]:.1f} s" for kind in KINDS), flush=True)
        return times
    finally:
        subprocess.run(["docker", "rm", "-f", host], capture_output=True, check=False)


INSTALLER_KINDS = ("code-only", "new dependency")


def installers(tree: Path, work: Path, image: str, rounds: int) -> dict[str, dict[str, list[float]]]:
    """Deploy times of this checkout with pip and with uv, on one host."""
    host = "fasterapi-times-installers"
    app = work / "app-installers"
    shutil.copytree(ROOT / "tests" / "sample_app", app, ignore=shutil.ignore_patterns("__pycache__"))
    inventory = write_inventory(work / "inventory-installers", host, app)
    link_collection(tree)
    start_container(host, image)
    requirements = app / "requirements.txt"
    plain = requirements.read_text()
    times: dict[str, dict[str, list[float]]] = {kind: {"pip": [], "uv": []} for kind in INSTALLER_KINDS}
    try:
        print(f"installers: first site run (not timed): {play(tree, 'site', inventory):.1f} s", flush=True)
        release = 0
        for number in range(1, rounds + 1):
            for kind in INSTALLER_KINDS:
                for installer in ("pip", "uv"):
                    release += 1
                    if kind == "new dependency":
                        # In and out again: each of these deploys changes the venv.
                        changed = "six==1.17.0" not in requirements.read_text()
                        requirements.write_text(plain + ("six==1.17.0\n" if changed else ""))
                    (app / "VERSION").write_text(f"3.0.{release}\n")
                    times[kind][installer].append(play(tree, "deploy", inventory, "--extra-vars",
                                                       f"gunicorn_app_version=3.0.{release} gunicorn_installer={installer}"))
                    print(f"installers: round {number}: {kind} with {installer}: {times[kind][installer][-1]:.1f} s", flush=True)
        return times
    finally:
        subprocess.run(["docker", "rm", "-f", host], capture_output=True, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="HEAD", help="the git revision to compare this checkout with (default HEAD)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--image", default=os.environ.get("FASTERAPI_IMAGE_DEBIAN12", "fasterapi-deploy/debian12-systemd:local"))
    parser.add_argument("--installers", action="store_true", help="pip against uv for deploys of this checkout")
    args = parser.parse_args(argv)
    if args.installers:
        with tempfile.TemporaryDirectory(prefix="fasterapi-times-") as temporary:
            measured = installers(ROOT, Path(temporary), args.image, args.rounds)
        print(f"\nmedian of {args.rounds} deploys, seconds (this checkout, one host)")
        print("| deploy | pip | uv | uv / pip |\n| --- | --- | --- | --- |")
        for kind in INSTALLER_KINDS:
            pip, uv = statistics.median(measured[kind]["pip"]), statistics.median(measured[kind]["uv"])
            print(f"| {kind} | {pip:.1f} | {uv:.1f} | {uv / pip:.2f} |")
        return 0
    with tempfile.TemporaryDirectory(prefix="fasterapi-times-") as temporary:
        work = Path(temporary)
        base = export(args.base, work / "base")
        results = {"before": measure("before", base, work, args.image, args.rounds),
                   "after": measure("after", ROOT, work, args.image, args.rounds)}
    revision = sh(["git", "-C", str(ROOT), "rev-parse", "--short", args.base]).strip()
    print(f"\nmedian of {args.rounds} runs, seconds (before: {args.base} = {revision}; after: this checkout)")
    print("| run | before | after | after / before |\n| --- | --- | --- | --- |")
    for kind in KINDS:
        before, after = statistics.median(results["before"][kind]), statistics.median(results["after"][kind])
        print(f"| {kind} | {before:.1f} | {after:.1f} | {after / before:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
