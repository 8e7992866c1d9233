"""Stdlib HTTPS load client for https://127.0.0.1/ (the lab site).

usage: load.py [DURATION_S] [THREADS_PER_MODE]   (defaults: 30, 2)

Client modes, run side by side for DURATION_S seconds:
  fresh              a new connection per request
  keepalive-checked  reuses its connection, but first checks whether the server
                     dropped it (like urllib3: readable socket => reconnect)
  keepalive-blind    reuses its connection without checking
  idle-blind         like keepalive-blind, but sleeps 0.5-2 s between requests
                     (4x THREADS_PER_MODE threads, as they mostly sleep)
The busy modes pause 5 ms between requests. Prints one line per mode: the mode
name and a JSON object with sent / ok / failed counts, checked reconnects,
errors by type (@reused: on a reused connection, @new: on a fresh one) and the
first 8 failure times in seconds from the start.
"""
import collections
import http.client
import json
import random
import select
import ssl
import sys
import threading
import time
from typing import Any, Optional

HOST, PORT, PATH = "127.0.0.1", 443, "/"
MODES = ["fresh", "keepalive-checked", "keepalive-blind", "idle-blind"]

ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

lock = threading.Lock()
stats: dict[str, dict[str, Any]] = {
    m: {"sent": 0, "ok": 0, "failed": 0, "reconnect_checked": 0, "errors": collections.Counter()}
    for m in MODES
}
fail_times: dict[str, list[float]] = {m: [] for m in MODES}


def newconn() -> http.client.HTTPSConnection:
    """Open a new connection to the lab site."""
    c = http.client.HTTPSConnection(HOST, PORT, context=ctx, timeout=10)
    c.connect()
    return c


def dropped(c: http.client.HTTPSConnection) -> bool:
    """Whether the server dropped c: like urllib3's wait_for_read(sock, timeout=0.0),
    a readable idle socket (EOF or unexpected data) counts as dropped."""
    s = c.sock
    if s is None:
        return True
    try:
        if isinstance(s, ssl.SSLSocket) and s.pending():
            return True
        return bool(select.select([s], [], [], 0)[0])
    except Exception:
        return True


def one(c: http.client.HTTPSConnection) -> http.client.HTTPResponse:
    """Send one GET on c and read the whole response; raise unless 200."""
    c.request("GET", PATH, headers={"Connection": "keep-alive"})
    r = c.getresponse()
    r.read()
    if r.status != 200:
        raise RuntimeError("status %d" % r.status)
    return r


def worker(mode: str, t0: float, end: float) -> None:
    """Send requests in the given mode until time end; count into stats."""
    st = stats[mode]
    c: Optional[http.client.HTTPSConnection] = None
    while time.time() < end:
        if mode == "idle-blind":
            time.sleep(random.uniform(0.5, 2.0))
            if time.time() >= end:
                break
        reused = False
        try:
            if mode == "fresh":
                if c is not None:
                    c.close()
                c = None
            elif mode == "keepalive-checked" and c is not None and dropped(c):
                c.close()
                c = None
                with lock:
                    st["reconnect_checked"] += 1
            with lock:
                st["sent"] += 1
            reused = c is not None
            if c is None:
                c = newconn()
            r = one(c)
            if r.will_close:
                c.close()
                c = None
            with lock:
                st["ok"] += 1
        except Exception as e:
            e_name = type(e).__name__ + ("@reused" if reused else "@new")
            with lock:
                st["failed"] += 1
                st["errors"][e_name] += 1
                fail_times[mode].append(round(time.time() - t0, 2))
            if c is not None:
                try:
                    c.close()
                except Exception:
                    pass
            c = None
        if mode == "fresh" and c is not None:
            c.close()
            c = None
        if mode != "idle-blind":
            time.sleep(0.005)  # throttle the busy modes (small test machines)


def main(argv: list[str]) -> None:
    """Run all modes for the duration given in argv and print the summary."""
    dur = float(argv[1]) if len(argv) > 1 else 30.0
    tpm = int(argv[2]) if len(argv) > 2 else 2
    t0 = time.time()
    threads = []
    for m in MODES:
        n = tpm * (4 if m == "idle-blind" else 1)  # more idle clients: they are mostly asleep
        for _number in range(n):
            t = threading.Thread(target=worker, args=(m, t0, t0 + dur), daemon=True)
            t.start()
            threads.append(t)
    for t in threads:
        t.join()
    for m in MODES:
        s = stats[m]
        out = {"sent": s["sent"], "ok": s["ok"], "failed": s["failed"],
               "checked_reconnects": s["reconnect_checked"], "errors": dict(s["errors"]),
               "first_fail_times": fail_times[m][:8]}
        print(m, json.dumps(out))


if __name__ == "__main__":
    main(sys.argv)
