# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""A certificate given as files, checked on the controller before nginx serves it.

nginx -t loads a certificate and its key and refuses a pair that does not
match, but it serves a certificate that expired, one for other host names,
and one without the intermediates clients need. certificate_problems() reads
the PEM texts the role would write (the certificate with its chain, the key)
and says, for each problem, which file is at fault and what is expected:

- the certificate is valid now, and for MIN_DAYS more;
- its names (subjectAltName) cover every server name of the site;
- it matches its key, and the key has no passphrase (nginx would ask for one
  at each start);
- its chain is complete: each certificate is issued by the next one, and the
  last is issued by a root of the trust store given, or is self-signed (the
  operator's own root, or a self-signed certificate, which clients must be
  given anyway).
"""

from __future__ import annotations

import datetime
import os.path
import re
import ssl
from collections.abc import Iterable

# cryptography is a dependency of ansible-core, so the controller has it; the
# import is guarded for tools that load the plugin without it (ansible-doc).
try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import ExtensionOID
    CRYPTOGRAPHY_ERROR = ""
except ImportError as error:  # pragma: no cover - ansible-core brings it
    CRYPTOGRAPHY_ERROR = str(error)

_PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)

# One problem: the variable at fault and the whole sentence an operator reads.
TlsProblem = tuple[str, str]


def certificates(pem: str) -> list[x509.Certificate]:
    """Every certificate in the PEM text, in order (raises ValueError for one that is not a certificate)."""
    return [x509.load_pem_x509_certificate(block.encode()) for block in _PEM_CERTIFICATE.findall(pem)]


def subject(certificate: x509.Certificate) -> str:
    """The certificate's subject as RFC 4514 writes it (CN=..., O=...)."""
    return certificate.subject.rfc4514_string() or "(empty subject)"


def dns_names(certificate: x509.Certificate) -> list[str]:
    """The DNS names of the certificate's subjectAltName; none: [] (clients ignore the CN)."""
    try:
        extension = certificate.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    except x509.ExtensionNotFound:
        return []
    return [str(name) for name in extension.value.get_values_for_type(x509.DNSName)]


def covers(pattern: str, name: str) -> bool:
    """The certificate name PATTERN covers the host NAME (a wildcard stands for one whole left-most label)."""
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _dot, rest = name.partition(".")
        return bool(head) and rest == pattern[2:] and not name.startswith("*.")
    return pattern == name


def _utc(certificate: x509.Certificate, field: str) -> datetime.datetime:
    """The certificate's FIELD (not_valid_before, not_valid_after) in UTC, from cryptography before 42 too."""
    value = getattr(certificate, f"{field}_utc", None)
    if isinstance(value, datetime.datetime):
        return value
    naive: datetime.datetime = getattr(certificate, field)
    return naive.replace(tzinfo=datetime.timezone.utc)


def issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """ISSUER's name is the certificate's issuer and its key signed it."""
    if certificate.issuer != issuer.subject:
        return False
    verify = getattr(certificate, "verify_directly_issued_by", None)
    if verify is None:  # cryptography before 40: the names alone
        return True
    try:
        verify(issuer)
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def default_roots() -> tuple[str, str]:
    """The controller's trust store: its PEM text and its path ('' and 'none found' without one)."""
    paths = ssl.get_default_verify_paths()
    for path in (paths.cafile, paths.openssl_cafile):
        if path and os.path.isfile(path):
            with open(path, encoding="ascii", errors="replace") as handle:
                return handle.read(), path
    return "", "none found"


def _days(delta: datetime.timedelta) -> str:
    """A time span in days, as the messages say it."""
    days = delta.total_seconds() / 86400
    return f"{days:.1f} days" if days < 10 else f"{int(days)} days"


def certificate_problems(certificate_pem: str, key_pem: str, server_names: Iterable[str], min_days: int,
                         roots_pem: str = "", roots_source: str = "the controller's trust store",
                         now: datetime.datetime | None = None) -> list[TlsProblem]:
    """Every problem with the certificate CERTIFICATE_PEM (leaf first, then its chain) and its key KEY_PEM.

    SERVER_NAMES: the site's names, each of which the certificate must cover.
    MIN_DAYS: how many days ahead it must still be valid. ROOTS_PEM: the
    trusted roots an incomplete-looking chain may end at (ROOTS_SOURCE names
    them in the message). NOW: the time to judge validity at (now, UTC).
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    cert_var = "nginx_certificate_file"
    if CRYPTOGRAPHY_ERROR:
        return [(cert_var, f"{cert_var} cannot be checked: the controller's Python lacks the package cryptography "
                           f"({CRYPTOGRAPHY_ERROR}), which ansible-core needs; install it")]
    try:
        chain = certificates(certificate_pem)
    except ValueError as error:
        return [(cert_var, f"{cert_var}: a certificate in it cannot be read ({error}): expected PEM certificates, "
                           "the site's first, then its chain")]
    if not chain:
        return [(cert_var, f"{cert_var} holds no PEM certificate (-----BEGIN CERTIFICATE-----): expected the site's "
                           "certificate, then its chain")]
    leaf = chain[0]
    problems: list[TlsProblem] = []
    about = f"{cert_var} ({subject(leaf)})"

    start, end = _utc(leaf, "not_valid_before"), _utc(leaf, "not_valid_after")
    if now < start:
        problems.append((cert_var, f"{about} is not valid yet: it starts {start:%Y-%m-%d %H:%M} UTC, in "
                                   f"{_days(start - now)}; expected a certificate valid now"))
    elif now >= end:
        problems.append((cert_var, f"{about} expired {end:%Y-%m-%d %H:%M} UTC, {_days(now - end)} ago; expected a "
                                   "certificate valid now"))
    elif end - now < datetime.timedelta(days=min_days):
        problems.append((cert_var, f"{about} expires {end:%Y-%m-%d %H:%M} UTC, in {_days(end - now)}: expected one "
                                   f"valid for at least nginx_certificate_min_days={min_days} days more"))

    names = dns_names(leaf)
    missing = [name for name in server_names if not any(covers(pattern, str(name)) for pattern in names)]
    if missing:
        problems.append((cert_var, f"{about} does not cover {', '.join(missing)} of nginx_server_names: its names are "
                                   f"{', '.join(names) if names else 'none (no subjectAltName; clients ignore the CN)'}; "
                                   "expected a certificate for every server name"))

    problems.extend(_key_problems(leaf, key_pem, about))
    problems.extend(_chain_problems(chain, roots_pem, roots_source))
    return problems


def _key_problems(leaf: x509.Certificate, key_pem: str, about: str) -> list[TlsProblem]:
    """The key cannot be read, has a passphrase, or is not the certificate's."""
    key_var = "nginx_certificate_key_file"
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except TypeError:
        return [(key_var, f"{key_var} is encrypted with a passphrase, which nginx would ask for at each start: expected "
                          "the key without one (encrypt it on the controller with ansible-vault instead)")]
    except (ValueError, UnsupportedAlgorithm) as error:
        return [(key_var, f"{key_var} is not a private key nginx can load ({error}): expected the certificate's key, "
                          "PEM")]
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    mine = key.public_key().public_bytes(serialization.Encoding.DER, public)
    if mine != leaf.public_key().public_bytes(serialization.Encoding.DER, public):
        return [(key_var, f"{key_var} is not the key of {about}: expected the private key the certificate was "
                          "issued for")]
    return []


def _chain_problems(chain: list[x509.Certificate], roots_pem: str, roots_source: str) -> list[TlsProblem]:
    """Each certificate is issued by the next, and the last is a root or issued by one of ROOTS_PEM."""
    cert_var = "nginx_certificate_file"
    for number, (certificate, issuer) in enumerate(zip(chain, chain[1:]), start=1):
        if not issued_by(certificate, issuer):
            return [(cert_var, f"{cert_var}: certificate {number} ({subject(certificate)}) is not issued by certificate "
                               f"{number + 1} ({subject(issuer)}) after it: expected the site's certificate first, "
                               "then each issuer in turn (fullchain.pem)")]
    last = chain[-1]
    if issued_by(last, last):
        return []
    roots = []
    for block in _PEM_CERTIFICATE.findall(roots_pem):
        try:  # one root a newer cryptography refuses does not make every chain incomplete
            roots.append(x509.load_pem_x509_certificate(block.encode()))
        except ValueError:
            continue
    if any(issued_by(last, root) for root in roots):
        return []
    issuer = last.issuer.rfc4514_string()
    return [(cert_var, f"{cert_var}: the chain is incomplete: it ends with {subject(last)}, issued by {issuer}, which is "
                       f"neither in the file nor a root of {roots_source}; expected the intermediates up to a root "
                       "(fullchain.pem), or nginx_certificate_ca_file naming the root of a private CA")]
