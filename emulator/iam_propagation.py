"""IAM's eventual consistency, on by default for every account (issue 25, section 1), installed
by eksboot_moto.py after the IAM enforcement (`install(emulator)`), so its checks run first.

IAM changes take a while to be seen everywhere: "changes are eventually consistent … can take
several seconds" (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency).
Three places where AWS lets it show are modelled, each for EKSBOOT_MOTO_IAM_PROPAGATION_MS
(default 400 ms, read once at start: one server serves every test; a test may set its account's
own with POST /eksboot-moto/iam-propagation-window {"account", "ms"}) after the change, and, AWS
documenting no bound, in the harmful reading: the FIRST such request after the change is always
refused, however late it comes, so every run meets each rule and its retry path runs:

  1. sts:AssumeRole of a role just made (CreateRole) is AccessDenied ("User: P is not authorized
     to perform: sts:AssumeRole on resource: R"): widely reported, "After the creation of a role,
     it cannot be assumed for 10-30 seconds ... the API returns AccessDenied"
     (https://github.com/hashicorp/terraform-provider-aws/issues/6566,
     https://github.com/DataDog/stratus-red-team/pull/358).
  2. kms:CreateKey and kms:PutKeyPolicy with a key policy naming a role or user just made are
     refused with MalformedPolicyDocumentException "Policy contains a statement with one or more
     invalid principals.": "The principals in the key policy must exist and be visible to KMS.
     When you create a new AWS principal, you might need to enforce a delay before including the
     new principal in a key policy" (https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html,
     API_PutKeyPolicy.html; https://repost.aws/knowledge-center/kms-policy-error-invalid-principals).
  3. A request of any service signed by a role session, after that role's permissions changed
     (Put/DeleteRolePolicy, Attach/DetachRolePolicy, Put/DeleteRolePermissionsBoundary), is
     AccessDenied as if the role's new policy were not there yet (the IAM page above).

The harness's own role `x` (tests/e2e/harness.rs; iam_enforce.EXEMPT_ROLE) is the tests'
read-back identity, and what it does stands for the world as it was before the run: requests it
signs are never refused here, and the roles, users and policy changes it makes meet the time
window only, not the first-request rule (a test that sets up a role for eksboot then runs it is
a team whose role was made before: it waits for the window, as on AWS, not for a request).

Every refusal is kept per account, in order, in the IAM log's answer
(`GET /eksboot-moto/iam-log?account=ID` → "propagation": [{"rule", "action", "principal",
"target", "why"}]). A refused request of an account whose IAM is enforced is also in the log's
"requests", with "allowed": false, "propagation": why, and no policy check (IAM evaluated none:
the request was refused before, so `iam_denials()`, which lists failed policy checks, does not
count it); the retried request follows it there as usual.
"""

from __future__ import annotations

import json
import os
import threading
import time
from urllib.parse import unquote

PROPAGATION_SECONDS = float(os.environ.get("EKSBOOT_MOTO_IAM_PROPAGATION_MS", "400")) / 1000.0

KEY_POLICY_MESSAGE = "Policy contains a statement with one or more invalid principals."

_lock = threading.Lock()
# Whether the request this thread serves is signed by the harness's role (one thread per request).
_request = threading.local()


class _Change:
    """One IAM change: when it was made, and whether its first request is still to be refused."""

    __slots__ = ("at", "first_pending")

    def __init__(self, by_harness):
        self.at = time.monotonic()
        self.first_pending = not by_harness


# (account, role name) → the role's CreateRole (rule 1)
_roles_made: dict[tuple, _Change] = {}
# (account, "role" | "user", name) → the principal's creation, as KMS sees it (rule 2)
_principals_made: dict[tuple, _Change] = {}
# (account, role name) → the role's last permissions change (rule 3)
_policy_changed: dict[tuple, _Change] = {}
# account → every refusal, in order
_refusals: dict[str, list] = {}


# account → its own window in seconds, set by a test (POST /eksboot-moto/iam-propagation-window
# {"account", "ms"}): a test that must see the window holds it open for seconds, so nothing
# depends on catching a few hundred milliseconds; 0 leaves the first-request rule alone.
_windows: dict[str, float] = {}


def window(account):
    return _windows.get(str(account), PROPAGATION_SECONDS)


def _unsettled(change, now, seconds):
    """Why `change` is not yet visible (and marks its first request as met), or None."""
    if change is None:
        return None
    age_ms = int((now - change.at) * 1000)
    if age_ms < seconds * 1000:
        change.first_pending = False
        return f"{age_ms} ms after the change (IAM propagates within {int(seconds * 1000)} ms here)"
    if change.first_pending:
        change.first_pending = False
        return f"the first request since the change ({age_ms} ms ago)"
    return None


def refusals(account):
    """Every refusal of `account`'s requests, in order."""
    with _lock:
        return list(_refusals.get(str(account), []))


def _refuse(account, rule, action, principal, target, why):
    entry = {"rule": rule, "action": action, "principal": principal, "target": target, "why": why}
    with _lock:
        _refusals.setdefault(str(account), []).append(entry)
    return entry


def _by_harness():
    return getattr(_request, "harness", False)


# --------------------------------------------------------------------------
# Who signed the request.


def _signer(response):
    """(account, ARN, role name or None) of the request's signer, or None when unsigned."""
    auth = response.headers.get("Authorization") or ""
    if "Credential=" not in auth:
        return None
    from moto.sts.models import sts_backends

    access_key = response.get_access_key()
    sts = sts_backends[response.current_account]["aws"]
    assumed = sts.get_assumed_role_from_access_key(access_key)
    if assumed is not None:
        # arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION
        return assumed.account_id, assumed.arn, assumed.arn.split(":")[5].split("/")[1]
    _, arn, account = sts.get_caller_identity(access_key, response.region)
    return account, arn, None


def _principal_key(arn):
    """(account, "role" | "user", name) of an IAM role or user ARN (its path dropped), or None."""
    if not isinstance(arn, str):
        return None
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam":
        return None
    kind, _, rest = parts[5].partition("/")
    if kind not in ("role", "user") or not rest:
        return None
    return parts[4], kind, rest.split("/")[-1]


# --------------------------------------------------------------------------
# The request hook: rules 1 and 3, before the IAM enforcement evaluates the request.


def _log_refused(account, action, principal, why):
    import iam_enforce

    if account not in iam_enforce._enforced:
        return
    record = {"action": action, "principal": principal, "allowed": False, "checks": [],
              "propagation": why}
    iam_enforce._record(account, record, time.perf_counter())


def check_request(response):
    """Refuses the request `response` serves while IAM has not propagated what it needs."""
    import iam_enforce

    _request.harness = False
    scope = iam_enforce._credential_scope(response.headers)
    if scope is None:
        return
    service = scope[3]
    signer = _signer(response)
    if signer is None:
        return
    _, principal, role = signer
    account = response.current_account
    if role == iam_enforce.EXEMPT_ROLE:
        _request.harness = True
        return
    action = response._get_action()
    if isinstance(action, list):
        action = action[0]
    iam_action = f"{service}:{action}"
    now = time.monotonic()
    if role is not None:
        with _lock:
            why = _unsettled(_policy_changed.get((signer[0], role)), now, window(account))
        if why:
            why = f"the permissions of role {role} changed {why}"
            _refuse(account, "policy-change", iam_action, principal, f"role/{role}", why)
            _log_refused(account, iam_action, principal, why)
            message = (
                f"User: {principal} is not authorized to perform: {iam_action} because no "
                f"identity-based policy allows the {iam_action} action"
            )
            raise iam_enforce.denial(service, message)
    if service == "sts" and action == "AssumeRole":
        role_arn = response._get_param("RoleArn") or ""
        key = _principal_key(role_arn)
        if key is None or key[1] != "role":
            return
        with _lock:
            why = _unsettled(_roles_made.get((key[0], key[2])), now, window(account))
        if why:
            why = f"role {key[2]} was made {why}"
            _refuse(account, "new-role", "sts:AssumeRole", principal, role_arn, why)
            _log_refused(account, "sts:AssumeRole", principal, why)
            message = (
                f"User: {principal} is not authorized to perform: sts:AssumeRole on resource: "
                f"{role_arn}"
            )
            raise iam_enforce.denial("sts", message)


# --------------------------------------------------------------------------
# Rule 2: key policies naming principals KMS cannot see yet.


def _named_principals(policy):
    """The IAM role and user ARNs a key policy names as principals."""
    try:
        document = json.loads(policy) if isinstance(policy, str) else (policy or {})
    except ValueError:
        try:
            document = json.loads(unquote(policy))
        except ValueError:
            return []
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    named = []
    for statement in statements:
        principal = statement.get("Principal") if isinstance(statement, dict) else None
        if not isinstance(principal, dict):
            continue  # "*", or none
        aws = principal.get("AWS", [])
        for arn in [aws] if isinstance(aws, str) else aws:
            if _principal_key(arn) is not None and arn not in named:
                named.append(arn)
    return named


def check_key_policy(account, policy, action):
    """Refuses a key policy naming a principal KMS cannot see yet."""
    from moto.core.exceptions import JsonRESTError

    if policy is None or _by_harness():
        return
    now = time.monotonic()
    unsettled = []
    with _lock:
        for arn in _named_principals(policy):
            why = _unsettled(_principals_made.get(_principal_key(arn)), now, window(account))
            if why:
                unsettled.append(f"{arn} was made {why}")
    if unsettled:
        _refuse(account, "new-principal", action, "", unsettled, "; ".join(unsettled))
        raise JsonRESTError("MalformedPolicyDocumentException", KEY_POLICY_MESSAGE)


# --------------------------------------------------------------------------
# What IAM changes, recorded as it changes.


def _arg(args, kwargs, name, index):
    if name in kwargs:
        return kwargs[name]
    return args[index] if len(args) > index else None


def _install_iam():
    from moto.iam.models import IAMBackend

    create_role = IAMBackend.create_role

    def recording_create_role(self, *args, **kwargs):
        role = create_role(self, *args, **kwargs)
        with _lock:
            _roles_made[(self.account_id, role.name)] = _Change(_by_harness())
            _principals_made[(self.account_id, "role", role.name)] = _Change(_by_harness())
            _policy_changed.pop((self.account_id, role.name), None)
        return role

    IAMBackend.create_role = recording_create_role

    create_user = IAMBackend.create_user

    def recording_create_user(self, *args, **kwargs):
        result = create_user(self, *args, **kwargs)
        user = result[0] if isinstance(result, tuple) else result
        with _lock:
            _principals_made[(self.account_id, "user", user.name)] = _Change(_by_harness())
        return result

    IAMBackend.create_user = recording_create_user

    def forgetting(name, kind, index):
        original = getattr(IAMBackend, name)

        def forget(self, *args, **kwargs):
            result = original(self, *args, **kwargs)
            who = _arg(args, kwargs, f"{kind}_name", index)
            with _lock:
                _principals_made.pop((self.account_id, kind, who), None)
                if kind == "role":
                    _roles_made.pop((self.account_id, who), None)
                    _policy_changed.pop((self.account_id, who), None)
            return result

        setattr(IAMBackend, name, forget)

    forgetting("delete_role", "role", 0)
    forgetting("delete_user", "user", 0)

    def recording_change(name, index):
        original = getattr(IAMBackend, name)

        def changed(self, *args, **kwargs):
            result = original(self, *args, **kwargs)
            role = _arg(args, kwargs, "role_name", index)
            with _lock:
                _policy_changed[(self.account_id, role)] = _Change(_by_harness())
            return result

        setattr(IAMBackend, name, changed)

    # Where the role name stands among each method's positional arguments (moto 5.2.5).
    for name, index in (
        ("put_role_policy", 0),
        ("delete_role_policy", 0),
        ("attach_role_policy", 1),
        ("detach_role_policy", 1),
        ("put_role_permissions_boundary", 0),
        ("delete_role_permissions_boundary", 0),
    ):
        recording_change(name, index)


def _install_kms():
    from moto.kms.models import KmsBackend

    create_key = KmsBackend.create_key
    put_key_policy = KmsBackend.put_key_policy

    def checked_create_key(self, *args, **kwargs):
        check_key_policy(self.account_id, _arg(args, kwargs, "policy", 0), "kms:CreateKey")
        return create_key(self, *args, **kwargs)

    def checked_put_key_policy(self, *args, **kwargs):
        check_key_policy(self.account_id, _arg(args, kwargs, "policy", 1), "kms:PutKeyPolicy")
        return put_key_policy(self, *args, **kwargs)

    KmsBackend.create_key = checked_create_key
    KmsBackend.put_key_policy = checked_put_key_policy


def _install_log():
    """The refusals, in the IAM log's answer (iam_enforce serves it)."""
    import iam_enforce

    control = iam_enforce.control

    def with_refusals(path, body, query=""):
        answer = control(path, body, query)
        if answer is None:
            return None
        status, content = answer
        if path == "/eksboot-moto/iam-log" and status == 200:
            from urllib.parse import parse_qs

            account = body.get("account") or (parse_qs(query).get("account") or [""])[0]
            content = dict(content, propagation=refusals(account))
        elif path == "/eksboot-moto/iam-log-reset" and status == 200:
            with _lock:
                _refusals.pop(str(body["account"]), None)
        return status, content

    iam_enforce.control = with_refusals


_installed = False


def _install_control(emulator):
    """POST /eksboot-moto/iam-propagation-window {"account", "ms"}, beside eksboot_moto's own
    control endpoints (`emulator` is eksboot_moto)."""
    control = emulator._control

    def with_window(path, body):
        if path == "/eksboot-moto/iam-propagation-window":
            with _lock:
                _windows[str(body["account"])] = float(body["ms"]) / 1000.0
            return True
        return control(path, body)

    emulator._control = with_window


def install(emulator):
    """Records IAM's changes, checks every request before the IAM enforcement does (installed
    after it, this wrapper runs first), and checks KMS key policies."""
    global _installed
    if _installed:
        return
    _installed = True
    _install_control(emulator)
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import IAMRequest

    _install_iam()
    _install_kms()
    _install_log()
    authorize = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def propagating(self, iam_request_cls, resource="*"):
        if iam_request_cls is IAMRequest:
            check_request(self)
        return authorize(self, iam_request_cls, resource)

    ActionAuthenticatorMixin._authenticate_and_authorize_action = propagating
