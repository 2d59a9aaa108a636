"""A fault-injecting HTTP proxy in front of the emulator: AWS as it behaves on a bad day.

Real AWS throttles, answers 500 and 503, drops connections, is slow, and sometimes acts on a
request whose answer never reaches the caller. This proxy does all of that, at rates and with a
seed given on the command line, so a test can prove eksboot comes out of it with exactly one of
each resource:

  --fault-rate F   share of API requests answered with a fault *before* AWS sees them: a
                   throttling error in the service's own format, a 503, or a connection reset
                   (`--fault-kinds throttle,unavailable,reset` picks among them).
  --lost-rate L    share of API requests AWS acted on (forwarded, answered 2xx) whose answer is
                   then lost: a 500 or a connection reset instead of AWS's answer. An answer
                   AWS refused (4xx, 5xx) passes untouched and counts as nothing: a lost answer
                   is one where the caller cannot know that AWS acted.
  --lose-first A   a comma-separated list of actions (as `by_action` names them) whose first
                   request AWS acts on has its answer lost: every exactly-once path, surely.
  --latency-ms M   each API request waits a random 0..M ms first.
  --rate-limit R   requests per second the account may make (a token bucket with a burst of R);
                   requests beyond it are throttled, as AWS's per-account API rate limits do
                   (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html).

Randomness is per request, not shared: each API request draws from its own generator, seeded
with (seed, phase, action, how many requests of that action came before it in the phase). The
draws of a request therefore do not depend on which thread or connection served it, nor on how
other requests interleaved with it: a seed replays a run (latency and `--rate-limit`, which read
the clock, aside).

The service comes from the SigV4 credential scope (`Credential=AKID/date/region/SERVICE/...`).
Requests that carry an idempotency token (EC2 `ClientToken`, EKS `clientRequestToken`) are
remembered by the rules of `tokens.py`, shared with the emulator: the first successful answer
again when repeated with the same parameters; with different ones, EC2's documented
IdempotentParameterMismatch, and for EKS (undocumented) the first answer unchanged
(https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html). The proxy serves
one account per test, so the rate limit is the proxy's.

`GET /eksboot-proxy/stats` answers what happened (requests, faults by kind, lost answers by
how they were lost and by action, replays, upstream failures, the peak requests in any one
second, requests by action), in total and per phase; `POST /eksboot-proxy/phase` with a phase
name as its body (`create`, `teardown`, ...) counts what follows in that phase (the first phase is
`start`); `POST /eksboot-proxy/reset` zeroes everything and returns to `start`. Everything else
without a SigV4 signature (the emulator's control API) is forwarded
untouched. Prints `PORT <n>` once it serves and exits when its stdin closes.
"""

import argparse
import collections
import http.client
import http.server
import json
import os
import random
import re
import socket
import struct
import sys
import threading
import time
import urllib.parse
import uuid

import tokens

# The error formats of each protocol: (status, code) for throttling, unavailability and an
# internal error, as each service's documentation and SDK models name them.
QUERY_XML = {"ec2"}
AWS_QUERY = {"iam", "sts", "elasticloadbalancing"}
REST_JSON = {"eks"}

THROTTLE = {
    "ec2": (503, "RequestLimitExceeded"),  # EC2: 503 RequestLimitExceeded
    "eks": (429, "ThrottlingException"),  # EKS: HTTP 429 Too Many Requests
}
QUERY_THROTTLE = (400, "Throttling")  # IAM, STS, ELB: 400 Throttling ("Rate exceeded")
JSON_THROTTLE = (400, "ThrottlingException")  # KMS, CloudWatch Logs, Service Quotas

UNAVAILABLE = {"ec2": "Unavailable", "eks": "ServiceUnavailableException"}
INTERNAL = {"ec2": "InternalError", "eks": "ServerException"}

CREDENTIAL = re.compile(r"Credential=([^/]+)/[^/]+/[^/]+/([^/]+)/aws4_request")


def error_answer(service, status, code, message):
    """An error as `service` would send it: (status, headers, body)."""
    request_id = str(uuid.uuid4())
    if service in QUERY_XML:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f"<Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        )
        return status, {"Content-Type": "text/xml"}, body.encode()
    if service in AWS_QUERY:
        kind = "Receiver" if status >= 500 else "Sender"
        body = (
            "<ErrorResponse><Error>"
            f"<Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return status, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body.encode()
    if service in REST_JSON:
        headers = {
            "Content-Type": "application/json",
            "x-amzn-ErrorType": code,
            "x-amzn-RequestId": request_id,
        }
        return status, headers, json.dumps({"message": message}).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id}
    return status, headers, json.dumps({"__type": code, "message": message}).encode()


def throttle_answer(service):
    if service in THROTTLE:
        status, code = THROTTLE[service]
    elif service in AWS_QUERY:
        status, code = QUERY_THROTTLE
    else:
        status, code = JSON_THROTTLE
    return error_answer(service, status, code, "Rate exceeded")


def unavailable_answer(service):
    code = UNAVAILABLE.get(service, "ServiceUnavailable")
    return error_answer(service, 503, code, "Service is unavailable. Please try again later.")


def internal_answer(service):
    code = INTERNAL.get(service, "InternalFailure")
    return error_answer(service, 500, code, "We encountered an internal error. Please try again.")


def mismatch_answer(service):
    """EC2's documented answer to a token repeated with other parameters."""
    return error_answer(
        service, 400, "IdempotentParameterMismatch", "The client token was already used with different parameters"
    )


def action_of(service, method, path, headers, body):
    """The API action a request calls, e.g. `CreateVpc` or `POST /clusters`."""
    target = headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    if service in REST_JSON:
        # EKS names things in the path: keep its shape, not the names.
        parts = path.split("?")[0].strip("/").split("/")
        shape = [p if i % 2 == 0 else "*" for i, p in enumerate(parts)]
        return f"{method} /" + "/".join(shape)
    form = urllib.parse.parse_qs(body.decode(errors="replace"))
    return form.get("Action", ["?"])[0]


idempotency_token = tokens.wire_token


class Counters:
    """What happened in one phase."""

    def __init__(self):
        self.requests = 0
        self.forwarded = 0
        self.faults = collections.Counter()
        self.fault_actions = collections.Counter()  # "action kind" -> faults before AWS
        self.lost = 0
        self.lost_by = collections.Counter()  # how: "reset" or "500"
        self.lost_actions = collections.Counter()
        self.replayed = 0
        self.upstream_failed = 0
        self.by_action = collections.Counter()
        self.per_second = collections.Counter()

    def add(self, other):
        self.requests += other.requests
        self.forwarded += other.forwarded
        self.faults.update(other.faults)
        self.fault_actions.update(other.fault_actions)
        self.lost += other.lost
        self.lost_by.update(other.lost_by)
        self.lost_actions.update(other.lost_actions)
        self.replayed += other.replayed
        self.upstream_failed += other.upstream_failed
        self.by_action.update(other.by_action)
        self.per_second.update(other.per_second)

    def json(self):
        return {
            "requests": self.requests,
            "forwarded": self.forwarded,
            "faults": dict(self.faults),
            "fault_actions": dict(self.fault_actions),
            "lost": self.lost,
            "lost_by": dict(self.lost_by),
            "lost_actions": dict(self.lost_actions),
            "replayed": self.replayed,
            "upstream_failed": self.upstream_failed,
            "peak_per_second": max(self.per_second.values(), default=0),
            "by_action": dict(self.by_action),
        }


class Draws:
    """One request's random choices, all drawn up front in a fixed order from the request's
    own generator, whatever the settings: the same request key, the same choices."""

    def __init__(self, generator, faults):
        self.latency = generator.uniform(0, faults.latency_ms) / 1000.0
        self.fault = generator.random() < faults.fault_rate
        self.kind = generator.choice(faults.kinds)
        self.lost = generator.random() < faults.lost_rate
        self.lost_by_reset = generator.random() < 0.5


class Faults:
    """The proxy's settings, token bucket, replay cache and counters per phase."""

    def __init__(self, args):
        self.seed = args.seed
        self.fault_rate = args.fault_rate
        self.lost_rate = args.lost_rate
        self.latency_ms = args.latency_ms
        self.rate = args.rate_limit
        self.kinds = args.fault_kinds.split(",")
        self.lose_first = set(filter(None, args.lose_first.split(",")))
        self.lock = threading.Lock()
        self.tokens = float(self.rate or 0)
        self.refilled = time.monotonic()
        self.answers = tokens.Memory()  # one account: keyed by ("proxy", service, action, token)
        self.reset()

    def reset(self):
        with self.lock:
            self.phase = "start"
            self.phases = {"start": Counters()}
            self.seen = collections.Counter()  # (phase, action) -> requests so far

    def begin(self, phase):
        """Counts what follows in `phase` (again, if it was seen before)."""
        with self.lock:
            self.phase = phase
            self.phases.setdefault(phase, Counters())

    def start(self, action):
        """Counts a request of `action` in the current phase: (its counters, its draws)."""
        with self.lock:
            phase = self.phase
            counters = self.phases[phase]
            self.seen[(phase, action)] += 1
            nth = self.seen[(phase, action)]
            counters.requests += 1
            counters.by_action[action] += 1
            counters.per_second[int(time.time())] += 1
        # A str seed is hashed with SHA-512 (random.seed, version 2): the same on every run and
        # every Python, whatever PYTHONHASHSEED says.
        generator = random.Random(f"{self.seed}/{phase}/{action}/{nth}")
        return counters, Draws(generator, self)

    def admit(self):
        """Takes a token from the account's bucket; False when the account is over its rate."""
        if not self.rate:
            return True
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.refilled) * self.rate)
            self.refilled = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False

    def note(self, counters, what, action=None, how=None):
        with self.lock:
            if what == "forwarded":
                counters.forwarded += 1
            elif what == "lost":
                counters.lost += 1
                counters.lost_by[how] += 1
                counters.lost_actions[action] += 1
            elif what == "replayed":
                counters.replayed += 1
            elif what == "upstream-failed":
                counters.upstream_failed += 1
            else:
                counters.faults[what] += 1
                counters.fault_actions[f"{action} {what}"] += 1

    def lose_first_now(self, action):
        """True once per `--lose-first` action: for its first answer AWS acted on."""
        with self.lock:
            if action in self.lose_first:
                self.lose_first.discard(action)
                return True
            return False

    def stats(self):
        with self.lock:
            total = Counters()
            for counters in self.phases.values():
                total.add(counters)
            answer = total.json()
            answer["lose_first_pending"] = sorted(self.lose_first)
            answer["phase"] = self.phase
            answer["phases"] = {name: c.json() for name, c in self.phases.items()}
            return answer


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = None
    faults = None

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    def do_PATCH(self):
        self.handle_any()

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/eksboot-proxy/"):
            self.request_body = body
            return self.control()
        match = CREDENTIAL.search(self.headers.get("Authorization", ""))
        if not match:
            return self.send(*self.forward(body))
        service = match.group(2)
        faults = self.faults
        action = action_of(service, self.command, self.path, self.headers, body)
        counters, draws = faults.start(action)
        if faults.latency_ms:
            time.sleep(draws.latency)
        if not faults.admit():
            faults.note(counters, "rate-limited", action)
            return self.send(*throttle_answer(service))
        if draws.fault:
            faults.note(counters, draws.kind, action)
            if draws.kind == "throttle":
                return self.send(*throttle_answer(service))
            if draws.kind == "unavailable":
                return self.send(*unavailable_answer(service))
            return self.reset_connection()

        token = idempotency_token(service, body)
        key = ("proxy", service, action, token)
        digest = tokens.canonical(tokens.wire_params(service, self.path, body))
        if token is not None:
            verdict, earlier = faults.answers.recall(key, digest)
            if verdict != tokens.NEW:
                faults.note(counters, "replayed")
                if verdict == tokens.MISMATCH:
                    return self.send(*mismatch_answer(service))
                return self.send(*earlier)
        try:
            answer = self.forward(body)
        except (OSError, http.client.HTTPException):
            # The emulator did not answer: nothing is known to have happened, so this is no
            # lost answer; the caller sees the connection go, as it would.
            faults.note(counters, "upstream-failed")
            return self.reset_connection()
        faults.note(counters, "forwarded")
        if not 200 <= answer[0] < 300:
            # AWS refused: the caller gets the refusal; nothing was done, so nothing is lost.
            return self.send(*answer)
        if token is not None:
            faults.answers.remember(key, digest, answer)
        if faults.lose_first_now(action) or draws.lost:
            # AWS acted and its answer never reaches the caller: a reset before any byte of it
            # is written, or a 500 in its place (AWS's InternalError after acting).
            if draws.lost_by_reset:
                faults.note(counters, "lost", action, "reset")
                return self.reset_connection()
            faults.note(counters, "lost", action, "500")
            return self.send(*internal_answer(service))
        return self.send(*answer)

    def forward(self, body):
        connection = http.client.HTTPConnection(self.upstream, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        connection.request(self.command, self.path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        answer_headers = {
            k: v for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP | {"content-length"}
        }
        connection.close()
        return response.status, answer_headers, data

    def send(self, status, headers, body):
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def reset_connection(self):
        """Closes the connection with a TCP reset, answering nothing."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def control(self):
        if self.path == "/eksboot-proxy/stats":
            body = json.dumps(self.faults.stats()).encode()
        elif self.path == "/eksboot-proxy/reset" and self.command == "POST":
            self.faults.reset()
            body = b"{}"
        elif self.path == "/eksboot-proxy/phase" and self.command == "POST":
            name = self.request_body.decode().strip()
            if not name:
                return self.send(400, {}, b"a phase needs a name")
            self.faults.begin(name)
            body = b"{}"
        else:
            return self.send(404, {}, b"no such control path")
        self.send(200, {"Content-Type": "application/json"}, body)


HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te"}


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A reset connection is the point of some faults, not an error of the proxy.
        if not isinstance(sys.exc_info()[1], (OSError, ValueError)):
            super().handle_error(request, client_address)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--upstream", required=True, help="the emulator, e.g. 127.0.0.1:5000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument(
        "--fault-kinds", default="throttle,unavailable,reset", help="the faults to draw from"
    )
    parser.add_argument("--lost-rate", type=float, default=0.0)
    parser.add_argument("--lose-first", default="")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=float, default=0.0)
    parser.add_argument("--no-stdin-watch", action="store_true")
    args = parser.parse_args()
    Handler.upstream = args.upstream.removeprefix("http://")
    Handler.faults = Faults(args)
    server = Server(("127.0.0.1", 0), Handler)
    if not args.no_stdin_watch:
        threading.Thread(target=exit_when_parent_goes, daemon=True).start()
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


def exit_when_parent_goes():
    sys.stdin.read()
    os._exit(0)


if __name__ == "__main__":
    main()
