"""Tests of the fault proxy itself (`fault_proxy.py`): what it counts is what happened.

Run: `python -m pytest emulator/test_fault_proxy.py` in the moto venv (run by
`cargo test --test e2e faults::the_fault_proxy`). The proxy runs in-process in front of a tiny
upstream that answers 200, or 400 to actions named `Refuse...`, and counts the requests it saw.
"""

import argparse
import collections
import http.client
import http.server
import sys
import threading
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fault_proxy  # noqa: E402


class Upstream(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen = collections.Counter()

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        action = body.split("Action=", 1)[-1].split("&")[0]
        Upstream.seen[action] += 1
        status = 400 if action.startswith("Refuse") else 200
        answer = f"<{action}Response/>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


def serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def upstream():
    server = serve(http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream))
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def start_proxy(upstream, **settings):
    args = argparse.Namespace(
        seed=settings.get("seed", 1),
        fault_rate=settings.get("fault_rate", 0.0),
        fault_kinds=settings.get("fault_kinds", "throttle,unavailable,reset"),
        lost_rate=settings.get("lost_rate", 0.0),
        lose_first=settings.get("lose_first", ""),
        latency_ms=0.0,
        rate_limit=0.0,
    )
    faults = fault_proxy.Faults(args)
    handler = type("Handler", (fault_proxy.Handler,), {"upstream": upstream, "faults": faults})
    server = serve(fault_proxy.Server(("127.0.0.1", 0), handler))
    return server, handler.faults


def call(server, action):
    """What the client got: the status, or "reset" when the connection went without an answer."""
    connection = http.client.HTTPConnection(*server.server_address, timeout=10)
    body = f"Action={action}&Version=2011-06-15"
    headers = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/sts/aws4_request, "
        "SignedHeaders=host, Signature=0",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    try:
        connection.request("POST", "/", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    except (ConnectionError, http.client.HTTPException):
        return "reset"
    finally:
        connection.close()


def control(server, path, body=""):
    connection = http.client.HTTPConnection(*server.server_address, timeout=10)
    connection.request("POST", path, body=body)
    assert connection.getresponse().status == 200
    connection.close()


def test_an_answer_aws_refused_is_never_counted_lost(upstream):
    server, faults = start_proxy(upstream, lost_rate=1.0)
    before = Upstream.seen["RefuseThis"]
    assert call(server, "RefuseThis") == 400
    assert Upstream.seen["RefuseThis"] == before + 1
    stats = faults.stats()
    assert stats["lost"] == 0 and stats["forwarded"] == 1, stats
    # An answer AWS gave after acting is lost: a reset or a 500 instead of the 200.
    assert call(server, "DoThis") in ("reset", 500)
    stats = faults.stats()
    assert stats["lost"] == 1 and stats["lost_actions"] == {"DoThis": 1}, stats
    server.shutdown()


def test_an_upstream_that_does_not_answer_is_no_lost_answer(upstream):
    closed = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    address = f"127.0.0.1:{closed.server_address[1]}"
    closed.server_close()  # nothing listens there any more
    server, faults = start_proxy(address, lost_rate=1.0)
    assert call(server, "DoThis") == "reset"
    stats = faults.stats()
    assert stats["lost"] == 0 and stats["upstream_failed"] == 1, stats
    server.shutdown()


def test_lose_first_waits_for_an_answer_aws_acted_on(upstream):
    server, faults = start_proxy(upstream, lose_first="RefuseThis,DoThis")
    assert call(server, "RefuseThis") == 400
    assert call(server, "DoThis") in ("reset", 500)
    assert call(server, "DoThis") == 200
    stats = faults.stats()
    assert stats["lose_first_pending"] == ["RefuseThis"], stats
    assert stats["lost_actions"] == {"DoThis": 1}, stats
    server.shutdown()


def test_faults_are_counted_per_phase(upstream):
    server, faults = start_proxy(upstream, fault_rate=1.0, fault_kinds="unavailable")
    assert call(server, "DoThis") == 503
    control(server, "/eksboot-proxy/phase", "create")
    for _ in range(3):
        assert call(server, "DoThis") == 503
    control(server, "/eksboot-proxy/phase", "teardown")
    assert call(server, "DoThat") == 503
    stats = faults.stats()
    phases = stats["phases"]
    assert phases["start"]["faults"] == {"unavailable": 1}
    assert phases["create"]["faults"] == {"unavailable": 3}
    assert phases["teardown"]["faults"] == {"unavailable": 1}
    assert phases["teardown"]["by_action"] == {"DoThat": 1}
    assert stats["faults"] == {"unavailable": 5} and stats["requests"] == 5
    assert stats["phase"] == "teardown"
    control(server, "/eksboot-proxy/reset")
    assert faults.stats()["requests"] == 0 and faults.stats()["phase"] == "start"
    server.shutdown()


ACTIONS = ["DoA", "DoB", "DoC", "DoD"]


def outcomes(upstream, seed, threaded):
    """Each action's answers, in order, for 25 requests of each action: one after the other,
    or each action from its own thread over its own connections, all at once."""
    server, _ = start_proxy(upstream, seed=seed, fault_rate=0.3, lost_rate=0.3)
    got = {}

    def run(action):
        got[action] = [call(server, action) for _ in range(25)]

    if threaded:
        threads = [threading.Thread(target=run, args=(a,)) for a in reversed(ACTIONS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        for a in ACTIONS:
            run(a)
    server.shutdown()
    return got


def test_a_seed_replays_the_same_faults_however_requests_interleave(upstream):
    alone = outcomes(upstream, 7, threaded=False)
    together = outcomes(upstream, 7, threaded=True)
    assert alone == together
    every = [o for answers in alone.values() for o in answers]
    assert {200, "reset"} <= set(every) and len(set(every)) >= 4, every
    assert outcomes(upstream, 8, threaded=False) != alone
