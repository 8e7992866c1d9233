# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""A front door's state, as the status playbook shows it: each site's certificate and pool.

For each site of the fasterapi.deploy.nginx role on the host (its record in
sites/<app>.json), the certificate the site serves (its ssl_certificate) and
when it expires, and the pool's hosts, in or out. judge() says what is a
fault (the status run fails) and what is a finding:

- an ACME certificate certbot should have renewed: it has been due for
  more than RENEWAL_GRACE_DAYS (certbot.timer tries twice a day from the day
  it is due: renew_before_expiry, 30 days by default), or it expires within
  a week, is a fault, and so is certbot.timer not running;
- any certificate that expired is a fault, one that expires within 14 days
  a finding;
- a pool with no host in it is a fault, a host out of its pool a finding.
"""

from __future__ import annotations

import datetime
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

RENEWAL_GRACE_DAYS = 2.0
DEFAULT_RENEW_BEFORE_DAYS = 30.0
_NOT_AFTER = re.compile(r"notAfter=(.+)")
_NOT_BEFORE = re.compile(r"notBefore=(.+)")
_RENEW_BEFORE = re.compile(r"^\s*renew_before_expiry\s*=\s*([0-9.]+)\s*(day|days|d|week|weeks|w)?\s*$", re.MULTILINE)


def read_text(path: str) -> Optional[str]:
    """The text of the file PATH, or None when it is not there (or not readable)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (FileNotFoundError, PermissionError):
        return None


def openssl_date(text: str) -> Optional[datetime.datetime]:
    """openssl x509's date (Mar  7 12:00:00 2027 GMT) in UTC, or None."""
    try:
        return datetime.datetime.strptime(" ".join(text.split()), "%b %d %H:%M:%S %Y GMT").replace(
            tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def certificate_dates(openssl_output: str) -> Tuple[Optional[datetime.datetime], Optional[datetime.datetime]]:
    """(notBefore, notAfter) from `openssl x509 -noout -startdate -enddate`."""
    start, end = _NOT_BEFORE.search(openssl_output), _NOT_AFTER.search(openssl_output)
    return (openssl_date(start.group(1)) if start else None, openssl_date(end.group(1)) if end else None)


def served_certificate(site_conf: str) -> str:
    """The ssl_certificate a site's configuration names, or ''."""
    found = re.search(r"^\s*ssl_certificate\s+([^;\s]+)\s*;", site_conf, re.MULTILINE)
    return found.group(1) if found else ""


def renew_before_days(renewal_conf: str) -> float:
    """certbot's renew_before_expiry of a lineage, in days (30 when it is not set)."""
    found = _RENEW_BEFORE.search(renewal_conf)
    if not found:
        return DEFAULT_RENEW_BEFORE_DAYS
    number = float(found.group(1))
    return number * 7 if (found.group(2) or "").startswith("w") else number


def judge_certificate(site: str, path: str, start: Optional[datetime.datetime], end: Optional[datetime.datetime],
                      acme: bool, renew_before: float, timer_active: bool,
                      now: datetime.datetime) -> Tuple[Dict[str, Any], List[str], List[str]]:
    """The certificate's state, its faults and its findings."""
    faults: List[str] = []
    findings: List[str] = []
    state: Dict[str, Any] = {"path": path, "acme": acme, "expires": end.isoformat() if end else None}
    if end is None or start is None:
        faults.append(f"{site}: cannot read the certificate it serves ({path})")
        return state, faults, findings
    days_left = (end - now).total_seconds() / 86400
    state["days_left"] = round(days_left, 1)
    if days_left <= 0:
        faults.append(f"{site}: its certificate expired {-days_left:.1f} days ago ({path})")
        return state, faults, findings
    if acme:
        # Due since renew_before days before the end, but never before this certificate was issued.
        due_for = min(renew_before - days_left, (now - start).total_seconds() / 86400)
        state["due_for_days"] = round(max(due_for, 0.0), 1)
        if not timer_active:
            faults.append(f"{site}: certbot.timer is not running, so nothing renews its certificate "
                          f"(it expires in {days_left:.1f} days)")
        if due_for > RENEWAL_GRACE_DAYS or days_left < 7:
            faults.append(f"{site}: its ACME certificate expires in {days_left:.1f} days and has not renewed "
                          f"(due for {max(due_for, 0.0):.1f} days; certbot renews from {renew_before:g} days before): "
                          "see journalctl -u certbot")
    elif days_left < 14:
        findings.append(f"{site}: its certificate expires in {days_left:.1f} days; replace it "
                        "(nginx_certificate_file)")
    return state, faults, findings


def judge_pool(site: str, pool: Mapping[str, Any]) -> Tuple[List[Dict[str, Any]], List[str], List[str]]:
    """The pool's hosts, its faults and findings."""
    hosts = [{"host": entry["host"], "server": entry["server"], "in": not entry.get("out"),
              "weight": entry.get("weight", 1), "reason": entry.get("reason", "")} for entry in pool.get("servers", [])]
    faults: List[str] = []
    findings = [f"{site}: {host['host']} is out of the pool ({host['reason']})" for host in hosts if not host["in"]]
    if hosts and not any(host["in"] for host in hosts):
        faults.append(f"{site}: no host is in its pool, so nginx answers 502")
    return hosts, faults, findings
