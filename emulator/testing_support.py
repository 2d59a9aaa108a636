"""What the emulator's own pytest files share: where the tests' IAM evaluator is."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def node_evaluator():
    """The Node IAM evaluator (tests/iam/evaluate.mjs with its node_modules, as `cargo test`
    installs it under target/), or None. EKSBOOT_IAM_EVALUATOR names it explicitly, unless it
    asks for the in-process evaluator (`builtin`)."""
    explicit = os.environ.get("EKSBOOT_IAM_EVALUATOR")
    if explicit and explicit != "builtin":
        return explicit
    candidates = []
    if os.environ.get("EKSBOOT_IAM_NODE_MODULES"):
        candidates.append(Path(os.environ["EKSBOOT_IAM_NODE_MODULES"]).parent / "evaluate.mjs")
    candidates.append(ROOT / "target/tmp/iam-eval/evaluate.mjs")
    for path in candidates:
        if path.is_file() and (path.parent / "node_modules").is_dir():
            return str(path)
    return None
