"""Ask the app its version on fresh connections, several times.

Prints a JSON list: the versions that the --requests answers of --url held,
sorted (one version when only the new one answers).
"""

import argparse
import json
import urllib.request


def versions(url: str, requests: int) -> list[str]:
    """The versions in REQUESTS answers of URL, each on a new connection."""
    seen: set[str] = set()
    for _request in range(requests):
        with urllib.request.urlopen(url, timeout=5) as response:
            seen.add(json.load(response)["version"])
    return sorted(seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000/version", help="where the app says its version (default: %(default)s)")
    parser.add_argument("--requests", type=int, default=50, help="how many requests (default: %(default)s)")
    args = parser.parse_args()
    print(json.dumps(versions(args.url, args.requests)))


if __name__ == "__main__":
    main()
