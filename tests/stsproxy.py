"""A small HTTP layer in front of moto's STS server, for the tests.

moto accepts any MFA code and counts nothing; this proxy counts the STS calls
by action, and answers `AccessDenied` for the codes a test declares wrong and
`InvalidClientTokenId` for the access keys it declares unknown, as AWS does. Everything else goes to moto unchanged.

moto also trusts every AssumeRole; for the roles a test puts in `mfa_roles` (a trust policy requiring
aws:MultiFactorAuthPresent) the proxy answers `AccessDenied` unless the call carries SerialNumber and
TokenCode or is signed with an MFA session (GetSessionToken with a code). Role credentials carry no MFA
context through a chain, even when that role was assumed with a code. moto gives every GetSessionToken
the same keys, so the proxy gives each MFA session a session token of its own to know it by.

moto also ignores presigned URLs (an EKS token is one): a GET here is checked as STS checks it,
the SigV4 query signature against the credentials this proxy saw STS issue, the session token
and the 15 minutes from X-Amz-Date, then answered by moto for that access key (in JSON when asked).
"""

import datetime
import http.client
import json
import re
import secrets
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REJECTION = (
    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    "<Error><Type>Sender</Type><Code>AccessDenied</Code>"
    "<Message>MultiFactorAuthentication failed with invalid MFA one time pass code. </Message>"
    "</Error><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>"
)
DENIED = (
    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    "<Error><Type>Sender</Type><Code>AccessDenied</Code>"
    "<Message>User is not authorized to perform this action</Message>"
    "</Error><RequestId>5b1d2ca4-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>"
)
SIGNATURE = (
    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    "<Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code>"
    "<Message>{}</Message>"
    "</Error><RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId></ErrorResponse>"
)
UNKNOWN_KEY = (
    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    "<Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>"
    "<Message>The security token included in the request is invalid.</Message>"
    "</Error><RequestId>4d1c2ba4-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>"
)


def serve_loopback(handler) -> tuple:
    """An HTTP server for `handler` on a free port of 127.0.0.1, serving in a thread: (server, its URL).
    `server.shutdown(); server.server_close()` stops it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class StsProxy:
    def __init__(self, upstream: str):
        parsed = urllib.parse.urlparse(upstream)
        self.upstream = (parsed.hostname, parsed.port)
        self.calls = []  # (Action, TokenCode or None)
        # Each call's query parameters (STS bodies hold no secrets) and whether it was signed
        # with session credentials (the token itself is not kept).
        self.requests = []
        self.rejected_codes = set()
        # Access key ids STS does not know (deleted or rotated keys): InvalidClientTokenId, as AWS answers.
        self.unknown_keys = set()
        # Actions AWS refuses for now (a policy change, an SCP): AccessDenied, which botocore does not retry.
        self.denied_actions = set()
        # What STS issued through this proxy: access key id -> (secret, session token), for presigned URLs.
        self.issued = {}
        # Role ARNs whose trust policy requires MFA.
        self.mfa_roles = set()
        self._mfa_sessions = set()  # the session tokens of GetSessionToken calls made with a code
        self._lock = threading.Lock()
        self._server, self.url = serve_loopback(self._handler())

    def count(self, action: str) -> int:
        with self._lock:
            return sum(1 for a, _ in self.calls if a == action)

    def parameters(self, action: str) -> list:
        """The parameters of every `action` call so far, e.g. [{"DurationSeconds": "43200", ...}]."""
        with self._lock:
            return [dict(r) for r in self.requests if r["Action"] == action]

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.requests.clear()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _remember_issued(self, data: bytes) -> None:
        text = data.decode("utf-8", "replace")
        found = [re.search(f"<{k}>([^<]*)</{k}>", text) for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")]
        if all(found):
            with self._lock:
                self.issued[found[0].group(1)] = (found[1].group(1), found[2].group(1))

    def _presigned_problem(self, query: str, params: dict, headers) -> str:
        """Why STS would refuse this presigned GET ("" if it would not)."""
        from botocore.auth import SigV4QueryAuth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        try:
            key_id, _, region, service, _ = params["X-Amz-Credential"].split("/")
            signed = params["X-Amz-SignedHeaders"].split(";")
            date = datetime.datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
            expires = int(params["X-Amz-Expires"])
            signature = params["X-Amz-Signature"]
        except (KeyError, ValueError):
            return "not a presigned request"
        with self._lock:
            issued = self.issued.get(key_id)
        if issued is None:
            return f"the access key {key_id} was not issued by this STS"
        if params.get("X-Amz-Security-Token") != issued[1]:
            return "the security token does not belong to the access key"
        if abs(datetime.datetime.now(datetime.timezone.utc) - date) > datetime.timedelta(minutes=15):
            return "Signature expired (X-Amz-Date is more than 15 minutes away)"
        unsigned = "&".join(pair for pair in query.split("&") if not pair.startswith("X-Amz-Signature="))
        request = AWSRequest(method="GET", url=f"http://{headers.get('Host')}/?{unsigned}",
                             headers={h: headers.get(h, "") for h in signed if h != "host"})
        request.context["timestamp"] = params["X-Amz-Date"]
        auth = SigV4QueryAuth(Credentials(key_id, issued[0], issued[1]), service, region, expires=expires)
        expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
        return "" if expected == signature else "The request signature we calculated does not match the signature you provided"

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                params = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
                action = params.get("Action", ["?"])[0]
                code = params.get("TokenCode", [None])[0]
                with proxy._lock:
                    proxy.calls.append((action, code))
                    proxy.requests.append(
                        dict(
                            {k: v[0] for k, v in params.items()},
                            Action=action,
                            WithSessionToken="X-Amz-Security-Token" in self.headers,
                        )
                    )
                if code is not None and code in proxy.rejected_codes:
                    self._answer(403, REJECTION.encode(), "text/xml")
                    return
                if action in proxy.denied_actions:
                    self._answer(403, DENIED.encode(), "text/xml")
                    return
                signed_by = self.headers.get("Authorization", "").partition("Credential=")[2].partition("/")[0]
                if signed_by in proxy.unknown_keys:
                    self._answer(403, UNKNOWN_KEY.encode(), "text/xml")
                    return
                if action == "AssumeRole" and params.get("RoleArn", [None])[0] in proxy.mfa_roles:
                    with_code = code is not None and "SerialNumber" in params
                    with proxy._lock:
                        in_mfa_session = self.headers.get("X-Amz-Security-Token") in proxy._mfa_sessions
                    if not (with_code or in_mfa_session):
                        self._answer(403, DENIED.encode(), "text/xml")
                        return
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request("POST", self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                if action == "GetSessionToken" and code is not None and response.status == 200:
                    token = f"FQoGZXIvYXdzEMFASESSION{secrets.token_hex(16)}"
                    data = re.sub(rb"<SessionToken>[^<]*</SessionToken>", f"<SessionToken>{token}</SessionToken>".encode(), data)
                    with proxy._lock:
                        proxy._mfa_sessions.add(token)
                proxy._remember_issued(data)
                self._answer(response.status, data, response.getheader("Content-Type", "text/xml"))
                conn.close()

            def do_GET(self):
                query = urllib.parse.urlsplit(self.path).query
                params = {k: v[0] for k, v in urllib.parse.parse_qs(query, keep_blank_values=True).items()}
                action = params.get("Action", "?")
                with proxy._lock:
                    proxy.calls.append((action, None))
                    proxy.requests.append(dict(params, Action=action, Presigned=True))
                problem = proxy._presigned_problem(query, params, self.headers)
                if problem:
                    self._answer(403, SIGNATURE.format(problem).encode(), "text/xml")
                    return
                # moto reads the caller from an Authorization header (it checks no signature): give it one.
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                conn.request("POST", "/", body=f"Action={action}&Version={params.get('Version', '')}", headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Authorization": f"AWS4-HMAC-SHA256 Credential={params['X-Amz-Credential']}, SignedHeaders=host, Signature=0",
                })
                response = conn.getresponse()
                data, status = response.read(), response.status
                conn.close()
                if status == 200 and "application/json" in self.headers.get("Accept", ""):
                    fields = {k: re.search(f"<{k}>([^<]*)</{k}>", data.decode()).group(1) for k in ("Account", "Arn", "UserId")}
                    data = json.dumps({"GetCallerIdentityResponse": {"GetCallerIdentityResult": fields}}).encode()
                    self._answer(status, data, "application/json")
                else:
                    self._answer(status, data, response.getheader("Content-Type", "text/xml"))

            def _answer(self, status, data, content_type):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
