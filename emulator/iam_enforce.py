"""IAM enforcement for the emulator, per account, with resources and conditions, as AWS does it.

An account a test turns on (`POST /eksboot-moto/enforce-iam {"account": ID, "on": true}`) has
every request it receives authorized the way AWS authorizes it
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):

* the caller is the IAM user that owns the access key, or the role session that signed it
  (principal `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`, `aws:PrincipalArn` the role);
  the request must be signed with that principal's secret (moto's SigV4 check, with the raw-body
  fix of eksboot_moto.py);
* its identity policies (inline, attached managed at their default version, and a user's
  groups'), and its permissions boundary, come from moto's IAM as they stand now;
* `iam_context.checks_for` names every (action, resource, condition keys) AWS evaluates for
  the request, the checks AWS makes as the caller on its behalf included, with the resource
  policy (a KMS key policy, a role's trust policy) where one applies;
* the global condition keys AWS adds to every request context are added here
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html);
* every check goes, in one message, to a long-running IAM evaluator (tests/iam/evaluate.mjs,
  @cloud-copilot/iam-simulate with the Service Authorization Reference as data), started at
  the first enforced request from the path in EKSBOOT_IAM_EVALUATOR; all must be Allowed.
  EKSBOOT_IAM_EVALUATOR=builtin evaluates them in process instead (iam_builtin.py, the same
  protocol in Python's standard library), for `eksboot --sandbox`, where Node may be missing.

A denial answers in the service's own error shape with AWS's wording ("User: P is not
authorized to perform: A on resource: R because no identity-based policy allows the A action"),
followed by which statement or condition did not match. A request the table does not know, or
that the evaluator cannot evaluate (an unknown action, a resource or condition key the action
does not take), is denied too, so a new call or a wrong table entry cannot pass unseen.

Not evaluated: accounts not turned on (many tests share one server); the harness's own role `x`
(its read-back identity); sts:GetCallerIdentity, which needs no permission
(https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html); unsigned
requests (AssumeRoleWithWebIdentity carries no AWS identity). Every evaluation is logged per
account (`GET /eksboot-moto/iam-log?account=ID`, `POST /eksboot-moto/iam-log-reset`).

It also gives moto iam:SimulateCustomPolicy, answered by the same evaluator.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import threading
import time
import uuid
from urllib.parse import parse_qs

ENV_EVALUATOR = "EKSBOOT_IAM_EVALUATOR"
# The value of ENV_EVALUATOR that selects the in-process Python evaluator (iam_builtin.py).
BUILTIN_EVALUATOR = "builtin"
# The harness's own identity in each account (tests/e2e/harness.rs): never evaluated.
EXEMPT_ROLE = "x"

_enforced: set[str] = set()
_log: dict[str, list] = {}
_log_lock = threading.Lock()


class EvaluatorUnavailable(Exception):
    pass


# --------------------------------------------------------------------------
# The evaluator process: one per emulator, asked under a lock (moto serves each request in a
# thread of its own); one JSON line out, one JSON line back.


class _Evaluator:
    def __init__(self):
        self._lock = threading.Lock()
        self._proc = None
        self._next_id = 0

    def _start(self):
        path = os.environ.get(ENV_EVALUATOR)
        if not path:
            raise EvaluatorUnavailable(
                f"{ENV_EVALUATOR} is not set: the emulator cannot evaluate IAM (the harness sets it "
                "to target/tmp/iam-eval/evaluate.mjs after `npm ci` there; the sandbox to "
                f"`{BUILTIN_EVALUATOR}`)"
            )
        if not os.path.isfile(path):
            raise EvaluatorUnavailable(f"{ENV_EVALUATOR}={path}: no such file")
        self._proc = subprocess.Popen(
            ["node", path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=os.path.dirname(os.path.abspath(path)),
            text=True,
            bufsize=1,
        )

    def ask(self, checks: list) -> list:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._start()
            self._next_id += 1
            request_id = self._next_id
            try:
                self._proc.stdin.write(json.dumps({"id": request_id, "checks": checks}) + "\n")
                self._proc.stdin.flush()
                line = self._proc.stdout.readline()
            except (BrokenPipeError, OSError) as error:
                line = ""
                failure = str(error)
            else:
                failure = f"exit status {self._proc.poll()}"
            if not line:
                self._proc = None
                raise EvaluatorUnavailable(f"the IAM evaluator stopped ({failure})")
            answer = json.loads(line)
            if answer.get("id") != request_id or len(answer.get("results", [])) != len(checks):
                raise EvaluatorUnavailable(f"the IAM evaluator answered out of turn: {line[:200]}")
            return answer["results"]


_evaluator = _Evaluator()


def evaluate(checks: list) -> list:
    """Send raw checks (dicts of the evaluator's protocol) and get its results: from the Node
    evaluator, or in process when EKSBOOT_IAM_EVALUATOR is `builtin`."""
    if os.environ.get(ENV_EVALUATOR) == BUILTIN_EVALUATOR:
        import iam_builtin

        return iam_builtin.evaluate(checks)
    return _evaluator.ask(checks)


# --------------------------------------------------------------------------
# Control API.


def control(path: str, body: dict, query: str = ""):
    """The enforcement's control endpoints. Returns None for a path that is not one of them,
    else (HTTP status, JSON-able answer)."""
    if path == "/eksboot-moto/enforce-iam":
        account = str(body["account"])
        if body.get("on", True):
            if not os.environ.get(ENV_EVALUATOR):
                return 400, {
                    "error": f"cannot enforce IAM in account {account}: {ENV_EVALUATOR} is not set "
                    "in the emulator's environment (the path of tests/iam/evaluate.mjs, installed "
                    f"with `npm ci` beside it, or `{BUILTIN_EVALUATOR}` for the in-process evaluator)"
                }
            _enforced.add(account)
        else:
            _enforced.discard(account)
        return 200, {"account": account, "on": account in _enforced}
    if path == "/eksboot-moto/iam-log":
        account = body.get("account") or (parse_qs(query).get("account") or [""])[0]
        with _log_lock:
            return 200, {"requests": list(_log.get(str(account), []))}
    if path == "/eksboot-moto/iam-log-reset":
        with _log_lock:
            _log.pop(str(body["account"]), None)
        return 200, {"account": str(body["account"])}
    return None


def wsgi(app):
    """WSGI middleware serving the control endpoints above, in front of `app`."""

    def middleware(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path in ("/eksboot-moto/enforce-iam", "/eksboot-moto/iam-log", "/eksboot-moto/iam-log-reset"):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
                status, answer = control(path, body, environ.get("QUERY_STRING", ""))
            except (ValueError, KeyError) as error:
                status, answer = 400, {"error": f"bad control request: {error!r}"}
            text = {200: "200 OK", 400: "400 Bad Request"}.get(status, f"{status} Error")
            start_response(text, [("Content-Type", "application/json")])
            return [json.dumps(answer).encode()]
        return app(environ, start_response)

    return middleware


def _record(account, entry, started):
    entry["ms"] = round((time.perf_counter() - started) * 1000, 2)
    with _log_lock:
        _log.setdefault(account, []).append(entry)


# --------------------------------------------------------------------------
# Denials in each service's own error shape. Raised from moto's authorization step, which
# answers any werkzeug HTTPException with its description and code.

from werkzeug.exceptions import HTTPException  # noqa: E402

QUERY_NAMESPACES = {
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
}
# awsQuery services: AccessDenied in <ErrorResponse>, HTTP 403.
QUERY_SERVICES = {"iam", "sts", "elasticloadbalancing", "autoscaling", "cloudformation", "sns", "sqs"}


def _xml_escape(text):
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


class Denied(HTTPException):
    def __init__(self, status, body):
        super().__init__()
        self.code = status
        self.description = body


def denial(service, message, elb_version=None):
    """AccessDenied as `service` answers it."""
    request_id = str(uuid.uuid4())
    if service == "ec2":
        # EC2: UnauthorizedOperation, HTTP 403
        # (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html).
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            "<Code>UnauthorizedOperation</Code>"
            f"<Message>You are not authorized to perform this operation. {_xml_escape(message)}</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
        return Denied(403, body)
    if service == "s3":
        # S3 (REST-XML): AccessDenied in a bare <Error>, HTTP 403
        # (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html), raised as moto's
        # own S3 error so its S3 handler renders it.
        from moto.s3.exceptions import S3ClientError

        return S3ClientError("AccessDenied", message)
    if service in QUERY_SERVICES:
        namespace = QUERY_NAMESPACES.get(service)
        if service == "elasticloadbalancing":
            namespace = f"http://elasticloadbalancing.amazonaws.com/doc/{elb_version or '2015-12-01'}/"
        xmlns = f' xmlns="{namespace}"' if namespace else ""
        body = (
            f'<ErrorResponse{xmlns}><Error><Type>Sender</Type><Code>AccessDenied</Code>'
            f"<Message>{_xml_escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return Denied(403, body)
    # JSON protocols: EKS (restJson1) answers 403, the awsJson services (KMS, CloudWatch Logs,
    # Service Quotas) 400, each with the type AccessDeniedException.
    status = 403 if service == "eks" else 400
    return Denied(status, json.dumps({"__type": "AccessDeniedException", "message": message}))


# --------------------------------------------------------------------------
# The principal and its policies, from moto's IAM.


def _doc(document):
    return json.loads(document) if isinstance(document, str) else document


def _default_version(policy):
    return _doc(next(v for v in policy.versions if v.is_default).document)


def _tags_of(tags):
    out = {}
    for tag in tags or []:
        out[tag["Key"]] = tag.get("Value", "")
    return out


class Principal:
    """Who signed the request, as IAM evaluates it."""

    def __init__(self, arn, principal_arn, kind, userid, username, policies, boundary, tags):
        self.arn = arn  # the request's principal (the session ARN for a role session)
        self.principal_arn = principal_arn  # aws:PrincipalArn (the role for a session)
        self.kind = kind  # aws:PrincipalType
        self.userid = userid
        self.username = username
        self.policies = policies  # [{"name", "policy"}]
        self.boundary = boundary  # [{"name", "policy"}] or None
        self.tags = tags


def _boundary(backend, arn):
    if not arn:
        return None
    try:
        return [{"name": arn.split("/")[-1], "policy": _default_version(backend.get_policy(arn))}]
    except Exception:
        # A boundary whose policy IAM no longer holds allows nothing.
        return [{"name": f"{arn} (missing)", "policy": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Action": "*", "Resource": "*"}]}}]


def _managed(policies):
    return [{"name": p.name, "policy": _default_version(p)} for p in policies]


def _inline(owner, policies):
    return [{"name": f"{owner} inline {name}", "policy": _doc(doc)} for name, doc in policies.items()]


def resolve_principal(access_key, backend):
    """The Principal behind moto's access key object, or None for the exempt role `x`."""
    if hasattr(access_key, "_owner_role_name"):
        role_name = access_key._owner_role_name
        if role_name == EXEMPT_ROLE:
            return None
        session = access_key._session_name
        try:
            role = backend.get_role(role_name)
        except Exception:
            # The role is gone: its sessions hold no permissions.
            arn = access_key.arn
            return Principal(arn, f"arn:{access_key.partition}:iam::{access_key.account_id}:role/{role_name}",
                             "AssumedRole", f"AROAGONE:{session}", None, [], None, {})
        policies = _inline(f"role/{role.name}", role.policies) + _managed(role.managed_policies.values())
        return Principal(
            access_key.arn, role.arn, "AssumedRole", f"{role.id}:{session}", None, policies,
            _boundary(backend, role.permissions_boundary_arn), _tags_of(role.tags),
        )
    user = backend.get_user(access_key._owner_user_name)
    policies = _inline(f"user/{user.name}", user.policies) + _managed(user.managed_policies.values())
    for group in backend.get_groups_for_user(user.name):
        policies += _inline(f"group/{group.name}", group.policies)
        policies += _managed(group.managed_policies.values())
    return Principal(
        user.arn, user.arn, "User", user.id, user.name, policies,
        _boundary(backend, getattr(user, "permissions_boundary_arn", None)), _tags_of(user.tags),
    )


def _mentions_time(*documents):
    text = json.dumps(documents).lower()
    return "aws:currenttime" in text or "aws:epochtime" in text


def global_keys(principal, account, region, direct, with_time):
    """The keys AWS puts in every request context
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html).
    The clock keys only when a policy of the check reads them: without them, identical checks
    (a wait loop's polls) are identical messages, which the evaluator answers from its cache."""
    keys = {
        "aws:PrincipalArn": principal.principal_arn,
        "aws:PrincipalAccount": account,
        "aws:PrincipalType": principal.kind,
        "aws:userid": principal.userid,
        "aws:RequestedRegion": region,
        # The SDKs reach AWS over TLS only; the emulator's plain HTTP stands for it.
        "aws:SecureTransport": "true",
    }
    if with_time:
        now = datetime.datetime.now(datetime.timezone.utc)
        keys["aws:CurrentTime"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        keys["aws:EpochTime"] = str(int(now.timestamp()))
    if principal.username:
        keys["aws:username"] = principal.username
    for key, value in principal.tags.items():
        keys[f"aws:PrincipalTag/{key}"] = value
    if direct:
        # A call the principal makes itself, not one a service makes with its credentials.
        keys["aws:ViaAWSService"] = "false"
    return keys


# --------------------------------------------------------------------------
# The hook.


def _credential_scope(headers):
    auth = headers.get("Authorization") or ""
    if "Credential=" not in auth:
        return None
    scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
    return scope if len(scope) >= 4 else None


def _why_suffix(service, action, why):
    return f" (checked by {service} at {action}: {why})" if why else ""


def _because(explain, result):
    if result == "Error":
        return f"because the emulator cannot evaluate it: {explain}"
    return explain if explain.startswith("with ") else f"because {explain}"


def enforce(response, iam_request_cls=None):
    """Authorize the request `response` (a moto BaseResponse) serves, if its account enforces
    IAM. Raises the service's AccessDenied on denial."""
    account = response.current_account
    if account not in _enforced:
        return
    started = time.perf_counter()
    scope = _credential_scope(response.headers)
    if scope is None:
        return
    region, service = scope[2], scope[3]
    action = response._get_action()
    if isinstance(action, list):
        action = action[0]
    if service == "sts" and action == "GetCallerIdentity":
        return

    from moto.iam.access_control import IAMRequest
    from moto.utilities.utils import get_partition

    # moto's own request object resolves the key (InvalidClientTokenId, or EC2's AuthFailure,
    # for a key the account does not hold) and checks the SigV4 signature.
    path = response.raw_path
    if response.parsed_url.query:
        path += "?" + response.parsed_url.query
    iam_request = (iam_request_cls or IAMRequest)(
        account_id=account,
        method=response.method,
        path=path,
        data=response.data,
        body=response.raw_body,
        headers=response.headers,
        action=action,
    )
    iam_request.check_signature()
    from moto.iam.models import iam_backends

    backend = iam_backends[account][get_partition(region)]
    principal = resolve_principal(iam_request._access_key, backend)
    if principal is None:
        return

    import iam_context

    elb_version = (response.querystring.get("Version") or [None])[0] if service == "elasticloadbalancing" else None
    record = {"action": f"{service}:{action}", "principal": principal.arn, "allowed": False, "checks": []}
    try:
        checks = iam_context.checks_for(response, service, action, principal.arn, account, region)
    except iam_context.UnknownAction:
        explain = (
            f"eksboot emulator: no authorization context for {service}:{action}; "
            "add it to emulator/iam_context.py"
        )
        record["checks"].append({"action": f"{service}:{action}", "resource": "*", "result": "Error",
                                 "explain": explain, "why": ""})
        _record(account, record, started)
        raise denial(service, explain, elb_version)
    except HTTPException:
        raise
    except Exception as error:  # a bug of the table: loud, never a silent allow
        explain = (
            f"eksboot emulator: building the authorization context of {service}:{action} failed: "
            f"{type(error).__name__}: {error}"
        )
        record["checks"].append({"action": f"{service}:{action}", "resource": "*", "result": "Error",
                                 "explain": explain, "why": ""})
        _record(account, record, started)
        raise denial(service, explain, elb_version)

    requests = []
    principal_reads_time = _mentions_time(principal.policies, principal.boundary)
    for check in checks:
        with_time = principal_reads_time or (
            check.resource_policy is not None and _mentions_time(check.resource_policy)
        )
        context = global_keys(principal, account, region, not check.why, with_time)
        context.update(check.context or {})
        requests.append({
            "principal": principal.arn,
            "action": check.action,
            "resource": check.resource,
            "account": account,
            "context": context,
            "identityPolicies": principal.policies,
            "permissionBoundaries": principal.boundary,
            "resourcePolicy": check.resource_policy,
        })
    asked = time.perf_counter()
    try:
        results = evaluate(requests) if requests else []
        record["evaluator_ms"] = round((time.perf_counter() - asked) * 1000, 2)
    except EvaluatorUnavailable as error:
        explain = f"eksboot emulator: {error}"
        record["checks"].append({"action": f"{service}:{action}", "resource": "*", "result": "Error",
                                 "explain": explain, "why": ""})
        _record(account, record, started)
        raise denial(service, explain, elb_version)

    first_denied = None
    for check, result in zip(checks, results):
        record["checks"].append({
            "action": check.action,
            "resource": check.resource,
            "result": result["result"],
            "explain": result.get("explain", ""),
            "why": check.why,
        })
        if result["result"] != "Allowed" and first_denied is None:
            first_denied = (check, result)
    record["allowed"] = first_denied is None
    _record(account, record, started)
    if first_denied is not None:
        check, result = first_denied
        message = (
            f"User: {principal.arn} is not authorized to perform: {check.action} on resource: "
            f"{check.resource} {_because(result.get('explain', ''), result['result'])}"
            f"{_why_suffix(service, action, check.why)}"
        )
        raise denial(service, message, elb_version)


# --------------------------------------------------------------------------
# iam:SimulateCustomPolicy, which moto lacks
# (https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulateCustomPolicy.html): one
# EvaluationResult per action, its EvalDecision the most restrictive over the resources, each
# resource's own decision under ResourceSpecificResults when ResourceArns are given (IAM's
# current shape, https://docs.aws.amazon.com/IAM/latest/APIReference/API_EvaluationResult.html),
# and whether the permissions boundary alone allows the action when one is given. Context
# entries the action does not take are ignored, as IAM's simulator ignores them.

DECISIONS = {"Allowed": "allowed", "ExplicitlyDenied": "explicitDeny", "ImplicitlyDenied": "implicitDeny"}
RESTRICTIVENESS = ["allowed", "implicitDeny", "explicitDeny"]


def _context_entries(entries):
    context = {}
    for entry in entries or []:
        values = entry.get("ContextKeyValues") or []
        kind = entry.get("ContextKeyType") or "string"
        context[entry["ContextKeyName"]] = list(values) if kind.endswith("List") else (values[0] if values else "")
    return context


def simulate_custom_policy(self):
    from moto.core.responses import ActionResult
    from moto.iam.exceptions import InvalidInput

    account = self.current_account
    partition = self.partition
    policies = [{"name": f"PolicyInputList.{i + 1}", "policy": _doc(p)}
                for i, p in enumerate(self._get_param("PolicyInputList") or [])]
    boundaries = [{"name": f"PermissionsBoundaryPolicyInputList.{i + 1}", "policy": _doc(p)}
                  for i, p in enumerate(self._get_param("PermissionsBoundaryPolicyInputList") or [])]
    actions = self._get_param("ActionNames") or []
    resources = self._get_param("ResourceArns") or []
    context = _context_entries(self._get_param("ContextEntries"))
    resource_policy = self._get_param("ResourcePolicy")
    owner = self._get_param("ResourceOwner")
    caller = self._get_param("CallerArn") or f"arn:{partition}:iam::{account}:user/SimulatedCaller"
    resource_account = owner.split(":")[4] if owner and owner.startswith("arn:") else (owner or account)

    def check(action, resource, identity, boundary):
        return {
            "principal": caller,
            "action": action,
            "resource": resource,
            "account": resource_account,
            "context": context,
            "identityPolicies": identity,
            "permissionBoundaries": boundary,
            "resourcePolicy": _doc(resource_policy) if resource_policy else None,
            "ignoreUnknownContext": True,
        }

    targets = resources or ["*"]
    requests = []
    for action in actions:
        for resource in targets:
            requests.append(check(action, resource, policies, boundaries or None))
            if boundaries:
                requests.append(check(action, resource, boundaries, None))
    try:
        results = evaluate(requests)
    except EvaluatorUnavailable as error:
        raise InvalidInput(f"eksboot emulator: {error}")
    per = 2 if boundaries else 1
    evaluation = []
    index = 0
    for action in actions:
        specific = []
        boundary_allows = True
        for resource in targets:
            outcome = results[index]
            if outcome["result"] == "Error":
                raise InvalidInput(f"{action} on {resource}: {outcome['explain']}")
            if boundaries:
                boundary_allows = boundary_allows and results[index + 1]["result"] == "Allowed"
            specific.append({
                "EvalResourceName": resource,
                "EvalResourceDecision": DECISIONS[outcome["result"]],
                "MatchedStatements": [],
                "MissingContextValues": [],
            })
            index += per
        decision = max((s["EvalResourceDecision"] for s in specific), key=RESTRICTIVENESS.index)
        result = {
            "EvalActionName": action,
            "EvalResourceName": targets[0] if len(targets) == 1 else "*",
            "EvalDecision": decision,
            "MatchedStatements": [],
            "MissingContextValues": [],
        }
        if resources:
            result["ResourceSpecificResults"] = specific
        if boundaries:
            result["PermissionsBoundaryDecisionDetail"] = {"AllowedByPermissionsBoundary": boundary_allows}
        evaluation.append(result)
    return ActionResult({"EvaluationResults": evaluation, "IsTruncated": False})


# --------------------------------------------------------------------------
# Installation.

_installed = False


def install():
    """Hook the enforcement into moto's authorization step, which every service passes with
    its action and parsed parameters known (BaseResponse.call_action, before the operation
    runs; EKS's override in eksboot_moto.py ends in it too), and add SimulateCustomPolicy."""
    global _installed
    if _installed:
        return
    _installed = True
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.responses import IamResponse

    original = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def authorize(self, iam_request_cls, resource="*"):
        from moto.iam.access_control import IAMRequest, S3IAMRequest

        # S3 has its own request class (its signature rules); eksboot keeps shared states there.
        if iam_request_cls is IAMRequest or iam_request_cls is S3IAMRequest:
            enforce(self, iam_request_cls)
        return original(self, iam_request_cls, resource)

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authorize
    IamResponse.simulate_custom_policy = simulate_custom_policy
