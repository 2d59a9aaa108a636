"""What both benchmarks share: the emulator started on a free port with chosen waiting times,
and the environment that points the release binary at it."""

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The release build; EKSBOOT_BIN names another (e.g. target/debug/eksboot).
BINARY = os.environ.get("EKSBOOT_BIN") or os.path.join(ROOT, "target", "release", "eksboot")


class Emulator:
    """moto with eksboot's extension; `transitions` maps state-manager models to seconds
    (0 = immediate). IAM propagation is off: it is not on any critical path here."""

    def __init__(self, transitions, addon_ready_s=0.0):
        if not os.path.exists(BINARY):
            sys.exit(f"build it first: cargo build --release (or set EKSBOOT_BIN): {BINARY}")
        self.server = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "tests", "moto", "eksboot_moto.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env={
                **os.environ,
                "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
                "EKSBOOT_MOTO_TRANSITION_MS": "0",
                "EKSBOOT_MOTO_ADDON_READY_MS": str(int(addon_ready_s * 1000)),
                "EKSBOOT_MOTO_IAM_PROPAGATION_MS": "0",
            },
        )
        port = self.server.stdout.readline().decode().split()[1]
        self.endpoint = f"http://127.0.0.1:{port}"
        for model, seconds in transitions.items():
            transition = {"progression": "time", "seconds": seconds} if seconds else {"progression": "immediate"}
            self.post("/moto-api/state-manager/set-transition", {"model_name": model, "transition": transition})
        self.work = tempfile.mkdtemp()
        # The caller must exist in IAM (EKS refuses access entries for principals it lacks).
        import boto3

        iam = boto3.client("iam", endpoint_url=self.endpoint, region_name="us-east-1",
                           aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        iam.create_user(UserName="bench")
        key = iam.create_access_key(UserName="bench")["AccessKey"]
        self.keys = (key["AccessKeyId"], key["SecretAccessKey"])

    def post(self, path, body):
        request = urllib.request.Request(
            self.endpoint + path, data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request).read()

    def env(self):
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": self.keys[0],
            "AWS_SECRET_ACCESS_KEY": self.keys[1],
            "AWS_EC2_METADATA_DISABLED": "true", "EKSBOOT_POLL_MS": "200",
            "EKSBOOT_RETRY_MS": "200",
            "AWS_CONFIG_FILE": os.path.join(self.work, "none"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.work, "none"),
        }
        env.pop("AWS_PROFILE", None)
        return env

    def run(self, *args):
        """Runs eksboot with `args`; returns its wall time in seconds (exits on failure)."""
        started = time.monotonic()
        done = subprocess.run([BINARY, *args], env=self.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall = time.monotonic() - started
        if done.returncode != 0:
            sys.exit(f"eksboot {' '.join(args)} failed:\n{done.stderr.decode()}")
        return wall

    def create(self, profile):
        return self.run(
            "create", "--yes", "--profile", os.path.join(ROOT, "profiles", profile),
            "--state", os.path.join(self.work, "state.json"),
            "--kubeconfig", os.path.join(self.work, "kubeconfig"),
        )

    def teardown(self):
        return self.run(
            "teardown", "--yes", "--state", os.path.join(self.work, "state.json"),
            "--kubeconfig", os.path.join(self.work, "kubeconfig"),
        )

    def upgrade(self):
        return self.run("upgrade", "--yes", "--state", os.path.join(self.work, "state.json"))

    def set_transitions(self, transitions):
        for model, seconds in transitions.items():
            transition = {"progression": "time", "seconds": seconds} if seconds else {"progression": "immediate"}
            self.post("/moto-api/state-manager/set-transition", {"model_name": model, "transition": transition})

    def stop(self):
        self.server.stdin.close()
        self.server.wait()
