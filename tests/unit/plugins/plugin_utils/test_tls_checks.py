"""Certificates given as files, checked before nginx serves them (plugins/plugin_utils/tls_checks.py).

Each case makes a real PKI with cryptography (a root, an intermediate, the
site's certificate) and breaks one thing: the checks must refuse exactly that,
naming the file, and accept the good chain.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.fasterapi.deploy.plugins.plugin_utils import nginx_checks, tls_checks

NOW = datetime.datetime(2026, 12, 7, 12, 0, tzinfo=datetime.timezone.utc)
DAY = datetime.timedelta(days=1)


def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def issue(name: str, subject_key: Any, issuer: tuple[x509.Name, Any] | None = None, ca: bool = False,
          names: list[str] | None = None, start: datetime.datetime = NOW - DAY,
          end: datetime.datetime = NOW + 90 * DAY) -> x509.Certificate:
    """A certificate for NAME, signed by ISSUER (name, key), or self-signed."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, issuer_key = issuer or (subject, subject_key)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
               .public_key(subject_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(item) for item in names]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def pem(*certs: x509.Certificate) -> str:
    return "".join(cert.public_bytes(serialization.Encoding.PEM).decode() for cert in certs)


def key_pem(private: Any, password: bytes | None = None) -> str:
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption).decode()


class Pki:
    """A root, an intermediate it issued, and a site certificate for front and www.example.org."""

    def __init__(self, **site: Any) -> None:
        self.root_key, self.mid_key, self.site_key = key(), key(), key()
        self.root = issue("Test Root", self.root_key, ca=True, end=NOW + 3650 * DAY)
        self.mid = issue("Test Intermediate", self.mid_key, (self.root.subject, self.root_key), ca=True,
                         end=NOW + 1000 * DAY)
        site.setdefault("names", ["front", "www.example.org"])
        self.site = issue("front", self.site_key, (self.mid.subject, self.mid_key), **site)

    def problems(self, chain: str | None = None, private: str | None = None, names: tuple[str, ...] = ("front",),
                 min_days: int = 14, roots: str | None = None) -> list[tuple[str, str]]:
        return tls_checks.certificate_problems(
            pem(self.site, self.mid) if chain is None else chain, key_pem(self.site_key) if private is None else private,
            list(names), min_days, pem(self.root) if roots is None else roots, "the test roots", now=NOW)


def only(problems: list[tuple[str, str]], variable: str, *words: str) -> None:
    assert len(problems) == 1, problems
    assert problems[0][0] == variable
    for word in words:
        assert word in problems[0][1], problems[0][1]


def test_a_full_chain_to_a_trusted_root_passes() -> None:
    assert not Pki().problems(names=("front", "www.example.org"))


def test_a_self_signed_certificate_is_its_own_chain() -> None:
    own = key()
    assert not tls_checks.certificate_problems(pem(issue("front", own, names=["front"])), key_pem(own), ["front"], 14,
                                               "", "none", now=NOW)


def test_an_expired_certificate() -> None:
    pki = Pki(start=NOW - 100 * DAY, end=NOW - 3 * DAY)
    only(pki.problems(), "nginx_certificate_file", "expired", "3.0 days ago")


def test_a_certificate_not_valid_yet() -> None:
    only(Pki(start=NOW + 2 * DAY).problems(), "nginx_certificate_file", "not valid yet")


def test_a_certificate_that_expires_within_the_minimum_days() -> None:
    pki = Pki(end=NOW + 5 * DAY)
    only(pki.problems(), "nginx_certificate_file", "in 5.0 days", "nginx_certificate_min_days=14")
    assert not pki.problems(min_days=5)


def test_names_that_do_not_cover_the_server_names() -> None:
    only(Pki().problems(names=("front", "api.example.org")), "nginx_certificate_file",
         "does not cover api.example.org", "its names are front, www.example.org")


def test_a_certificate_without_subject_alt_names_covers_nothing() -> None:
    only(Pki(names=[]).problems(), "nginx_certificate_file", "no subjectAltName")


@pytest.mark.parametrize(("pattern", "name", "expected"), [
    ("*.example.org", "www.example.org", True), ("*.example.org", "example.org", False),
    ("*.example.org", "a.b.example.org", False), ("FRONT", "front", True), ("front.", "front", True),
])
def test_a_wildcard_covers_one_label(pattern: str, name: str, expected: bool) -> None:
    assert tls_checks.covers(pattern, name) is expected


def test_the_key_of_another_certificate() -> None:
    only(Pki().problems(private=key_pem(key())), "nginx_certificate_key_file", "is not the key of")


def test_a_key_with_a_passphrase() -> None:
    pki = Pki()
    only(pki.problems(private=key_pem(pki.site_key, b"secret")), "nginx_certificate_key_file", "passphrase")


def test_a_key_that_is_not_a_key() -> None:
    only(Pki().problems(private="not a key\n"), "nginx_certificate_key_file", "not a private key")


def test_a_chain_without_its_intermediate() -> None:
    pki = Pki()
    only(pki.problems(chain=pem(pki.site)), "nginx_certificate_file", "incomplete", "CN=Test Intermediate",
         "the test roots")


def test_a_root_that_cannot_be_read_does_not_hide_the_others() -> None:
    pki = Pki()
    broken = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
    assert not pki.problems(chain=pem(pki.site, pki.mid), roots=broken + pem(pki.root))


def test_a_chain_out_of_order() -> None:
    pki = Pki()
    only(pki.problems(chain=pem(pki.site, pki.root, pki.mid)), "nginx_certificate_file",
         "certificate 1 (CN=front) is not issued by certificate 2 (CN=Test Root)")


def test_a_chain_to_a_root_that_is_not_trusted() -> None:
    pki = Pki()
    only(pki.problems(roots=pem(Pki().root)), "nginx_certificate_file", "incomplete")


def test_a_file_without_a_certificate() -> None:
    only(Pki().problems(chain="hello\n"), "nginx_certificate_file", "holds no PEM certificate")


def test_several_problems_at_once() -> None:
    pki = Pki(end=NOW - DAY)
    problems = pki.problems(chain=pem(pki.site), private=key_pem(key()), names=("api",))
    expected = ["nginx_certificate_file", "nginx_certificate_file", "nginx_certificate_key_file", "nginx_certificate_file"]
    assert [variable for variable, _message in problems] == expected


def test_the_role_checks_name_the_files(tmp_path: Path) -> None:
    """Through the nginx role's checks: the variable and its value lead each message, nothing else is refused."""
    pki = Pki(end=NOW + 400 * DAY)
    (tmp_path / "site.pem").write_text(pem(pki.site))
    (tmp_path / "site.key").write_text(key_pem(pki.site_key))
    (tmp_path / "roots.pem").write_text(pem(pki.root))
    settings = {"nginx_app_name": "pool", "nginx_server_names": ["front"], "nginx_certificate": "files",
                "nginx_certificate_file": str(tmp_path / "site.pem"), "nginx_certificate_key_file": str(tmp_path / "site.key"),
                "nginx_certificate_ca_file": str(tmp_path / "roots.pem"), "nginx_certificate_min_days": 14}
    pems = {"certificate": pem(pki.site), "key": key_pem(pki.site_key)}
    problems = nginx_checks.problems(settings, pems=pems)
    assert [problem["variable"] for problem in problems] == ["nginx_certificate_file"]
    assert problems[0]["message"].startswith(f'nginx_certificate_file="{tmp_path}/site.pem": the chain is incomplete')
    assert f"nginx_certificate_ca_file ({tmp_path}/roots.pem)" in problems[0]["message"]
    pems["certificate"] = pem(pki.site, pki.mid)
    assert not nginx_checks.problems(settings, pems=pems)
    settings["nginx_certificate_ca_file"] = str(tmp_path / "missing.pem")
    assert [problem["message"] for problem in nginx_checks.problems(settings, pems=pems)] == [
        f'nginx_certificate_ca_file="{tmp_path}/missing.pem" is not a file on the controller.']
