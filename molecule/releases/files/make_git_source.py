"""Make DIRECTORY a git repository to deploy from: its files at tag v<VERSION>, then a later commit.

The repository is made anew (an existing .git is removed), on branch main,
committed as "ci": the files with VERSION holding --version, tagged
v<version>; then one more commit, "later work, not deployed", with VERSION
holding --later. Prints nothing (git runs quietly); fails when a git command does.
"""

import argparse
import shutil
import subprocess
from pathlib import Path


def git(directory: Path, *args: str) -> None:
    """Run git ARGS in DIRECTORY; fail when it fails."""
    subprocess.run(["git", *args], cwd=directory, check=True)


def make(directory: Path, version: str, later: str) -> None:
    """A new repository in DIRECTORY: VERSION tagged v<VERSION>, then a commit of LATER."""
    if (directory / ".git").exists():
        shutil.rmtree(directory / ".git")
    git(directory, "init", "-q", "-b", "main")
    git(directory, "config", "user.email", "ci@example.invalid")
    git(directory, "config", "user.name", "ci")
    (directory / "VERSION").write_text(f"{version}\n", encoding="utf-8")
    git(directory, "add", "-A")
    git(directory, "commit", "-q", "-m", version)
    git(directory, "tag", f"v{version}")
    (directory / "VERSION").write_text(f"{later}\n", encoding="utf-8")
    git(directory, "commit", "-q", "-am", "later work, not deployed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", type=Path, help="the app's files, to put under git")
    parser.add_argument("--version", required=True, help="the version of the tagged commit, e.g. 1.0.6")
    parser.add_argument("--later", required=True, help="the version of the later commit, not to deploy")
    args = parser.parse_args()
    make(args.directory, args.version, args.later)


if __name__ == "__main__":
    main()
