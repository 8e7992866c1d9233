"""Make a CA for one test run and server certificates it signs, with openssl.

    make_pki.py DIR NAME [NAME...]

writes DIR/ca.pem and DIR/ca.key, then DIR/NAME.pem and DIR/NAME.key for
each NAME (a certificate for the DNS name NAME and localhost). Nothing is
trusted by anyone until a test puts ca.pem somewhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import List, Optional


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make(directory: str, names: List[str]) -> None:
    os.makedirs(directory, mode=0o700, exist_ok=True)
    ca_key, ca_pem = os.path.join(directory, "ca.key"), os.path.join(directory, "ca.pem")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_pem, "-days", "3",
            "-subj", "/CN=fasterapi.deploy test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name in names:
        key, csr, pem = (os.path.join(directory, name + suffix) for suffix in (".key", ".csr", ".pem"))
        extensions = os.path.join(directory, name + ".ext")
        with open(extensions, "w", encoding="utf-8") as handle:
            handle.write("subjectAltName=DNS:%s,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n" % name)
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + name)
        openssl("x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key, "-CAcreateserial", "-out", pem,
                "-days", "3", "-extfile", extensions)


def main(argv: Optional[List[str]] = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        sys.exit(__doc__)
    make(args[0], args[1:])


if __name__ == "__main__":
    main()
