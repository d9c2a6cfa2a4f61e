"""The container credentials endpoint every AWS SDK and both AWS CLIs read
(AWS_CONTAINER_CREDENTIALS_FULL_URI with AWS_CONTAINER_AUTHORIZATION_TOKEN).

A GET that carries the token, from a process of this user (or root), gets
{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"} of the profile its path names. Anything
else gets 401 or 403 and no credentials; a renewal only a person can make gets an error that says
what to run. SDKs ask again by themselves before the credentials they hold run out.
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from geodesic_stage import clock, log
from geodesic_stage.errors import StageError
from geodesic_stage.lifetimes import SERVE_ANSWER_SECONDS, SERVE_IDLE_SECONDS
from geodesic_stage.serve.target import NotServed, Renewer

ROOT_UID = 0


def decide(method: str, path: str, authorization: str | None, token: str, peer_allowed: bool, credentials_for):
    """(HTTP status, JSON body) for one request. `credentials_for(path)` gives the Credentials of the
    profile the path names, or raises StageError (NotServed for a path that names none)."""
    if not peer_allowed:
        return 403, _error("AccessDenied", "this endpoint answers only its own user's processes")
    if authorization is None:
        return 401, _error("Unauthorized", "no Authorization header: send AWS_CONTAINER_AUTHORIZATION_TOKEN in it")
    from hmac import compare_digest

    if not compare_digest(authorization.encode("latin-1", "replace"), token.encode("latin-1")):
        return 403, _error("AccessDenied", "invalid Authorization token")
    if method != "GET":
        return 403, _error("AccessDenied", f"{method[:16]} is not served: credentials are read with GET")
    try:
        creds = credentials_for(path.split("?", 1)[0])
    except NotServed as e:
        return 404, _error("NotFound", e.message)
    except StageError as e:
        return 500, _error(type(e).__name__, e.message)
    return 200, {
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key,
        "Token": creds.session_token,
        "Expiration": clock.rfc3339(creds.expiration),
    }


def _error(code: str, message: str) -> dict:
    return {"Code": code, "Message": f"geodesic-stage: {message}"}


def peer_uid(client: tuple, server: tuple, tables=("/proc/net/tcp", "/proc/net/tcp6")) -> int | None:
    """The uid owning the client end of a loopback TCP connection, from the kernel's socket tables;
    None where there are none (no /proc) or the connection is not in them."""
    ends = {(_hex_address(client), _hex_address(server)), (_hex_address(client, 6), _hex_address(server, 6))}
    for table in tables:
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 7 and (fields[1], fields[2]) in ends:
                return int(fields[7])
    return None


def _hex_address(address: tuple, family: int = 4) -> str:
    """How /proc/net/tcp{,6} print an address: each 32-bit word of it in host order, then the port;
    an IPv4 address in tcp6 is the mapped ::ffff:a.b.c.d of a dual-stack socket."""
    packed = socket.inet_aton(address[0])
    if family == 6:
        packed = bytes(10) + b"\xff\xff" + packed
    words = (int.from_bytes(packed[i:i + 4], sys.byteorder) for i in range(0, len(packed), 4))
    return "".join(f"{word:08X}" for word in words) + f":{address[1]:04X}"


def allowed_uid(uid: int | None) -> bool:
    """This user's processes, and root's (which can read the token anyway: `sudo -E` keeps working)."""
    return uid is None or uid in (os.geteuid(), ROOT_UID)


class Server(socketserver.ThreadingMixIn, HTTPServer):
    """The HTTP server on a socket already listening (bound by the command, so it knew the port first)."""

    daemon_threads = True

    def __init__(self, listener, token: str, served):
        socketserver.BaseServer.__init__(self, listener.getsockname(), _Handler)
        self.socket = listener
        self.token = token
        self.served = served
        self.renewer = Renewer()

    def credentials_for(self, path: str):
        targets = self.served.targets() or {}
        target = targets.get(path)
        if target is None:
            raise NotServed(f"nothing is served at {path[:80]} (the shell logged out, or used another profile)")
        return self.renewer.credentials(target)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as SDKs' connection pools expect
    server_version = "geodesic-stage"
    sys_version = ""
    timeout = SERVE_IDLE_SECONDS

    def __getattr__(self, name):
        # Every method (do_GET, do_POST, do_PUT, ...) gets the one answer, which refuses all but GET.
        if name.startswith("do_"):
            return self._answer
        raise AttributeError(name)

    def _answer(self):
        uid = peer_uid(self.client_address, self.server.server_address)
        status, body = decide(
            self.command, self.path, self.headers.get("Authorization"), self.server.token, allowed_uid(uid),
            self.server.credentials_for,
        )
        data = json.dumps(body).encode("utf-8")
        if self.command != "GET":
            # A body we did not read would be taken for the next request on this connection.
            self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        if status != 200:
            log.debug(f"credential endpoint: {status} for {self.command} {self.path[:80]} from uid {uid}")

    def log_message(self, format, *args):
        log.debug("credential endpoint: " + format % args)


def served_credentials():
    """The credentials this shell's endpoint serves (status --verify and console ask it as any client would)."""
    return fetch(os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"], os.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN", ""))


def fetch(url: str, token: str):
    """The credentials an endpoint serves, read as a client reads them."""
    import urllib.error
    import urllib.request

    from geodesic_stage.model import Credentials

    request = urllib.request.Request(url, headers={"Authorization": token})
    try:
        with urllib.request.urlopen(request, timeout=SERVE_ANSWER_SECONDS) as response:
            body = json.load(response)
        return Credentials(
            body["AccessKeyId"], body["SecretAccessKey"], body["Token"], clock.parse_timestamp(body["Expiration"])
        )
    except urllib.error.HTTPError as e:
        try:
            said = json.load(e).get("Message") or ""
        except (ValueError, AttributeError, OSError):
            said = ""
        raise StageError(said.removeprefix("geodesic-stage: ") or f"the credential endpoint {url} answered {e.code}")
    except OSError as e:
        raise StageError(f"the credential endpoint {url} did not answer ({getattr(e, 'reason', None) or e})")
    except (ValueError, KeyError, TypeError):
        raise StageError(f"the credential endpoint {url} gave something other than credentials")
