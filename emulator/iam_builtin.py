"""IAM policy evaluation in Python, for the sandbox, where only python3 is sure to be installed.

`evaluate(checks)` answers the protocol of tests/iam/evaluate.mjs (the Node evaluator the tests
use, @cloud-copilot/iam-simulate), in process and with the standard library only:

  check:  {"principal", "action", "resource", "account", "context", "identityPolicies",
           "permissionBoundaries", "resourcePolicy", "ignoreUnknownContext"?}
  answer: {"result": "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied" | "Error",
           "explain": "which statement decided, or why none allowed"}

AWS's evaluation logic
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html),
as evaluate.mjs applies it:

* an explicit Deny in any applicable policy (identity, permissions boundary, resource) wins;
* within the account, the request is allowed when an identity policy allows it, or the
  resource policy allows this principal by name; a permissions boundary, when present, must
  allow too, unless a same-account resource policy names the principal's own ARN
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html);
* a KMS key's policy must allow every use of the key: by naming the principal, or by naming the
  account (`arn:aws:iam::ACCOUNT:root`), which lets IAM policies count
  (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html);
* a role's trust policy at sts:AssumeRole* is the same: naming the principal is enough, naming
  the account lets the caller's identity policies decide
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_compare-resource-policies.html);
* across accounts both sides must allow.

What it cannot do without the Service Authorization Reference, which evaluate.mjs has as data:
answer Error for an unknown action, for a resource of none of the action's types, or for a
context key the action does not take (iam_context's own tests check those against the
reference), and read a context key's type from it (here a list in the context is a multivalued
key, anything else single-valued). Where it differs on purpose, it follows AWS's documentation
and denies: an unknown condition operator or a malformed policy is an Error; `${...}` is a
policy variable only in a policy of Version 2012-10-17
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html); ARNs are
matched case-sensitively in all their parts; epoch dates are seconds.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache

ALLOWED = "Allowed"
IMPLICIT = "ImplicitlyDenied"
EXPLICIT = "ExplicitlyDenied"
ERROR = "Error"

# How many statements that name the action but did not apply an explanation lists.
MAX_NEAR_MISSES = 3

VARIABLES_VERSION = "2012-10-17"
VERSIONS = ("2012-10-17", "2008-10-17")
POLICY_KEYS = {"Version", "Statement", "Id"}
STATEMENT_KEYS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal",
                  "NotPrincipal", "Condition"}
PRINCIPAL_TYPES = {"AWS", "Service", "Federated", "CanonicalUser"}

POLICY_KIND = {
    "identity": "identity-based policy",
    "pb": "permissions boundary",
    "resource": "resource-based policy",
}

# The condition operators AWS documents
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html),
# lowercase, each negated one with the positive operator it negates.
POSITIVE_OPERATORS = {
    "stringequals", "stringequalsignorecase", "stringlike",
    "numericequals", "numericlessthan", "numericlessthanequals", "numericgreaterthan",
    "numericgreaterthanequals",
    "dateequals", "datelessthan", "datelessthanequals", "dategreaterthan", "dategreaterthanequals",
    "bool", "binaryequals", "ipaddress", "arnequals", "arnlike",
}
NEGATED_OPERATORS = {
    "stringnotequals": "stringequals",
    "stringnotequalsignorecase": "stringequalsignorecase",
    "stringnotlike": "stringlike",
    "numericnotequals": "numericequals",
    "datenotequals": "dateequals",
    "notipaddress": "ipaddress",
    "arnnotequals": "arnequals",
    "arnnotlike": "arnlike",
}
SET_OPERATORS = {"forallvalues", "foranyvalue"}

# A resource-policy principal's kinds of match, strongest first.
MATCH = "Match"
SESSION_USER = "SessionUserMatch"
SESSION_ROLE = "SessionRoleMatch"
ACCOUNT_LEVEL = "AccountLevelMatch"
NO_MATCH = "NoMatch"
DIRECT_MATCHES = (MATCH, SESSION_USER, SESSION_ROLE)

# One entry of a Resource element against the request: it matches, it definitely does not (so
# NotResource excludes nothing), or it cannot be decided (an unresolvable variable: neither
# Resource nor NotResource applies).
RES_MATCH, RES_MISS, RES_UNDECIDED = "match", "miss", "undecided"

ACCOUNT_PRINCIPAL = re.compile(r"^(\d{12}|arn:[^:]*:iam::\d{12}:root)$")
UNIQUE_ID_PRINCIPAL = re.compile(r"^A[0-9A-Z]+$")
ASSUMED_ROLE_ARN = re.compile(r"^arn:[a-zA-Z-]+:sts::\d{12}:assumed-role/.*$")
FEDERATED_USER_ARN = re.compile(r"^arn:[a-zA-Z-]+:sts::\d{12}:federated-user/.*$")
IAM_USER_ARN = re.compile(r"^arn:[a-zA-Z-]+:iam::\d{12}:user/.*$")
IAM_ROLE_ARN = re.compile(r"^arn:[a-zA-Z-]+:iam::\d{12}:role/.*$")
SERVICE_SEGMENT = re.compile(r"^[a-zA-Z0-9-]+$")
ACTION_SEGMENT = re.compile(r"^[a-zA-Z0-9*?, \-]+$")
OPERATOR_NAME = re.compile(r"^[a-zA-Z0-9:]+$")
INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")
DECIMAL = re.compile(r"^\s*[+-]?(\d+\.\d*|\.\d+)\s*$")
EPOCH = re.compile(r"^-?\d+$")

# KMS answers CreateAlias, UpdateAlias and DeleteAlias on an alias/aws/ name with a denial
# whatever the policies say: "The alias/aws/ prefix is reserved for AWS managed keys"
# (https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html).
KMS_RESERVED_ALIAS_ACTIONS = {"kms:createalias", "kms:deletealias", "kms:updatealias"}
# "You can't change the permissions in AWS managed policies"
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-vs-inline.html#aws-managed-policies).
AWS_MANAGED_POLICY_ACTIONS = {
    "iam:createpolicy", "iam:createpolicyversion", "iam:deletepolicy", "iam:deletepolicyversion",
    "iam:setdefaultpolicyversion", "iam:tagpolicy", "iam:untagpolicy",
}
# IAM Identity Center's roles (path /aws-reserved/) are "only modifiable by AWS"
# (https://repost.aws/knowledge-center/identity-center-aws-reserved-sso,
# https://docs.aws.amazon.com/singlesignon/latest/userguide/identity-center-and-iam-roles.html).
AWS_RESERVED_ROLE_ACTIONS = {
    "iam:attachrolepolicy", "iam:createrole", "iam:createservicelinkedrole", "iam:deleterole",
    "iam:deleterolepermissionsboundary", "iam:deleterolepolicy", "iam:deleteservicelinkedrole",
    "iam:detachrolepolicy", "iam:passrole", "iam:putrolepermissionsboundary", "iam:putrolepolicy",
    "iam:tagrole", "iam:untagrole", "iam:updateassumerolepolicy", "iam:updaterole",
    "iam:updateroledescription",
}


class PolicyError(Exception):
    """The check or one of its policies cannot be evaluated: answered Error, never allowed."""


# --------------------------------------------------------------------------
# Policies, read and validated as IAM validates them: what IAM would refuse to store is an Error.


@dataclass
class Condition:
    operator: str  # as written, for explanations
    set_operator: str | None  # "forallvalues", "foranyvalue"
    base: str  # lowercase, without IfExists
    if_exists: bool
    key: str
    values: list


@dataclass
class Statement:
    policy: str | None  # the policy's name, for explanations
    index: int  # 1-based
    sid: str | None
    effect: str
    actions: list | None
    not_actions: list | None
    resources: list | None
    not_resources: list | None
    principals: list | None  # [(type, value)]
    not_principals: list | None
    conditions: list
    variables: bool  # the policy's Version lets ${...} be a variable

    def label(self) -> str:
        ident = self.sid or str(self.index)
        name = f"statement #{ident}" if ident.isdigit() else f'statement "{ident}"'
        return f"{self.policy} {name}" if self.policy else name


@dataclass
class Policy:
    name: str | None
    statements: list


def _parse_document(document, where):
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as error:
            raise PolicyError(f"{where} is not JSON: {error}")
    if not isinstance(document, dict):
        raise PolicyError(f"{where} must be a JSON object")
    return document


def named_policy(entry, fallback):
    """A policy as a check gives it: a document (object or JSON text), or {name, policy}."""
    if isinstance(entry, dict) and "policy" in entry and "Statement" not in entry:
        return entry.get("name") or fallback, entry["policy"]
    return fallback, entry


def load_policy(document, name, kind) -> Policy:
    """Validate a policy document as IAM does for its kind ("identity", "pb", "resource").
    The same policies come with every check of every request: each is read once."""
    if not isinstance(document, str):
        try:
            document = json.dumps(document)  # key order kept: explanations list conditions as written
        except (TypeError, ValueError) as error:
            raise PolicyError(f"{POLICY_KIND[kind]} {name or ''} is not a JSON document: {error}")
    return _load_policy_text(document, name, kind)


@lru_cache(maxsize=512)
def _load_policy_text(text, name, kind) -> Policy:
    where = f"{POLICY_KIND[kind]} {name}" if name else POLICY_KIND[kind]
    document = _parse_document(text, where)
    unknown = set(document) - POLICY_KEYS
    if unknown:
        raise PolicyError(f"{where}: unknown policy element(s) {sorted(unknown)}")
    if not isinstance(document.get("Id", ""), str):
        raise PolicyError(f"{where}: Id must be a string")
    version = document.get("Version")
    if version is not None and version not in VERSIONS:
        raise PolicyError(f'{where}: Version must be "2012-10-17" or "2008-10-17", not {version!r}')
    raw = document.get("Statement")
    if not raw:
        raise PolicyError(f"{where}: Statement is required")
    raw = raw if isinstance(raw, list) else [raw]
    variables = version == VARIABLES_VERSION
    statements = [
        _load_statement(s, f"{where} Statement[{i}]", name, i + 1, kind, variables)
        for i, s in enumerate(raw)
    ]
    return Policy(name, statements)


def _strings(value, where, element):
    """An element that is a string or a list of strings, as a list."""
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in items):
        raise PolicyError(f"{where}: {element} must be a string or a list of strings")
    return items


def _load_statement(raw, where, policy_name, index, kind, variables) -> Statement:
    if not isinstance(raw, dict):
        raise PolicyError(f"{where} must be an object")
    unknown = set(raw) - STATEMENT_KEYS
    if unknown:
        raise PolicyError(f"{where}: unknown element(s) {sorted(unknown)}")
    empty = sorted(k for k, v in raw.items() if v is None)
    if empty:
        raise PolicyError(f"{where}: {', '.join(empty)} cannot be null")
    if raw.get("Effect") not in ("Allow", "Deny"):
        raise PolicyError(f'{where}: Effect must be exactly "Allow" or "Deny"')
    for first, second in (("Action", "NotAction"), ("Resource", "NotResource"),
                          ("Principal", "NotPrincipal")):
        if first in raw and second in raw:
            raise PolicyError(f"{where}: only one of {first} or {second} is allowed")
    if not (raw.get("Action") or raw.get("NotAction")):
        raise PolicyError(f"{where}: one of Action or NotAction is required")
    if kind != "resource":
        if "Principal" in raw or "NotPrincipal" in raw:
            raise PolicyError(f"{where}: Principal is not allowed in an identity policy")
        if not (raw.get("Resource") or raw.get("NotResource")):
            raise PolicyError(f"{where}: one of Resource or NotResource is required")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyError(f"{where}: Sid must be a string")
    actions = _strings(raw.get("Action"), where, "Action")
    not_actions = _strings(raw.get("NotAction"), where, "NotAction")
    for action in (actions or []) + (not_actions or []):
        _validate_action(action, where)
    resources = _strings(raw.get("Resource"), where, "Resource")
    not_resources = _strings(raw.get("NotResource"), where, "NotResource")
    for resource in (resources or []) + (not_resources or []):
        if not (_all_stars(resource) or resource.startswith("arn:")):
            # IAM refuses to store it: "Resource must be in ARN format or *".
            raise PolicyError(f'{where}: Resource {resource!r} must be an ARN or "*"')
    return Statement(
        policy=policy_name, index=index, sid=sid, effect=raw["Effect"],
        actions=actions, not_actions=not_actions, resources=resources, not_resources=not_resources,
        principals=_load_principals(raw.get("Principal"), where),
        not_principals=_load_principals(raw.get("NotPrincipal"), where),
        conditions=_load_conditions(raw.get("Condition"), where), variables=variables,
    )


def _validate_action(action, where):
    if _all_stars(action):
        return
    trimmed = action.strip()
    if trimmed.count(":") != 1:
        raise PolicyError(f"{where}: action {action!r} must be \"*\" or service:action")
    service, name = trimmed.split(":")
    if not SERVICE_SEGMENT.match(service) or (name and not ACTION_SEGMENT.match(name)):
        raise PolicyError(f"{where}: action {action!r} has characters IAM does not allow")


def _load_principals(raw, where):
    if raw is None:
        return None
    if isinstance(raw, str):
        return [("AWS", raw)]
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: Principal must be \"*\" or an object")
    principals = []
    for kind, values in raw.items():
        if kind not in PRINCIPAL_TYPES:
            raise PolicyError(f"{where}: unknown principal type {kind!r}")
        principals += [(kind, value) for value in _strings(values, where, f"Principal {kind}")]
    return principals


def _condition_value(value, where):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    raise PolicyError(f"{where}: condition values must be strings, numbers or booleans")


def _load_conditions(raw, where) -> list:
    if raw is None:
        return []
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: Condition must be an object")
    conditions = []
    for operator, keys in raw.items():
        set_operator, base, if_exists = _parse_operator(operator, where)
        if not isinstance(keys, dict):
            raise PolicyError(f"{where}: Condition {operator} must be an object of keys")
        for key, values in keys.items():
            values = values if isinstance(values, list) else [values]
            values = [_condition_value(v, f"{where} Condition {operator} {key}") for v in values]
            conditions.append(Condition(operator, set_operator, base, if_exists, key, values))
    return conditions


def _parse_operator(operator, where):
    """(set operator, base operator, IfExists) of a condition operator; an operator AWS does not
    document is an Error, so a typo can neither allow nor escape a Deny."""
    if not OPERATOR_NAME.match(operator) or operator.count(":") > 1:
        raise PolicyError(f"{where}: condition operator {operator!r} is invalid")
    set_operator = None
    base = operator
    if ":" in operator:
        set_operator, base = operator.split(":")
        set_operator = set_operator.lower()
        if set_operator not in SET_OPERATORS:
            raise PolicyError(f"{where}: condition set operator must be ForAllValues or ForAnyValue, "
                              f"not {operator!r}")
    lower = base.lower()
    if_exists = lower.endswith("ifexists")
    if if_exists:
        lower = lower[: -len("ifexists")]
    if lower != "null" and lower not in POSITIVE_OPERATORS and lower not in NEGATED_OPERATORS:
        raise PolicyError(f"{where}: unknown condition operator {operator!r} (AWS documents "
                          "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html)")
    return set_operator, lower, if_exists


# --------------------------------------------------------------------------
# The request.


def _context_value(key, value):
    """A context value as IAM holds it: a string, a list of strings (a multivalued key), or None
    (absent: the key is not in the request)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _condition_value(value, key)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return [_context_value(key, v) for v in value if v is not None]
    raise PolicyError(f"context key {key} has a value that is neither a string nor a list")


class Context:
    """The request context; keys are case-insensitive
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html)."""

    def __init__(self, raw):
        self._values = {}
        for key, value in (raw or {}).items():
            value = _context_value(key, value)
            if value is not None:
                self._values[key.lower()] = value

    def get(self, key):
        return self._values.get(key.lower())

    def single(self, key):
        """The value a policy variable takes: None when absent, empty or multivalued."""
        value = self.get(key)
        return value if isinstance(value, str) and value else None


@dataclass
class Request:
    principal: str
    action: str
    resource: str
    account: str
    context: Context
    # SimulateCustomPolicy asks about resource patterns ("every resource matching", evaluate.mjs's
    # ignoreUnknownContext); a request's own ARN is literal, a `*` in it one character.
    pattern_mode: bool
    has_boundary: bool

    @property
    def service(self) -> str:
        return self.action.split(":", 1)[0].lower()

    @property
    def action_name(self) -> str:
        return self.action.split(":", 1)[1]

    def principal_account(self):
        parts = self.principal.split(":")
        if len(parts) < 6 or parts[0] != "arn":
            return None
        return parts[4] or None

    def with_resource(self, resource) -> "Request":
        return Request(self.principal, self.action, resource, self.account, self.context,
                       self.pattern_mode, self.has_boundary)


# --------------------------------------------------------------------------
# Strings, wildcards and policy variables.


def _all_stars(value: str) -> bool:
    return bool(value) and not value.strip("*")


def _resolve_variable(token, context):
    """The value of `${token}`: a special character, a single-valued key of the context, or the
    default the policy gives (`${aws:PrincipalTag/team, 'none'}`); None when it has none."""
    if token in ("*", "?", "$"):
        return token
    name, comma, default = token.partition(",")
    value = context.single(name.strip())
    if value is not None:
        return value
    default = default.strip()
    if comma and len(default) > 2 and default[0] == "'" and default[-1] == "'":
        return default[1:-1]
    return None


def iam_string_regex(value, context, wildcards, variables):
    """The regular expression an IAM string stands for: `*` and `?` wildcards when `wildcards`,
    `${...}` policy variables when `variables`. None when a variable has no value: "If there is
    no value for the variable, the policy [element] does not match"
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#policy-vars-no-value)."""
    out = []
    i = 0
    while i < len(value):
        char = value[i]
        if char in "*?":
            out.append((".*" if char == "*" else ".") if wildcards else re.escape(char))
            i += 1
        elif variables and value.startswith("${", i) and value.find("}", i + 2) != -1:
            end = value.find("}", i + 2)
            resolved = _resolve_variable(value[i + 2:end], context)
            if resolved is None:
                return None
            out.append(re.escape(resolved))
            i = end + 1
        else:
            out.append(re.escape(char))
            i += 1
    return "".join(out)


@lru_cache(maxsize=8192)
def _compiled(source, ignore_case):
    return re.compile(source, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _full_match(source, text, ignore_case=False):
    return _compiled(source, ignore_case).fullmatch(text) is not None


@lru_cache(maxsize=8192)
def _glob_source(pattern):
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


def split_arn(arn):
    """An ARN's six parts (the last keeps its colons), not splitting inside `${...}`; None when
    it has fewer than five separators."""
    parts = []
    current = []
    depth = 0
    for char in arn:
        if char == ":" and depth == 0 and len(parts) < 5:
            parts.append("".join(current))
            current = []
            continue
        if char == "{" and current and current[-1] == "$":
            depth += 1
        elif char == "}" and depth:
            depth -= 1
        current.append(char)
    parts.append("".join(current))
    return parts if len(parts) == 6 else None


# --------------------------------------------------------------------------
# Action and Resource elements.


def action_matches(pattern, request: Request) -> bool:
    """Action patterns match case-insensitively, `*` and `?` within the action name
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html)."""
    if _all_stars(pattern):
        return True
    service, _, name = pattern.partition(":")
    if not name or any(c.isspace() for c in name) or service.lower() != request.service:
        return False
    return _full_match(_glob_source(name), request.action_name, ignore_case=True)


def _statement_action_match(statement: Statement, request: Request) -> bool:
    if statement.actions is not None:
        return any(action_matches(a, request) for a in statement.actions)
    return not any(action_matches(a, request) for a in statement.not_actions)


def _resource_product(service, region, account, resource_part):
    """The resource-type prefix of an ARN's resource part (`vpc/`, `log-group:`), which a
    wildcard does not stand in for; S3 bucket and object ARNs have none."""
    if service == "s3" and region == "" and account == "":
        return ""
    cut = [i for i in (resource_part.find("/"), resource_part.find(":")) if i != -1]
    return resource_part[: min(cut) + 1] if cut else ""


def _literal_resource_match(pattern, request: Request, variables) -> str:
    """A policy ARN pattern against the request's ARN taken literally: each of partition,
    service, Region and account on its own, then the resource type literally, then its id, with
    `*`, `?` and policy variables (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html)."""
    policy_parts = split_arn(pattern)
    request_parts = request.resource.split(":", 5)
    if policy_parts is None or len(request_parts) < 6:
        return RES_MISS
    for policy_part, request_part in zip(policy_parts[1:5], request_parts[1:5]):
        source = iam_string_regex(policy_part, request.context, True, variables)
        if source is None:
            return RES_UNDECIDED
        if not _full_match(source, request_part):
            return RES_MISS
    product = _resource_product(*policy_parts[2:6])
    if not request_parts[5].startswith(product):
        return RES_MISS
    source = iam_string_regex(policy_parts[5][len(product):], request.context, True, variables)
    if source is None:
        return RES_UNDECIDED
    return RES_MATCH if _full_match(source, request_parts[5][len(product):]) else RES_MISS


def _resource_entry_match(entry, request: Request, statement: Statement, kind, negated) -> str:
    """One entry of a Resource or NotResource element against the request."""
    if _all_stars(entry):
        return RES_MATCH
    pattern = entry
    segments = entry.split(":")
    short = len(segments) < 6
    if short:
        # A short ARN stands for the ARNs it begins, in an identity policy or boundary; in a
        # resource policy only when it has a wildcard.
        if kind == "resource" and "*" not in entry:
            return RES_MISS
        pattern = ":".join(segments + ["*"] * (6 - len(segments)))
    if request.resource == "*":
        # The resource of an action that takes none, or SimulateCustomPolicy's default: IAM
        # compares the text `*`, which only a policy's `*` covers (a Deny or an Allow on one
        # resource does not apply to it; a NotResource of one does).
        outcome = RES_MISS
    elif request.pattern_mode and "*" in request.resource:
        outcome = _pattern_resource_match(pattern, request, statement, negated)
    else:
        outcome = _literal_resource_match(pattern, request, statement.variables)
    if short and outcome != RES_MATCH:
        return RES_UNDECIDED
    return outcome


def _pattern_resource_match(pattern, request: Request, statement: Statement, negated) -> str:
    """A policy pattern against a request pattern (SimulateCustomPolicy's `nodegroup/dev/*`),
    part by part, as evaluate.mjs's iam-simulate compares them."""
    policy_parts = split_arn(pattern)
    request_parts = request.resource.split(":", 5)
    if policy_parts is None or len(request_parts) < 6:
        return RES_MISS
    overlaps = [pattern_overlap(p, r) for p, r in zip(policy_parts[1:], request_parts[1:])]
    allow = statement.effect == "Allow"
    if allow and not negated:
        if "none" not in overlaps:
            return RES_MATCH
    elif not allow and not negated:
        if "none" in overlaps or "policy_is_subset" in overlaps:
            return RES_MISS
    elif allow and negated:
        covered = all(o in ("equal", "policy_is_superset") for o in overlaps)
        return RES_MATCH if covered else RES_MISS
    else:
        return RES_MISS if "none" in overlaps else RES_MATCH
    return _literal_resource_match(pattern, request, statement.variables)


def pattern_overlap(policy, request) -> str:
    """How a policy pattern (`*`, `?` wildcards) relates to a request pattern (`*` wildcard):
    equal, policy_is_subset, policy_is_superset, overlap or none."""
    if policy == request:
        return "equal"
    request_source = "".join(".*" if c == "*" else re.escape(c) for c in request)
    if _full_match(request_source, policy):
        return "policy_is_subset"
    if _full_match(_glob_source(policy), request):
        return "policy_is_superset"
    if patterns_intersect(policy, request, request_question_wild=False):
        return "overlap"
    return "none"


def patterns_intersect(first, second, request_question_wild=True) -> bool:
    """Whether two wildcard patterns match some string in common (`*` any run, `?` one
    character; in `second`, `?` is literal unless `request_question_wild`)."""
    seen = set()
    todo = [(0, 0)]
    while todo:
        i, j = todo.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(first) and j == len(second):
            return True
        a = first[i] if i < len(first) else None
        b = second[j] if j < len(second) else None
        if a == "*":
            todo.append((i + 1, j))
        if b == "*":
            todo.append((i, j + 1))
        if a is None or b is None:
            continue
        a_any = a in "*?"
        b_any = b == "*" or (request_question_wild and b == "?")
        if a_any or b_any or a == b:
            todo.append((i if a == "*" else i + 1, j if b == "*" else j + 1))
    return False


def _statement_resource_match(statement: Statement, request: Request, kind) -> bool:
    if statement.resources is not None:
        return any(_resource_entry_match(r, request, statement, kind, False) == RES_MATCH
                   for r in statement.resources)
    if statement.not_resources is not None:
        return all(_resource_entry_match(r, request, statement, kind, True) == RES_MISS
                   for r in statement.not_resources)
    return True  # a trust policy's statements name no resource


# --------------------------------------------------------------------------
# Principal and NotPrincipal (resource policies).


def _principal_entry_match(kind, value, request: Request) -> str:
    principal = request.principal
    if kind != "AWS":
        return MATCH if value == principal else NO_MATCH  # Service, Federated, CanonicalUser
    if _all_stars(value):
        return MATCH
    if ACCOUNT_PRINCIPAL.match(value):
        account = value if value.isdigit() else value.split(":")[4]
        return ACCOUNT_LEVEL if account == request.principal_account() else NO_MATCH
    if UNIQUE_ID_PRINCIPAL.match(value):
        return NO_MATCH
    if ASSUMED_ROLE_ARN.match(principal) and _role_of_session(value, principal):
        return SESSION_ROLE
    if FEDERATED_USER_ARN.match(principal):
        parts = principal.split(":")
        user = f"arn:{parts[1]}:iam::{parts[4]}:user/{parts[5].split('/', 1)[1]}"
        if value == user:
            return SESSION_USER
    return MATCH if value == principal else NO_MATCH


def _role_of_session(role_arn, session_arn) -> bool:
    """Whether a role ARN names the role of an assumed-role session ARN: a trust or key policy
    naming the role applies to its sessions
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-role-session)."""
    if not IAM_ROLE_ARN.match(role_arn):
        return False
    role, session = role_arn.split(":"), session_arn.split(":")
    if role[1] != session[1] or role[4] != session[4]:
        return False
    role_name = role[5].split("/")[-1]
    session_role = session[5].split("/")[1] if session[5].count("/") >= 2 else ""
    return bool(role_name) and role_name.lower() == session_role.lower()


def _principal_match(statement: Statement, request: Request) -> str:
    if statement.principals is not None:
        found = {_principal_entry_match(k, v, request) for k, v in statement.principals}
        for strength in (MATCH, SESSION_USER, SESSION_ROLE, ACCOUNT_LEVEL):
            if strength in found:
                return strength
        return NO_MATCH
    if statement.not_principals is not None:
        named = any(_principal_entry_match(k, v, request) != NO_MATCH for k, v in statement.not_principals)
        return NO_MATCH if named else MATCH
    return NO_MATCH


# --------------------------------------------------------------------------
# Conditions.


def _parse_number(text):
    if INTEGER.match(text):
        return int(text)
    if DECIMAL.match(text):
        return float(text)
    return None


def _parse_date(text):
    """Seconds since the epoch of a date condition value: epoch seconds or W3C/ISO 8601
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Date)."""
    if EPOCH.match(text):
        return int(text)
    iso = text.strip()
    if iso.endswith(("Z", "z")):
        iso = iso[:-1] + "+00:00"
    fraction = re.match(r"^(.*T\d\d:\d\d:\d\d)\.(\d+)(.*)$", iso)
    if fraction:  # Python 3.9 reads only 3 or 6 fraction digits
        iso = f"{fraction.group(1)}.{fraction.group(2)[:6].ljust(6, '0')}{fraction.group(3)}"
    try:
        moment = datetime.datetime.fromisoformat(iso)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def _compare(values, check):
    first, second = values
    if first is None or second is None:
        return None
    return check(first, second)


NUMERIC = {
    "numericequals": lambda p, r: r == p,
    "numericlessthan": lambda p, r: r < p,
    "numericlessthanequals": lambda p, r: r <= p,
    "numericgreaterthan": lambda p, r: r > p,
    "numericgreaterthanequals": lambda p, r: r >= p,
}
DATES = {
    "dateequals": NUMERIC["numericequals"],
    "datelessthan": NUMERIC["numericlessthan"],
    "datelessthanequals": NUMERIC["numericlessthanequals"],
    "dategreaterthan": NUMERIC["numericgreaterthan"],
    "dategreaterthanequals": NUMERIC["numericgreaterthanequals"],
}


def _ip_in(policy_value, request_value):
    """IpAddress: whether an address is in a CIDR block (or is the address given); None when
    either is not an address."""
    try:
        network = ipaddress.ip_network(policy_value, strict=False)
    except ValueError:
        return None
    try:
        address = ipaddress.ip_address(request_value)
    except ValueError:
        return None
    if "/" not in policy_value and address.version != network.version:
        return None
    return address.version == network.version and address in network


def _arn_like(policy_value, request_value, context, variables):
    """ArnLike/ArnEquals: each of the six colon-delimited parts matched on its own, case-sensitive,
    with `*` and `?`
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN)."""
    policy_parts = split_arn(policy_value)
    request_parts = request_value.split(":", 5)
    if policy_parts is None or len(request_parts) < 6:
        return None
    for policy_part, request_part in zip(policy_parts[1:], request_parts[1:]):
        source = iam_string_regex(policy_part, context, True, variables)
        if source is None:
            return None
        if not _full_match(source, request_part):
            return False
    return True


def _string_match(base, policy_value, request_value, context, variables):
    wildcards = base == "stringlike"
    source = iam_string_regex(policy_value, context, wildcards, variables)
    if source is None:
        return None
    return _full_match(source, request_value, ignore_case=base == "stringequalsignorecase")


def _bool_match(policy_value, request_value, context, variables):
    source = iam_string_regex(policy_value, context, False, variables)
    if source is None:
        return None
    resolved = re.sub(r"\\(.)", r"\1", source).lower()
    if resolved not in ("true", "false") or request_value.lower() not in ("true", "false"):
        return None
    return resolved == request_value.lower()


def positive_match(base, policy_value, request_value, context, variables):
    """One policy value of a positive operator against one request value: True, False, or None
    when either cannot be read as the operator's type (which matches neither way)."""
    if base.startswith("string"):
        return _string_match(base, policy_value, request_value, context, variables)
    if base in NUMERIC:
        return _compare((_parse_number(policy_value), _parse_number(request_value)), NUMERIC[base])
    if base in DATES:
        return _compare((_parse_date(policy_value), _parse_date(request_value)), DATES[base])
    if base == "bool":
        return _bool_match(policy_value, request_value, context, variables)
    if base == "binaryequals":
        return policy_value == request_value
    if base == "ipaddress":
        return _ip_in(policy_value, request_value)
    if base in ("arnlike", "arnequals"):
        return _arn_like(policy_value, request_value, context, variables)
    raise PolicyError(f"unknown condition operator {base}")


def _operator_matches(condition: Condition, request_value, context, variables) -> bool:
    """Several values of one key are OR'd; a negated operator matches when none of them does
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html)."""
    positive = NEGATED_OPERATORS.get(condition.base)
    if positive is None:
        return any(positive_match(condition.base, v, request_value, context, variables) is True
                   for v in condition.values)
    return all(positive_match(positive, v, request_value, context, variables) is False
               for v in condition.values)


def condition_matches(condition: Condition, context: Context, variables) -> bool:
    """One condition: Null tests presence; ForAllValues holds for an absent key, ForAnyValue
    does not; without a set operator an absent key matches only IfExists and negated operators,
    and a multivalued key never matches (it needs a set operator:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html)."""
    value = context.get(condition.key)
    if condition.base == "null":
        goal = "true" if value is None else "false"
        return any(v.lower() == goal for v in condition.values)
    if condition.set_operator is not None:
        if value is None:
            return condition.set_operator == "forallvalues"
        items = value if isinstance(value, list) else [value]
        results = (_operator_matches(condition, item, context, variables) for item in items)
        return all(results) if condition.set_operator == "forallvalues" else any(results)
    if value is None:
        return condition.if_exists or condition.base in NEGATED_OPERATORS
    if isinstance(value, list):
        return False
    return _operator_matches(condition, value, context, variables)


# --------------------------------------------------------------------------
# Statements and policies.


@dataclass
class Outcome:
    """How one statement fared against the request."""

    statement: Statement
    action_match: bool
    resource_match: bool
    principal_match: str
    failed_conditions: list = field(default_factory=list)

    @property
    def applies(self) -> bool:
        return (self.action_match and self.resource_match and not self.failed_conditions
                and self.principal_match != NO_MATCH)


@dataclass
class Analysis:
    kind: str  # identity, pb, resource
    result: str = IMPLICIT  # Allowed, ImplicitlyDenied, ExplicitlyDenied; resource policies also
    # NotApplicable, AllowedForAccount, DeniedForAccount
    allows: list = field(default_factory=list)
    denies: list = field(default_factory=list)
    unmatched: list = field(default_factory=list)


def _statement_outcome(statement: Statement, request: Request, kind) -> Outcome:
    principal = MATCH
    if kind == "resource":
        principal = _principal_match(statement, request)
        # "The NotPrincipal element with a Deny effect will always deny any IAM principal that
        # has a permissions boundary policy attached"
        # (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html).
        if request.has_boundary and statement.not_principals is not None and statement.effect == "Deny":
            principal = MATCH
    if not _statement_action_match(statement, request):
        return Outcome(statement, False, False, principal)
    outcome = Outcome(statement, True, _statement_resource_match(statement, request, kind), principal)
    outcome.failed_conditions = [
        c for c in statement.conditions if not condition_matches(c, request.context, statement.variables)
    ]
    return outcome


def analyze(policies, request: Request, kind) -> Analysis:
    analysis = Analysis(kind)
    for policy in policies:
        for statement in policy.statements:
            outcome = _statement_outcome(statement, request, kind)
            if outcome.applies:
                (analysis.denies if statement.effect == "Deny" else analysis.allows).append(outcome)
            else:
                analysis.unmatched.append(outcome)
    if kind != "resource":
        analysis.result = EXPLICIT if analysis.denies else ALLOWED if analysis.allows else IMPLICIT
        return analysis
    deny_kinds = {o.principal_match for o in analysis.denies}
    allow_kinds = {o.principal_match for o in analysis.allows}
    if deny_kinds & set(DIRECT_MATCHES):
        analysis.result = EXPLICIT
    elif ACCOUNT_LEVEL in deny_kinds:
        analysis.result = "DeniedForAccount"
    elif allow_kinds & set(DIRECT_MATCHES):
        analysis.result = ALLOWED
    elif ACCOUNT_LEVEL in allow_kinds:
        analysis.result = "AllowedForAccount"
    else:
        analysis.result = IMPLICIT
    return analysis


# --------------------------------------------------------------------------
# The decision.


@dataclass
class Decision:
    result: str
    identity: Analysis
    boundary: Analysis | None
    resource: Analysis
    blocked_by_boundary: bool = False
    note: str = ""  # a service's own rule that decided


def _account_trust(request: Request, resource: Analysis, same_account) -> str:
    """Whether the service lets the caller's own account's IAM policies count: "implicit" (any
    same-account resource), "explicit" (the resource policy names the account), or "none".
    A KMS key's policy and a role's trust policy must name the account even within it."""
    account_statements = any(o.principal_match == ACCOUNT_LEVEL for o in resource.allows)
    service = request.service
    kms_key = service == "kms" and (
        request.resource == "*" or request.resource.split(":", 5)[-1].lower().startswith("key/"))
    if kms_key:
        if same_account and request.resource == "*":
            return "implicit"
    elif service == "sts":
        if same_account and resource.result == "NotApplicable":
            return "implicit"
    elif same_account:
        return "implicit"
    return "explicit" if account_statements else "none"


def _core_result(request: Request, identity: Analysis, resource: Analysis) -> str:
    """Whether the identity's and the resource's policies grant the request, before any Deny
    and the boundary."""
    account = request.principal_account()
    same_account = account is not None and account == request.account
    if not same_account:
        both = resource.result in (ALLOWED, "AllowedForAccount") and identity.result == ALLOWED
        return ALLOWED if both else IMPLICIT
    trust = _account_trust(request, resource, same_account)
    if resource.result == ALLOWED:
        return ALLOWED
    if trust in ("implicit", "explicit") and identity.result == ALLOWED:
        return ALLOWED
    return IMPLICIT


def _boundary_bypassed(request: Request, resource: Analysis) -> bool:
    """A same-account resource policy naming the principal's own ARN allows past a boundary
    that does not allow (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html)."""
    if resource.result != ALLOWED:
        return False
    principal = request.principal
    if any(kind.match(principal) for kind in (ASSUMED_ROLE_ARN, IAM_USER_ARN, FEDERATED_USER_ARN)):
        return any(o.principal_match == MATCH for o in resource.allows)
    if IAM_ROLE_ARN.match(principal):
        return any(o.principal_match == MATCH and ("AWS", "*") in (o.statement.principals or [])
                   for o in resource.allows)
    return False


def _service_rule(request: Request):
    """A denial a service makes whatever the policies say, or None."""
    action = request.action.lower()
    parts = request.resource.split(":", 5)
    resource_part = parts[5].lower() if len(parts) == 6 else ""
    if action in KMS_RESERVED_ALIAS_ACTIONS and resource_part.startswith("alias/aws/"):
        return "the alias/aws/ prefix is reserved for AWS managed keys"
    if action in AWS_MANAGED_POLICY_ACTIONS and resource_part.startswith("policy/") and parts[4] == "aws":
        return "an AWS managed policy cannot be changed"
    if action in AWS_RESERVED_ROLE_ACTIONS and resource_part.startswith("role/aws-reserved/"):
        return "a role under /aws-reserved/ is only modifiable by AWS"
    return None


def authorize(request: Request, identity_policies, boundaries, resource_policy) -> Decision:
    identity = analyze(identity_policies, request, "identity")
    boundary = analyze(boundaries, request, "pb") if boundaries else None
    if resource_policy:
        resource = analyze([resource_policy], request, "resource")
    else:
        resource = Analysis("resource", "NotApplicable")
    decision = Decision(IMPLICIT, identity, boundary, resource)
    if request.action.lower() == "sts:getcalleridentity":
        decision.result = ALLOWED
        decision.note = "sts:GetCallerIdentity needs no permission"
        return decision
    principal = request.principal
    if not principal.startswith("arn:") and principal.endswith("amazonaws.com"):
        # A service principal: only a resource policy naming it grants anything.
        decision.result = ALLOWED if resource.result == ALLOWED else IMPLICIT
    else:
        decision.result = _core_result(request, identity, resource)
    if EXPLICIT in (identity.result, resource.result) or resource.result == "DeniedForAccount" or (
            boundary is not None and boundary.result == EXPLICIT):
        decision.result = EXPLICIT
        return decision
    if boundary is not None and boundary.result == IMPLICIT:
        same_account = request.principal_account() == request.account
        if not (same_account and _boundary_bypassed(request, resource)):
            decision.blocked_by_boundary = decision.result == ALLOWED
            decision.result = IMPLICIT
    rule = _service_rule(request)
    if rule:
        decision.result = IMPLICIT
        decision.note = rule
    return decision


# --------------------------------------------------------------------------
# Explanations, phrased as evaluate.mjs and AWS's denials phrase them.


def _json(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def _why_not(outcome: Outcome, request: Request) -> str:
    parts = []
    statement = outcome.statement
    if not outcome.resource_match:
        if statement.resources is not None:
            parts.append(f"its Resource {_json(statement.resources)} does not match {request.resource}")
        else:
            parts.append(f"its NotResource {_json(statement.not_resources)} excludes {request.resource}")
    if outcome.principal_match == NO_MATCH:
        parts.append(f"its Principal does not name {request.principal}")
    for condition in outcome.failed_conditions:
        have = request.context.get(condition.key)
        had = "absent from the request context" if have is None else f"the request context has {_json(have)}"
        wanted = _json(condition.values)
        parts.append(f"condition {condition.operator} {condition.key} {wanted} not met ({had})")
    return f"{statement.label()}: {', '.join(parts) or 'does not apply'}"


def _near_misses(analysis: Analysis, request: Request) -> str:
    candidates = [o for o in analysis.unmatched if o.action_match and o.statement.effect == "Allow"]
    if not candidates:
        return "no statement names the action"
    shown = "; ".join(_why_not(o, request) for o in candidates[:MAX_NEAR_MISSES])
    more = len(candidates) - MAX_NEAR_MISSES
    return shown + (f" (+{more} more)" if more > 0 else "")


def _explicit_denial(decision: Decision) -> str:
    found = []
    for analysis in (decision.identity, decision.resource, decision.boundary):
        if analysis is None:
            continue
        kind = POLICY_KIND[analysis.kind]
        article = "an" if kind[0] in "aeiou" else "a"
        for outcome in analysis.denies:
            statement = outcome.statement
            name = f" {statement.policy}" if statement.policy else ""
            label = f'statement "{statement.sid}"' if statement.sid else f"statement #{statement.index}"
            found.append(f"with an explicit deny in {article} {kind}{name} ({label})")
    return "; ".join(found)


def explain(decision: Decision, request: Request) -> str:
    if decision.note:
        if decision.result == ALLOWED:
            return decision.note
        return f"{decision.note} ({request.action} on {request.resource})"
    if decision.result == ALLOWED:
        deciding = decision.identity.allows or decision.resource.allows
        analysis = decision.identity if decision.identity.allows else decision.resource
        if not deciding:
            return "allowed"
        return f"allowed by {POLICY_KIND[analysis.kind]} {deciding[0].statement.label()}"
    if decision.result == EXPLICIT:
        return _explicit_denial(decision)
    reasons = [a for a in (decision.identity, decision.resource, decision.boundary)
               if a is not None and a.result == IMPLICIT]
    if decision.blocked_by_boundary:
        reasons = [decision.boundary]
    if not reasons:
        reasons = [decision.identity]
    return "; ".join(
        f"no {POLICY_KIND[a.kind]} allows the {request.action} action: {_near_misses(a, request)}"
        for a in reasons
    )


# --------------------------------------------------------------------------
# Checks.


def _default_key_policy(account):
    """KMS's default key policy, which lets the account's IAM policies decide
    (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html)."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "kms:*", "Resource": "*"}]}


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _load_policies(entries, fallback, kind) -> list:
    policies = []
    for i, entry in enumerate(_as_list(entries)):
        name, document = named_policy(entry, f"{fallback} {i + 1}")
        policies.append(load_policy(document, name, kind))
    return policies


def _load_check(check: dict):
    for name in ("principal", "action", "resource"):
        if not isinstance(check.get(name), str):
            raise PolicyError(f"the check has no {name} string")
    action = check["action"]
    if action.count(":") != 1 or not all(action.split(":")):
        raise PolicyError(f"{action} is not an action (service:Action)")
    simulated = bool(check.get("ignoreUnknownContext"))
    identity = _load_policies(check.get("identityPolicies"), "identity policy", "identity")
    boundaries = _load_policies(check.get("permissionBoundaries"), "permissions boundary", "pb")
    raw_resource_policy = check.get("resourcePolicy")
    if not raw_resource_policy and simulated and action.lower().startswith("kms:"):
        # SimulateCustomPolicy without a ResourcePolicy leaves resource policies out
        # (https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulateCustomPolicy.html):
        # the key is given KMS's default policy, which leaves the decision to the identity's.
        raw_resource_policy = _default_key_policy(check.get("account"))
    resource_policy = load_policy(raw_resource_policy, None, "resource") if raw_resource_policy else None
    request = Request(
        principal=check["principal"], action=action, resource=check["resource"],
        account=str(check.get("account") or ""), context=Context(check.get("context")),
        pattern_mode=simulated, has_boundary=bool(boundaries),
    )
    return request, identity, boundaries, resource_policy


def _candidate_resources(request: Request, identity, resource_policy):
    """The resource patterns of the Allow statements naming the action that overlap the asked
    pattern: the resources "every resource matching" can be narrowed to (the asked pattern
    itself for a statement covering all of it)."""
    asked = request.resource
    found = []
    policies = [(p, True) for p in identity] + ([(resource_policy, False)] if resource_policy else [])
    for policy, expand in policies:
        for statement in policy.statements:
            if statement.effect != "Allow" or not _statement_action_match(statement, request):
                continue
            if statement.resources is None:
                excluded = any(_full_match(_glob_source(r), asked) for r in statement.not_resources or [])
                found += [] if excluded else [asked]
                continue
            for entry in statement.resources:
                segments = entry.split(":")
                if expand and len(segments) < 6:
                    entry = ":".join(segments + ["*"] * (6 - len(segments)))
                if _full_match(_glob_source(entry), asked):
                    found.append(asked)
                elif patterns_intersect(asked, entry):
                    found.append(entry)
    return list(dict.fromkeys(found))


def _evaluate_pattern(request: Request, identity, boundaries, resource_policy):
    """SimulateCustomPolicy's ARN pattern (`nodegroup/demo/*`): allowed when some resource it
    covers is, as evaluate.mjs answers it."""
    exact = authorize(request, identity, boundaries, resource_policy)
    if exact.result != ALLOWED:
        return exact, request
    decisions = []
    for candidate in _candidate_resources(request, identity, resource_policy):
        narrowed = request.with_resource(candidate)
        decision = authorize(narrowed, identity, boundaries, resource_policy)
        if decision.result == ALLOWED:
            return decision, narrowed
        decisions.append((decision, narrowed))
    if decisions and all(d.result == EXPLICIT for d, _ in decisions):
        return decisions[0]
    if decisions:
        decision, narrowed = next((d, n) for d, n in decisions if d.result != EXPLICIT)
        return decision, narrowed
    exact.result = IMPLICIT
    return exact, request


def evaluate_check(check: dict) -> dict:
    request, identity, boundaries, resource_policy = _load_check(check)
    if request.pattern_mode and "*" in request.resource and request.resource != "*":
        decision, asked = _evaluate_pattern(request, identity, boundaries, resource_policy)
    else:
        decision, asked = authorize(request, identity, boundaries, resource_policy), request
    return {"result": decision.result, "explain": explain(decision, asked)}


def evaluate(checks: list) -> list:
    """Evaluate raw checks (dicts of evaluate.mjs's protocol): one answer per check, in order.
    Anything that cannot be evaluated is an Error, which the caller counts as a denial."""
    answers = []
    for check in checks:
        try:
            answers.append(evaluate_check(check))
        except PolicyError as error:
            answers.append({"result": ERROR, "explain": str(error)})
        except Exception as error:  # a bug here must deny, never allow
            answers.append({"result": ERROR, "explain": f"evaluator failed: {type(error).__name__}: {error}"})
    return answers
