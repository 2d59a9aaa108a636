"""A small HTTPS server that stands in for an EKS cluster's Kubernetes API server in eksboot's tests.

Run as `python fake_apiserver.py LOG`. It makes a self-signed certificate for 127.0.0.1 and prints
`PORT <n>` (the API, HTTPS), `CA <base64 PEM>` (as DescribeCluster's certificateAuthority.data) and
`CONTROL <n>` (plain HTTP, for the test). It appends each API request's Authorization header to LOG
and exits when stdin closes.

What it serves, as the Kubernetes API does (only what eksboot's drain and kubectl's `/version` use):
  * GET /version (also to anonymous callers: the `system:public-info-viewer` role binds it to
    `system:unauthenticated` on every cluster);
  * nodes: list (with `labelSelector`), get, and PATCH `spec.unschedulable` (cordon);
  * pods: list across namespaces or in one (with `fieldSelector=spec.nodeName=...`), get;
  * the Eviction API (POST .../pods/NAME/eviction): a pod that a PodDisruptionBudget protects is
    refused with 429 TooManyRequests and the cause "The disruption budget NAME needs N healthy pods
    and has M currently" (the API server's exact wording, pkg/registry/core/pod/storage/eviction.go)
    while evicting it would leave fewer healthy pods than `minAvailable`; otherwise the pod is
    deleted. Everything except /version needs an EKS bearer token (`k8s-aws-v1.` and the base64url
    of a presigned STS URL that names the cluster in `x-k8s-aws-id`), as EKS's authenticator does:
    401 without it.

The test's control API (plain HTTP on CONTROL):
  POST /nodes {"name", "labels"}      POST /pods {"namespace", "name", "node", "labels",
  "owner": "ReplicaSet"|"DaemonSet"|null, "mirror": bool}      POST /pdbs {"namespace", "name",
  "selector": {label: value}, "minAvailable": N}      POST /on-cordon {"endpoint", "region",
  "access_key", "secret", "session_token", "cluster"}: at each cordon, the statuses of the
  cluster's node groups are read from the emulator (boto3) and written into the event log.
  GET /state -> {"nodes", "pods", "events"}: events in order, e.g. {"kind": "cordon", "node"},
  {"kind": "evicted"|"refused", "namespace", "pod", "budget"?}, {"kind": "nodegroups", ...}.
"""

import base64
import datetime
import http.server
import ipaddress
import json
import os
import ssl
import sys
import tempfile
import threading
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LOG = sys.argv[1]
LOCK = threading.Lock()
NODES = {}  # name -> {"labels": {}, "unschedulable": bool}
PODS = {}  # (namespace, name) -> {"node", "labels", "owner", "mirror"}
PDBS = {}  # (namespace, name) -> {"selector": {}, "minAvailable": n}
EVENTS = []
ON_CORDON = {}


def certificate():
    """A cluster CA and the API server's certificate it signs (as EKS has: the CA that
    DescribeCluster returns is not the serving certificate; rustls refuses a CA used as one)."""
    now = datetime.datetime.now(datetime.timezone.utc)

    def builder(subject, issuer, public_key):
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=2))
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    ca = (
        builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")])
    cert = (
        builder(name, ca_name, key.public_key())
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    chain_pem = cert.public_bytes(serialization.Encoding.PEM) + ca_pem
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return ca_pem, chain_pem, key_pem


def node_object(name, node):
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": node["labels"]},
        "spec": {"unschedulable": node["unschedulable"]} if node["unschedulable"] else {},
    }


def pod_object(key, pod):
    namespace, name = key
    metadata = {"name": name, "namespace": namespace, "labels": pod["labels"]}
    if pod["owner"]:
        metadata["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": pod["owner"],
                "name": f"{name}-owner",
                "uid": f"uid-{namespace}-{name}-owner",
                "controller": True,
            }
        ]
    if pod["mirror"]:
        # Static pods' API copies carry this annotation (kubelet's mirror pods).
        metadata["annotations"] = {"kubernetes.io/config.mirror": "mirror-hash"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"nodeName": pod["node"], "containers": [{"name": "c", "image": "example"}]},
        "status": {"phase": "Running"},
    }


def status(code, reason, message, causes=None):
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure" if code >= 400 else "Success",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if causes:
        body["details"] = {"causes": causes}
    return code, body


def label_match(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def parse_label_selector(text):
    selector = {}
    for part in filter(None, (text or "").split(",")):
        key, _, value = part.partition("=")
        selector[key.strip()] = value.strip().lstrip("=")
    return selector


def token_ok(header):
    """EKS's authenticator: a `k8s-aws-v1.` token whose presigned URL names the cluster."""
    if not header or not header.startswith("Bearer k8s-aws-v1."):
        return False
    encoded = header[len("Bearer k8s-aws-v1.") :]
    try:
        url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except Exception:
        return False
    return "x-k8s-aws-id" in url.lower() and "GetCallerIdentity" in url


def record_nodegroups():
    if not ON_CORDON:
        return
    import boto3

    eks = boto3.client(
        "eks",
        endpoint_url=ON_CORDON["endpoint"],
        region_name=ON_CORDON["region"],
        aws_access_key_id=ON_CORDON["access_key"],
        aws_secret_access_key=ON_CORDON["secret"],
        aws_session_token=ON_CORDON.get("session_token"),
    )
    cluster = ON_CORDON["cluster"]
    statuses = {}
    for page in eks.get_paginator("list_nodegroups").paginate(clusterName=cluster):
        for name in page["nodegroups"]:
            described = eks.describe_nodegroup(clusterName=cluster, nodegroupName=name)
            statuses[name] = described["nodegroup"]["status"]
    EVENTS.append({"kind": "nodegroups", "statuses": statuses})


def evict(namespace, name):
    key = (namespace, name)
    if key not in PODS:
        return status(404, "NotFound", f'pods "{name}" not found')
    pod = PODS[key]
    for (pdb_namespace, pdb_name), pdb in sorted(PDBS.items()):
        if pdb_namespace != namespace or not label_match(pdb["selector"], pod["labels"]):
            continue
        healthy = sum(
            1
            for (ns, _), other in PODS.items()
            if ns == namespace and label_match(pdb["selector"], other["labels"])
        )
        if healthy - 1 < pdb["minAvailable"]:
            EVENTS.append(
                {"kind": "refused", "namespace": namespace, "pod": name, "budget": pdb_name}
            )
            return status(
                429,
                "TooManyRequests",
                "Cannot evict pod as it would violate the pod's disruption budget.",
                [
                    {
                        "reason": "DisruptionBudget",
                        "message": f"The disruption budget {pdb_name} needs {pdb['minAvailable']} healthy pods and has {healthy} currently",
                    }
                ],
            )
    del PODS[key]
    EVENTS.append({"kind": "evicted", "namespace": namespace, "pod": name})
    return status(201, "", "")


class Api(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def route(self, method):
        authorization = self.headers.get("Authorization") or ""
        with open(LOG, "a") as f:
            f.write(authorization + "\n")
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        parts = [p for p in url.path.split("/") if p]
        if url.path == "/version" and method == "GET":
            return 200, {
                "major": "1",
                "minor": "34",
                "gitVersion": "v1.34.0-eks",
                "platform": "linux/amd64",
            }
        if not token_ok(authorization):
            return status(401, "Unauthorized", "Unauthorized")
        body = self.body() if method in ("POST", "PATCH") else None
        with LOCK:
            if parts[:2] == ["api", "v1"] and parts[2:3] == ["nodes"]:
                if len(parts) == 3 and method == "GET":
                    selector = parse_label_selector(query.get("labelSelector"))
                    items = [
                        node_object(n, node)
                        for n, node in sorted(NODES.items())
                        if label_match(selector, node["labels"])
                    ]
                    return 200, {"apiVersion": "v1", "kind": "NodeList", "metadata": {}, "items": items}
                if len(parts) == 4:
                    name = parts[3]
                    if name not in NODES:
                        return status(404, "NotFound", f'nodes "{name}" not found')
                    if method == "PATCH":
                        wanted = bool(((body or {}).get("spec") or {}).get("unschedulable"))
                        if wanted and not NODES[name]["unschedulable"]:
                            EVENTS.append({"kind": "cordon", "node": name})
                            try:
                                record_nodegroups()
                            except Exception as e:  # the test sees it in the event log
                                EVENTS.append({"kind": "nodegroups", "error": str(e)})
                        NODES[name]["unschedulable"] = wanted
                    return 200, node_object(name, NODES[name])
            if parts[:2] == ["api", "v1"] and "pods" in parts:
                at = parts.index("pods")
                namespace = parts[3] if parts[2:3] == ["namespaces"] else None
                if len(parts) == at + 1 and method == "GET":
                    field = query.get("fieldSelector") or ""
                    node = field.split("=", 1)[1].lstrip("=") if field.startswith("spec.nodeName") else None
                    items = [
                        pod_object(key, pod)
                        for key, pod in sorted(PODS.items())
                        if (namespace is None or key[0] == namespace)
                        and (node is None or pod["node"] == node)
                    ]
                    return 200, {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}
                if len(parts) == at + 3 and parts[at + 2] == "eviction" and method == "POST":
                    return evict(namespace, parts[at + 1])
                if len(parts) == at + 2 and method == "GET":
                    key = (namespace, parts[at + 1])
                    if key not in PODS:
                        return status(404, "NotFound", f'pods "{key[1]}" not found')
                    return 200, pod_object(key, PODS[key])
        return status(404, "NotFound", f"the server could not find the requested resource ({method} {url.path})")

    def do_GET(self):
        self.answer(*self.route("GET"))

    def do_POST(self):
        self.answer(*self.route("POST"))

    def do_PATCH(self):
        self.answer(*self.route("PATCH"))

    def log_message(self, *args):
        pass


class Control(http.server.BaseHTTPRequestHandler):
    def answer(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with LOCK:
            self.answer(
                {
                    "nodes": {n: node_object(n, node) for n, node in NODES.items()},
                    "pods": [f"{ns}/{name}" for (ns, name) in sorted(PODS)],
                    "events": EVENTS,
                }
            )

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        with LOCK:
            if self.path == "/nodes":
                NODES[body["name"]] = {"labels": body.get("labels", {}), "unschedulable": False}
            elif self.path == "/pods":
                PODS[(body.get("namespace", "default"), body["name"])] = {
                    "node": body["node"],
                    "labels": body.get("labels", {}),
                    "owner": body.get("owner"),
                    "mirror": bool(body.get("mirror")),
                }
            elif self.path == "/pdbs":
                PDBS[(body.get("namespace", "default"), body["name"])] = {
                    "selector": body.get("selector", {}),
                    "minAvailable": int(body["minAvailable"]),
                }
            elif self.path == "/on-cordon":
                ON_CORDON.clear()
                ON_CORDON.update(body)
            else:
                self.send_response(404)
                self.end_headers()
                return
        self.answer({})

    def log_message(self, *args):
        pass


def main():
    ca_pem, cert_pem, key_pem = certificate()
    directory = tempfile.mkdtemp()
    cert_file = os.path.join(directory, "cert.pem")
    key_file = os.path.join(directory, "key.pem")
    with open(cert_file, "wb") as f:
        f.write(cert_pem)
    with open(key_file, "wb") as f:
        f.write(key_pem)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    control = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Control)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Thread(target=control.serve_forever, daemon=True).start()
    print(f"PORT {server.server_address[1]}", flush=True)
    print(f"CA {base64.b64encode(ca_pem).decode()}", flush=True)
    print(f"CONTROL {control.server_address[1]}", flush=True)
    sys.stdin.read()
    os._exit(0)


if __name__ == "__main__":
    main()
