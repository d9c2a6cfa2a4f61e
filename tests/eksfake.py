"""Loopback stand-ins for what moto's EKS cannot be: a cluster's API server, and the EKS and ECR
answers a real account gives.

`KubeApiFake` is a TLS Kubernetes API server (its certificate made here) that authenticates
bearer tokens as aws-iam-authenticator does: the `k8s-aws-v1.` prefix, a presigned
GetCallerIdentity URL at the STS it was told of, the signed `x-k8s-aws-id` header naming its
cluster, an X-Amz-Date within 15 minutes, and the caller STS answers for that URL. It serves
the discovery documents and the namespace list that `kubectl get ns` asks for.

`ServiceProxy` forwards EKS and ECR calls to moto and fills in what moto leaves as placeholders:
a cluster's endpoint and CA become a KubeApiFake's, and an ECR password expires 12 hours from
now (moto says 2015); it counts calls by operation and refuses the ones a test denies.
"""

import base64
import datetime
import http.client
import json
import re
import ssl
import tempfile
import threading
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PREFIX = "k8s-aws-v1."
# The query parameters aws-iam-authenticator lets through; anything else is refused.
ALLOWED_PARAMETERS = {
    "action", "version", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires",
    "x-amz-security-token", "x-amz-signature", "x-amz-signedheaders",
}
TOKEN_WINDOW = datetime.timedelta(minutes=15)


def certificate(directory: Path) -> tuple:
    """A self-signed certificate for 127.0.0.1 (its own CA): (cert PEM path, key PEM path, cert PEM bytes)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver-fake")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path, key_path = directory / "apiserver.crt", directory / "apiserver.key"
    cert_path.write_bytes(pem)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path, pem


class TokenRefused(Exception):
    pass


def caller_of(token: str, cluster: str, sts_host: str, now: datetime.datetime, aliases=()) -> str:
    """The ARN STS answers for the token's presigned URL, after aws-iam-authenticator's checks; TokenRefused says which failed.
    A URL at a host of `aliases` (an AWS STS name, for a client that cannot be pointed at loopback) goes to
    `sts_host` with its own Host header, which its signature covers."""
    if not token.startswith(PREFIX):
        raise TokenRefused("no k8s-aws-v1. prefix")
    encoded = token[len(PREFIX):]
    if "=" in encoded:
        raise TokenRefused("padded base64")
    try:
        url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
    except ValueError:
        raise TokenRefused("not base64url")
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in (sts_host, *aliases) or parts.path != "/":
        raise TokenRefused(f"not a URL of the STS at {sts_host}: {parts.netloc}{parts.path}")
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    unknown = {k for k in query if k.lower() not in ALLOWED_PARAMETERS}
    if unknown:
        raise TokenRefused(f"unexpected query parameters {sorted(unknown)}")
    if any(len(v) != 1 for v in query.values()):
        raise TokenRefused("a repeated query parameter")
    one = {k.lower(): v[0] for k, v in query.items()}
    if one.get("action") != "GetCallerIdentity":
        raise TokenRefused(f"action {one.get('action')!r}, not GetCallerIdentity")
    if "x-k8s-aws-id" not in one.get("x-amz-signedheaders", "").split(";"):
        raise TokenRefused("x-k8s-aws-id is not a signed header")
    try:
        date = datetime.datetime.strptime(one["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    except (KeyError, ValueError):
        raise TokenRefused("no X-Amz-Date")
    if abs(now - date) > TOKEN_WINDOW:
        raise TokenRefused(f"X-Amz-Date {one['x-amz-date']} is more than 15 minutes from now")
    headers = {"x-k8s-aws-id": cluster, "Accept": "application/json", "Host": parts.netloc}
    request = urllib.request.Request(f"http://{sts_host}/?{parts.query}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as e:
        raise TokenRefused(f"STS refused the URL ({e.code}: {e.read()[:200]!r})")
    return answer["GetCallerIdentityResponse"]["GetCallerIdentityResult"]["Arn"]


def _namespace(name: str) -> dict:
    return {"kind": "Namespace", "apiVersion": "v1",
            "metadata": {"name": name, "uid": f"uid-{name}", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"phase": "Active"}}


DISCOVERY = {
    "/api": {"kind": "APIVersions", "versions": ["v1"],
             "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": []},
    "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
        {"name": "namespaces", "singularName": "namespace", "namespaced": False, "kind": "Namespace",
         "verbs": ["get", "list"], "shortNames": ["ns"]},
    ]},
    "/version": {"major": "1", "minor": "31", "gitVersion": "v1.31.0-eks-fake", "platform": "linux/amd64"},
}


class KubeApiFake:
    """A cluster's API server on https://127.0.0.1:PORT; `callers` holds the ARN of each authenticated
    request, `refusals` why each refused one was refused. Its namespaces: default and the cluster's name."""

    def __init__(self, cluster: str, sts_url: str, directory: Path, aliases=()):
        self.cluster = cluster
        self.sts_host = urllib.parse.urlsplit(sts_url).netloc
        self.aliases = tuple(aliases)
        self.callers, self.refusals = [], []
        self._lock = threading.Lock()
        cert_path, key_path, pem = certificate(Path(tempfile.mkdtemp(dir=directory)))
        self.certificate_authority = base64.b64encode(pem).decode("ascii")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"

    def authenticate(self, authorization: str) -> str:
        scheme, _, token = authorization.partition(" ")
        if scheme != "Bearer":
            raise TokenRefused("no bearer token")
        return caller_of(token, self.cluster, self.sts_host, datetime.datetime.now(datetime.timezone.utc), self.aliases)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                try:
                    caller = fake.authenticate(self.headers.get("Authorization", ""))
                except TokenRefused as e:
                    with fake._lock:
                        fake.refusals.append(str(e))
                    self._json(401, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                     "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
                    return
                with fake._lock:
                    fake.callers.append(caller)
                path = urllib.parse.urlsplit(self.path).path
                if path in DISCOVERY:
                    self._json(200, DISCOVERY[path])
                elif path == "/api/v1/namespaces":
                    self._json(200, self._namespaces())
                else:
                    self._json(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404})

            def _namespaces(self) -> dict:
                items = [_namespace(n) for n in ("default", fake.cluster)]
                if "as=Table" not in self.headers.get("Accept", ""):
                    return {"kind": "NamespaceList", "apiVersion": "v1", "metadata": {}, "items": items}
                return {
                    "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {},
                    "columnDefinitions": [
                        {"name": "Name", "type": "string", "format": "name", "description": "", "priority": 0},
                        {"name": "Status", "type": "string", "format": "", "description": "", "priority": 0},
                    ],
                    "rows": [{"cells": [i["metadata"]["name"], "Active"],
                              "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": i["metadata"]}}
                             for i in items],
                }

            def _json(self, status: int, document: dict) -> None:
                data = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


class ServiceProxy:
    """EKS and ECR in front of moto (point AWS_ENDPOINT_URL_EKS and _ECR at `url`). `clusters` maps a
    cluster name to the (endpoint, CA) DescribeCluster should give; `calls` lists operations by name;
    an operation in `denied` is refused with AccessDeniedException, as a role without the permission is."""

    def __init__(self, upstream: str):
        from stsproxy import serve_loopback

        parsed = urllib.parse.urlsplit(upstream)
        self.upstream = (parsed.hostname, parsed.port)
        self.clusters = {}
        self.calls = []
        self.denied = set()
        self._lock = threading.Lock()
        self._server, self.url = serve_loopback(self._handler())

    def count(self, operation: str) -> int:
        with self._lock:
            return self.calls.count(operation)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self._forward("GET")

            def do_POST(self):
                self._forward("POST")

            def _operation(self, method: str) -> str:
                target = self.headers.get("X-Amz-Target")
                if target:
                    return target.rsplit(".", 1)[-1]
                if re.fullmatch(r"/clusters/[^/?]+(\?.*)?", self.path):
                    return "DescribeCluster" if method == "GET" else "?"
                return "CreateCluster" if method == "POST" and self.path.startswith("/clusters") else f"{method} {self.path}"

            def _forward(self, method: str):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                operation = self._operation(method)
                with proxy._lock:
                    proxy.calls.append(operation)
                if operation in proxy.denied:
                    message = {"__type": "AccessDeniedException", "message": f"User is not authorized to perform: {operation}"}
                    self._answer(403, json.dumps(message).encode(), "application/json", {"x-amzn-ErrorType": "AccessDeniedException"})
                    return
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(method, self.path, body=body or None, headers=headers)
                response = conn.getresponse()
                data, status = response.read(), response.status
                extra = {k: v for k, v in response.getheaders() if k.lower().startswith("x-amzn")}
                content_type = response.getheader("Content-Type", "application/json")
                conn.close()
                if status == 200 and operation == "DescribeCluster":
                    data = self._cluster(data)
                elif status == 200 and operation == "GetAuthorizationToken":
                    data = self._twelve_hours(data)
                self._answer(status, data, content_type, extra)

            def _cluster(self, data: bytes) -> bytes:
                document = json.loads(data)
                found = proxy.clusters.get(document["cluster"]["name"])
                if found:
                    document["cluster"]["endpoint"], document["cluster"]["certificateAuthority"] = found[0], {"data": found[1]}
                return json.dumps(document).encode()

            def _twelve_hours(self, data: bytes) -> bytes:
                document = json.loads(data)
                later = datetime.datetime.now(datetime.timezone.utc).timestamp() + 12 * 3600
                for entry in document.get("authorizationData", []):
                    entry["expiresAt"] = later
                return json.dumps(document).encode()

            def _answer(self, status, data, content_type, extra):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
