"""Time when idle keep-alive connections are closed by an nginx action.

Open N HTTPS keep-alive connections to 127.0.0.1:443 (one request each), let
them sit idle for 1 s, run CMD (e.g. 'systemctl reload nginx'), then watch the
sockets for up to WAIT_S seconds (default 15) after CMD started and print when
each one became readable (EOF or close alert from the server).

usage: idle_probe.py N 'shell command' [WAIT_S]
"""
import http.client
import select
import socket
import ssl
import subprocess
import sys
import time


def open_idle(n: int, ctx: ssl.SSLContext) -> list[http.client.HTTPSConnection]:
    """Open n connections, each with one completed request, left idle."""
    conns = []
    for _number in range(n):
        c = http.client.HTTPSConnection("127.0.0.1", 443, context=ctx, timeout=5)
        c.request("GET", "/")
        c.getresponse().read()
        conns.append(c)
    return conns


def main(argv: list[str]) -> None:
    """Run the probe with the command-line arguments in argv."""
    if len(argv) < 3:
        sys.exit(__doc__)
    n = int(argv[1])
    cmd = argv[2]
    wait_s = float(argv[3]) if len(argv) > 3 else 15.0
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conns = open_idle(n, ctx)
    # A connection the server already closed (e.g. keepalive_timeout 0) has no
    # socket left: count it apart instead of timing it.
    gone_before = sum(1 for c in conns if c.sock is None)
    time.sleep(1)
    t0 = time.time()
    subprocess.run(cmd, shell=True, check=False)
    tcmd = time.time() - t0
    closed: dict[int, float] = {}
    while time.time() - t0 < wait_s and len(closed) + gone_before < n:
        socks: dict[socket.socket, int] = {
            c.sock: i for i, c in enumerate(conns) if i not in closed and c.sock is not None
        }
        readable = select.select(list(socks), [], [], 0.05)[0]
        for s in readable:
            closed[socks[s]] = round(time.time() - t0, 3)
    extra = " (%d already closed before the command)" % gone_before if gone_before else ""
    print("cmd took %.3fs; closed %d/%d idle conns; close times(s): %s%s"
          % (tcmd, len(closed), n, sorted(closed.values()), extra))


if __name__ == "__main__":
    main(sys.argv)
