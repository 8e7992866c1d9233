"""Make certificates nginx would serve but clients must not get, for the front_door scenario.

    make_bad_certs.py DIR NAME

writes, in DIR, for the server name NAME, a PEM pair per case (CASE.pem, CASE.key):
  expired        valid from 40 days ago to 10 days ago
  other-names    valid, for www.example.org only
  wrong-key      valid, with the key of another certificate
  no-chain       issued by an intermediate, without it in the file
and roots.pem, the root the no-chain certificate's intermediate chains to.
"""

from __future__ import annotations

import datetime
import os
import sys
from typing import Any, List, Optional

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NOW = datetime.datetime.now(datetime.timezone.utc)
DAY = datetime.timedelta(days=1)


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def issue(subject: str, key: Any, issuer: Optional[tuple] = None, names: Optional[List[str]] = None, ca: bool = False,
          start: datetime.datetime = NOW - DAY, end: datetime.datetime = NOW + 90 * DAY) -> x509.Certificate:
    """A certificate for SUBJECT's KEY, signed by ISSUER (name, key) or by itself."""
    issuer_name, issuer_key = issuer or (_name(subject), key)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in names]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def write(directory: str, case: str, certs: List[x509.Certificate], key: Any) -> None:
    with open(os.path.join(directory, case + ".pem"), "wb") as handle:
        handle.write(b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certs))
    path = os.path.join(directory, case + ".key")
    with open(path, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    os.chmod(path, 0o600)


def make(directory: str, name: str) -> None:
    os.makedirs(directory, mode=0o700, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    write(directory, "expired", [issue(name, key, names=[name], start=NOW - 40 * DAY, end=NOW - 10 * DAY)], key)
    write(directory, "other-names", [issue("www.example.org", key, names=["www.example.org"])], key)
    write(directory, "wrong-key", [issue(name, key, names=[name])], ec.generate_private_key(ec.SECP256R1()))
    root_key, mid_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root = issue("fasterapi.deploy test root", root_key, ca=True, end=NOW + 365 * DAY)
    mid = issue("fasterapi.deploy test intermediate", mid_key, (root.subject, root_key), ca=True, end=NOW + 365 * DAY)
    write(directory, "no-chain", [issue(name, key, (mid.subject, mid_key), names=[name])], key)
    with open(os.path.join(directory, "roots.pem"), "wb") as handle:
        handle.write(root.public_bytes(serialization.Encoding.PEM))


def main(argv: Optional[List[str]] = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        sys.exit(__doc__)
    make(args[0], args[1])


if __name__ == "__main__":
    main()
