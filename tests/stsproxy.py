"""A small HTTP layer in front of moto's STS server, for the tests.

moto accepts any MFA code and counts nothing; this proxy counts the STS calls
by action, and answers `AccessDenied` for the codes a test declares wrong and
`InvalidClientTokenId` for the access keys it declares unknown, as AWS does. Everything else goes to moto unchanged.

moto also trusts every AssumeRole; for the roles a test puts in `mfa_roles` (a trust policy requiring
aws:MultiFactorAuthPresent) the proxy answers `AccessDenied` unless the call carries SerialNumber and
TokenCode or is signed with an MFA session (GetSessionToken with a code). Role credentials carry no MFA
context through a chain, even when that role was assumed with a code. moto gives every GetSessionToken
the same keys, so the proxy gives each MFA session a session token of its own to know it by.
"""

import http.client
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
                self._answer(response.status, data, response.getheader("Content-Type", "text/xml"))
                conn.close()

            def _answer(self, status, data, content_type):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
