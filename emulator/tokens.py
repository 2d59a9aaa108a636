"""Client request tokens, remembered as AWS does: per account, service, action and token.

EC2 (`ClientToken`) and EKS (`clientRequestToken`) take a caller-chosen token so a request can be
repeated safely. What the emulator models, shared by the emulator (`install()`) and the fault
proxy (`fault_proxy.py`):

  * a repeat with the same token and the same parameters is answered with the first call's
    result, and acts no second time
    (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html);
  * a repeat with other parameters: EC2 documents IdempotentParameterMismatch (same page);
    EKS documents nothing
    (https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateNodegroupConfig.html says only
    "A unique, case-sensitive identifier that you provide to ensure the idempotency of the
    request"), so the emulator takes the harmful reading: the first call's result, unchanged,
    and nothing done (a reused token then visibly changes nothing);
  * only a successful answer is remembered: a failed request can be retried with its token.

Tokens are kept per account: another account's identical token is another request.
"""

import hashlib
import json
import threading
import urllib.parse

# The parameter each service's requests carry their token in.
TOKEN_PARAMETER = {"ec2": "ClientToken", "eks": "clientRequestToken"}

NEW = "new"
REPLAY = "replay"
MISMATCH = "mismatch"


def canonical(params):
    """The request's parameters (its token left out) as one digest: the same content, whatever
    the order of keys, the same digest."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def on_mismatch(service):
    """What a repeat with other parameters gets: EC2's documented error, or (EKS, undocumented)
    the first call's result."""
    return MISMATCH if service == "ec2" else REPLAY


class Memory:
    """The tokens seen, each with the digest of its request's parameters and its first answer."""

    def __init__(self):
        self.lock = threading.Lock()
        self.answers = {}  # (account, service, action, token) -> (digest, answer)
        self.in_flight = {}  # key -> lock held while the first request with it runs

    def reset(self):
        with self.lock:
            self.answers.clear()

    def recall(self, key, digest):
        """(NEW, None) for an unseen token, else (REPLAY, answer) or (MISMATCH, answer)."""
        service = key[1]
        with self.lock:
            earlier = self.answers.get(key)
        if earlier is None:
            return NEW, None
        if earlier[0] == digest:
            return REPLAY, earlier[1]
        return on_mismatch(service), earlier[1]

    def remember(self, key, digest, answer):
        """Keeps the first successful answer of a token."""
        with self.lock:
            self.answers.setdefault(key, (digest, answer))

    def guard(self, key):
        """A lock per token: two requests with the same token are answered one after the other,
        so the second sees the first's answer."""
        with self.lock:
            return self.in_flight.setdefault(key, threading.Lock())


def wire_params(service, path, body):
    """A raw request's parameters, its token left out (for the fault proxy): EC2's form, or
    EKS's JSON body with its path (which names the cluster, node group or add-on)."""
    if service == "ec2":
        form = urllib.parse.parse_qs(body.decode(errors="replace"), keep_blank_values=True)
        form.pop(TOKEN_PARAMETER["ec2"], None)
        return {"form": form}
    try:
        payload = json.loads(body) if body else {}
    except ValueError:
        payload = {"raw": body.decode(errors="replace")}
    if isinstance(payload, dict):
        payload.pop(TOKEN_PARAMETER.get(service, ""), None)
    return {"path": path.split("?")[0], "body": payload}


def wire_token(service, body):
    """The token of a raw request, or None."""
    if service == "ec2":
        form = urllib.parse.parse_qs(body.decode(errors="replace"))
        return form.get("ClientToken", [None])[0]
    if service == "eks" and body:
        try:
            return json.loads(body).get("clientRequestToken")
        except (ValueError, AttributeError):
            return None
    return None


# --------------------------------------------------------------------------
# The emulator's hook: moto answers every request through `BaseResponse.call_action`, which
# looks the action's handler up on the response object. For a request carrying a token, the
# handler is wrapped (on that request's own object, one per request) so a repeat is answered
# from memory, after moto's authorization like any call.

MEMORY = Memory()
_installed = False


def _request_params(response, service):
    """The parameters of the request moto is answering, its token left out."""
    if service == "ec2":
        params = {k: v for k, v in response.querystring.items() if k != "ClientToken"}
        return {"form": params}
    try:
        body = json.loads(response.body) if response.body else {}
    except (ValueError, TypeError):
        body = {"raw": str(response.body)}
    if isinstance(body, dict):
        body.pop("clientRequestToken", None)
    path = urllib.parse.urlparse(getattr(response, "uri", "") or "").path
    return {"path": path, "body": body}


def _token_of(response, service):
    if service == "ec2":
        values = response.querystring.get("ClientToken") or [None]
        return values[0]
    try:
        body = json.loads(response.body) if response.body else {}
    except (ValueError, TypeError):
        return None
    return body.get("clientRequestToken") if isinstance(body, dict) else None


def _failed(result):
    """Whether a handler's result is an error answer (only successes are remembered)."""
    if isinstance(result, tuple) and len(result) >= 2:
        headers = result[-2] if len(result) == 3 else result[1]
        status = result[0] if len(result) == 3 and isinstance(result[0], int) else None
        if status is None and isinstance(headers, dict):
            status = headers.get("status", 200)
        try:
            return int(status or 200) >= 300
        except (TypeError, ValueError):
            return False
    return False


def _mismatch_error(service):
    if service == "ec2":
        from moto.ec2.exceptions import EC2ClientError

        return EC2ClientError(
            "IdempotentParameterMismatch",
            "The client token you have provided is associated with a resource that is already "
            "deleted or has different parameters.",
        )
    raise AssertionError(f"{service} documents no mismatch error")


def install():
    """Makes moto remember client request tokens (idempotent: installs once)."""
    global _installed
    if _installed:
        return
    _installed = True
    from moto.core.responses import BaseResponse
    from moto.core.utils import camelcase_to_underscores

    original = BaseResponse.call_action

    def call_action(self):
        service = getattr(self, "service_name", None)
        if service not in TOKEN_PARAMETER:
            return original(self)
        token = _token_of(self, service)
        if token is None:
            return original(self)
        action = self._get_action()
        handler_name = camelcase_to_underscores(action)
        handler = getattr(self, handler_name, None)
        if handler is None:
            return original(self)
        key = (self.current_account, service, action, token)
        digest = canonical(_request_params(self, service))

        def remembering():
            with MEMORY.guard(key):
                verdict, answer = MEMORY.recall(key, digest)
                if verdict == REPLAY:
                    return answer
                if verdict == MISMATCH:
                    raise _mismatch_error(service)
                result = handler()
                if not _failed(result):
                    MEMORY.remember(key, digest, result)
                return result

        # An attribute of this request's response object shadows the class's handler.
        setattr(self, handler_name, remembering)
        return original(self)

    BaseResponse.call_action = call_action

    # `POST /moto-api/reset` forgets every token, like every other state.
    from moto.moto_api._internal.models import moto_api_backend

    reset = type(moto_api_backend).reset

    def reset_and_forget(self, *args, **kwargs):
        MEMORY.reset()
        return reset(self, *args, **kwargs)

    type(moto_api_backend).reset = reset_and_forget
