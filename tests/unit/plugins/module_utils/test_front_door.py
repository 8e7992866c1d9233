"""A front door's certificates and pools as status judges them (plugins/module_utils/front_door.py)."""

from __future__ import annotations

import datetime

import pytest
from ansible_collections.fasterapi.deploy.plugins.module_utils import front_door

NOW = datetime.datetime(2026, 12, 7, 12, 0, tzinfo=datetime.timezone.utc)
DAY = datetime.timedelta(days=1)


def judge(start_days_ago: float, days_left: float, acme: bool = True, renew_before: float = 30.0,
          timer: bool = True) -> tuple:
    return front_door.judge_certificate("site shop", "/etc/letsencrypt/live/shop/fullchain.pem",
                                        NOW - start_days_ago * DAY, NOW + days_left * DAY, acme, renew_before, timer, NOW)


def test_openssl_dates_and_the_served_certificate() -> None:
    start, end = front_door.certificate_dates("notBefore=Dec  1 10:00:00 2026 GMT\nnotAfter=Mar  1 10:00:00 2027 GMT\n")
    assert start == datetime.datetime(2026, 12, 1, 10, tzinfo=datetime.timezone.utc)
    assert end == datetime.datetime(2027, 3, 1, 10, tzinfo=datetime.timezone.utc)
    assert front_door.certificate_dates("garbage") == (None, None)
    conf = "server {\n    ssl_certificate /etc/letsencrypt/live/shop/fullchain.pem;\n    ssl_certificate_key /k;\n}"
    assert front_door.served_certificate(conf) == "/etc/letsencrypt/live/shop/fullchain.pem"


@pytest.mark.parametrize(("text", "days"), [("", 30.0), ("renew_before_expiry = 3650 days\n", 3650.0),
                                            ("# renew_before_expiry = 5 days\n", 30.0), ("renew_before_expiry = 2 weeks", 14.0)])
def test_renew_before_expiry(text: str, days: float) -> None:
    assert front_door.renew_before_days(text) == days


def test_an_acme_certificate_not_due_or_just_due_is_fine() -> None:
    assert judge(10, 80)[1:] == ([], [])
    assert judge(60, 29)[1:] == ([], [])  # due for one day: certbot.timer has a day to renew it
    state = judge(0.1, 1800, renew_before=3650)[0]  # renewed a moment ago, yet "due" by its setting
    assert state["due_for_days"] == 0.1 and state["days_left"] == 1800


def test_an_acme_certificate_that_did_not_renew_is_a_fault() -> None:
    state, faults, _findings = judge(70, 20)
    assert state["due_for_days"] == 10.0
    assert faults == ["site shop: its ACME certificate expires in 20.0 days and has not renewed (due for 10.0 days; "
                      "certbot renews from 30 days before): see journalctl -u certbot"]
    assert judge(3, 5, renew_before=1)[1]  # within a week whatever the setting


def test_no_timer_and_expired_certificates_are_faults() -> None:
    assert "certbot.timer is not running" in judge(10, 80, timer=False)[1][0]
    assert judge(100, -2)[1] == ["site shop: its certificate expired 2.0 days ago (/etc/letsencrypt/live/shop/fullchain.pem)"]
    assert judge(100, -2, acme=False)[1]


def test_a_certificate_given_as_files_close_to_its_end_is_a_finding() -> None:
    expected = ["site shop: its certificate expires in 10.0 days; replace it (nginx_certificate_file)"]
    assert judge(100, 10, acme=False)[1:] == ([], expected)
    assert judge(100, 20, acme=False)[1:] == ([], [])


def test_pools() -> None:
    pool = {"servers": [{"host": "app2", "server": "10.0.0.3:8001", "out": True, "reason": "maintenance"},
                        {"host": "app3", "server": "10.0.0.4:8001"}]}
    hosts, faults, findings = front_door.judge_pool("site shop", pool)
    assert [(host["host"], host["in"]) for host in hosts] == [("app2", False), ("app3", True)]
    assert faults == [] and findings == ["site shop: app2 is out of the pool (maintenance)"]
    pool["servers"][1]["out"] = True
    assert front_door.judge_pool("site shop", pool)[1] == ["site shop: no host is in its pool, so nginx answers 502"]
