"""A loopback fake of IAM Identity Center: the OIDC service (sso-oidc) and the SSO portal (sso).

moto has neither. This server answers the REST-JSON requests botocore sends, as AWS answers them:

  POST /client/register         RegisterClient
  POST /device_authorization    StartDeviceAuthorization
  POST /token                   CreateToken: device_code grant (authorization_pending, slow_down,
                                expired_token, then a token) and refresh_token grant
  GET  /federation/credentials  GetRoleCredentials (x-amz-sso_bearer_token header)
  GET  /assignment/accounts     ListAccounts (pages of at most 20, as the portal's)
  GET  /assignment/roles        ListAccountRoles (paged)
  POST /logout                  Logout

Pages end with an opaque `nextToken` good only for the listing it came from. `throttle(rate)` puts the
portal's calls behind a token bucket answering HTTP 429 TooManyRequestsException as the portal does;
`fail(operation, from_call)` makes that call fail from its Nth answer on.

Point botocore at it with AWS_ENDPOINT_URL_SSO_OIDC and AWS_ENDPOINT_URL_SSO (both `fake.url`).
A test plays the person at the browser with `approve(user_code)`, and orders shells renewing at once
with `hold_refreshes()`. A refresh token is good once, as at AWS: a spent one is refused (invalid_grant)
and counted in `reused_refresh_tokens`. Role credentials are real: the
fake assumes `AWSReservedSSO_<permission set>_<suffix>` in the requested account at moto's STS
(plain HTTP, so the fake needs nothing beyond the standard library),
so `aws sts get-caller-identity` with them names that account and role, as AWS would.
"""

import json
import random
import secrets
import threading
import time
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from xml.etree import ElementTree

from stsproxy import serve_loopback

# What AWS appends to a permission set's name in the role it provisions in each account.
ROLE_SUFFIX = "0123456789abcdef"
USER = "jane@example.com"


# The portal never pages ListAccounts by more than this, whatever max_result asks.
ACCOUNT_PAGE_LIMIT = 20
# Its throttled answer: the message Go's and JavaScript's SDKs both show for it (users' reports).
THROTTLED_MESSAGE = "HTTP 429 Unknown Code"


def role_name_in_account(permission_set: str) -> str:
    return f"AWSReservedSSO_{permission_set}_{ROLE_SUFFIX}"


def organization(count: int, namespace: str = "acme", seed: int = 26) -> dict:
    """`count` accounts for SsoFake, each with 1 to 3 permission sets; about 9 in 10 have
    AdministratorAccess (the share of the issue's 1,000-account portal)."""
    pick = random.Random(seed)
    accounts = {}
    for i in range(count):
        roles = pick.sample(["ReadOnlyAccess", "Billing", "PowerUserAccess"], pick.randint(0, 2))
        if pick.random() < 0.89 or not roles:
            roles.insert(pick.randint(0, len(roles)), "AdministratorAccess")
        accounts[str(100000000000 + i)] = {"name": f"{namespace}-s{i:04d}", "roles": roles}
    return accounts


class TokenBucket:
    """`rate` calls a second, `burst` at once; rate 0 and burst 0 answers nothing, ever."""

    def __init__(self, rate: float, burst: float):
        self.rate, self.capacity = rate, burst
        self.tokens, self.stamp = burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class SsoFake:
    def __init__(self, sts_url: str, accounts: dict, *, interval: int = 1, device_seconds: int = 600,
                 token_seconds: int = 8 * 3600, registration_seconds: int = 90 * 86400, page_size: int = 2,
                 role_page_size: int = None, role_seconds: int = 3600):
        """`accounts`: {account_id: {"name": ..., "email": ..., "roles": [permission set, ...]}};
        `page_size`: accounts (at most ACCOUNT_PAGE_LIMIT) and roles a page, `role_page_size` roles if not that."""
        self.sts_url = sts_url
        self.accounts = accounts
        self.interval = interval
        self.device_seconds = device_seconds
        self.token_seconds = token_seconds
        self.registration_seconds = registration_seconds
        self.page_size = page_size
        self.role_page_size = role_page_size or page_size
        self.role_seconds = role_seconds
        self.calls = []  # operation names, in order
        self.slow_down = 0  # answer slow_down to this many next device-code polls
        self.clients = {}  # clientId -> {"secret", "name", "expires"}
        self.devices = {}  # deviceCode -> {"user_code", "client", "expires", "approved", "used"}
        self.tokens = {}  # accessToken -> expires (epoch seconds)
        self.refresh_tokens = {}  # refreshToken -> clientId
        self.spent_refresh_tokens = set()
        self.reused_refresh_tokens = 0  # refresh grants that presented a spent refresh token
        self.held_refreshes = 0  # refresh grants waiting for release_refreshes()
        self._refresh_gate = None
        self.poll_times = []  # when each device-code poll arrived (monotonic)
        self.throttled = 0  # portal calls answered 429
        self._bucket = None  # TokenBucket of the portal's calls, when throttled
        self._failures = {}  # operation -> (from_call, status, code)
        self._next_tokens = {}  # nextToken -> (listing, offset)
        self._lock = threading.Lock()
        self._server, self.url = serve_loopback(self._handler())

    # What a test does as the person and as the administrator.

    def approve(self, user_code: str) -> None:
        """The person opens the verification URL and approves this code."""
        with self._lock:
            for device in self.devices.values():
                if device["user_code"] == user_code:
                    device["approved"] = True
                    return
        raise KeyError(f"no device authorization with user code {user_code}")

    def pending_user_codes(self) -> list:
        with self._lock:
            return [d["user_code"] for d in self.devices.values() if not d["approved"]]

    def expire_devices(self) -> None:
        """The device codes outlive their expiresIn: the next poll is answered expired_token."""
        with self._lock:
            for device in self.devices.values():
                device["expires"] = 0

    def throttle(self, rate: float, burst: float = None) -> None:
        """The portal answers `rate` calls a second (`burst`, default one second's worth, at once)
        and TooManyRequestsException to the rest; `throttle(0)` never lets up; `throttle(None)` lifts it."""
        with self._lock:
            self._bucket = None if rate is None else TokenBucket(rate, rate if burst is None else burst)

    def fail(self, operation: str, from_call: int, status: int = 500, code: str = "InternalServerException") -> None:
        """The `from_call`th answer of `operation` and every later one is this error (`fail(op, 0)`: none)."""
        with self._lock:
            self._failures[operation] = (from_call, status, code)

    def count(self, operation: str) -> int:
        with self._lock:
            return self.calls.count(operation)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.poll_times.clear()
            self.throttled = 0

    def cli_token(self, start_url: str, region: str, expires_in: int = None, refreshable: bool = True) -> dict:
        """A signed-in token in the AWS CLI v2 cache format, as `aws sso login` leaves it
        (negative `expires_in`: already expired)."""
        now = time.time()
        client_id, secret = self._register("test-cli")
        access = self._issue(now + (self.token_seconds if expires_in is None else expires_in))
        token = {
            "startUrl": start_url,
            "region": region,
            "accessToken": access,
            "expiresAt": _iso(now + (self.token_seconds if expires_in is None else expires_in)),
            "clientId": client_id,
            "clientSecret": secret,
            "registrationExpiresAt": _iso(self.clients[client_id]["expires"]),
        }
        if refreshable:
            token["refreshToken"] = self._issue_refresh(client_id)
        return token

    def hold_refreshes(self) -> None:
        """Refresh grants wait, counted in `held_refreshes`, until `release_refreshes()`."""
        with self._lock:
            self._refresh_gate = threading.Event()

    def release_refreshes(self) -> None:
        with self._lock:
            gate, self._refresh_gate = self._refresh_gate, None
        if gate:
            gate.set()

    def revoke_all(self) -> None:
        """Every access and refresh token stops working (the administrator signed the user out)."""
        with self._lock:
            self.tokens.clear()
            self.refresh_tokens.clear()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # Internals.

    def _register(self, name: str):
        client_id, secret = "client-" + secrets.token_hex(8), "secret-" + secrets.token_hex(16)
        with self._lock:
            self.clients[client_id] = {"secret": secret, "name": name, "expires": int(time.time()) + self.registration_seconds}
        return client_id, secret

    def _issue(self, expires: float) -> str:
        token = "aoa" + secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = expires
        return token

    def _issue_refresh(self, client_id: str) -> str:
        token = "aor" + secrets.token_urlsafe(24)
        with self._lock:
            self.refresh_tokens[token] = client_id
        return token

    def _admit(self) -> bool:
        """Whether the throttle lets a portal call through now."""
        with self._lock:
            if self._bucket is None or self._bucket.take():
                return True
            self.throttled += 1
            return False

    def _failure(self, operation: str):
        with self._lock:
            from_call, status, code = self._failures.get(operation, (0, 0, ""))
            return (status, code) if from_call and self.calls.count(operation) >= from_call else None

    def _next_token(self, listing: tuple, offset: int) -> str:
        token = secrets.token_urlsafe(48)
        with self._lock:
            self._next_tokens[token] = (listing, offset)
        return token

    def _offset(self, listing: tuple, token) -> int:
        """Where the page of `token` starts; -1 for a token not from this listing."""
        if not token:
            return 0
        with self._lock:
            found = self._next_tokens.get(token)
        return found[1] if found and found[0] == listing else -1

    def _valid_token(self, token) -> bool:
        with self._lock:
            return token in self.tokens and self.tokens[token] > time.time()

    def _role_credentials(self, account_id: str, permission_set: str) -> dict:
        """AssumeRole at moto's STS over plain HTTP (no boto3, so bench/run's own Python can run the fake)."""
        body = urllib.parse.urlencode({
            "Action": "AssumeRole", "Version": "2011-06-15", "RoleSessionName": USER, "DurationSeconds": self.role_seconds,
            "RoleArn": f"arn:aws:iam::{account_id}:role/{role_name_in_account(permission_set)}",
        }).encode()
        request = urllib.request.Request(self.sts_url, data=body, headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAFAKESSOPORTAL000/20260101/us-east-1/sts/aws4_request, "
                             "SignedHeaders=host, Signature=0",
        })
        with urllib.request.urlopen(request, timeout=30) as response:
            tree = ElementTree.fromstring(response.read())
        found = {e.tag.rsplit("}", 1)[-1]: e.text for e in tree.iter()}
        expiration = datetime.strptime(found["Expiration"][:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
        return {
            "accessKeyId": found["AccessKeyId"],
            "secretAccessKey": found["SecretAccessKey"],
            "sessionToken": found["SessionToken"],
            "expiration": int(expiration.timestamp() * 1000),
        }

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    request = json.loads(body or b"{}")
                except ValueError:
                    return self._error(400, "InvalidRequestException", {"error": "invalid_request"})
                path = urllib.parse.urlparse(self.path).path
                if path == "/client/register":
                    return self._register(request)
                if path == "/device_authorization":
                    return self._device_authorization(request)
                if path == "/token":
                    return self._token(request)
                if path == "/logout":
                    return self._logout()
                self._error(404, "ResourceNotFoundException", {"message": "no such path"})

            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
                operation = {
                    "/federation/credentials": "GetRoleCredentials",
                    "/assignment/accounts": "ListAccounts",
                    "/assignment/roles": "ListAccountRoles",
                }.get(url.path)
                if operation is None:
                    return self._error(404, "ResourceNotFoundException", {"message": "no such path"})
                if not fake._admit():
                    return self._error(429, "TooManyRequestsException", {"message": THROTTLED_MESSAGE})
                fake._record(operation)
                failure = fake._failure(operation)
                if failure:
                    return self._error(failure[0], failure[1], {"message": f"{failure[1]} (the fake, as asked)"})
                access_token = self.headers.get("x-amz-sso_bearer_token")
                if not fake._valid_token(access_token):
                    return self._error(401, "UnauthorizedException", {"message": "Session token not found or invalid"})
                if operation == "GetRoleCredentials":
                    return self._role_credentials(query)
                if operation == "ListAccounts":
                    accounts = [
                        {"accountId": a, "accountName": v["name"], "emailAddress": v.get("email", f"aws+{v['name']}@example.com")}
                        for a, v in sorted(fake.accounts.items())
                    ]
                    size = min(fake.page_size, ACCOUNT_PAGE_LIMIT)
                    return self._page("accountList", accounts, query, size, (operation, access_token))
                account = fake.accounts.get(query.get("account_id"))
                roles = [{"roleName": r, "accountId": query["account_id"]} for r in (account or {}).get("roles", [])]
                return self._page("roleList", roles, query, fake.role_page_size, (operation, access_token, query.get("account_id")))

            def _register(self, request):
                fake._record("RegisterClient")
                if request.get("clientType") != "public" or not request.get("clientName"):
                    return self._error(400, "InvalidClientMetadataException", {"error": "invalid_client_metadata"})
                client_id, secret = fake._register(request["clientName"])
                now = int(time.time())
                self._json({
                    "clientId": client_id, "clientSecret": secret, "clientIdIssuedAt": now,
                    "clientSecretExpiresAt": fake.clients[client_id]["expires"],
                })

            def _client_ok(self, request) -> bool:
                client = fake.clients.get(request.get("clientId"))
                return bool(client) and client["secret"] == request.get("clientSecret") and client["expires"] > time.time()

            def _device_authorization(self, request):
                fake._record("StartDeviceAuthorization")
                if not self._client_ok(request):
                    return self._error(400, "InvalidClientException", {"error": "invalid_client"})
                if not str(request.get("startUrl", "")).startswith("https://"):
                    return self._error(400, "InvalidRequestException", {"error": "invalid_request"})
                device_code = secrets.token_urlsafe(24)
                letters = secrets.token_hex(4).upper()
                user_code = f"{letters[:4]}-{letters[4:]}"
                with fake._lock:
                    fake.devices[device_code] = {
                        "user_code": user_code, "client": request["clientId"], "approved": False, "used": False,
                        "expires": time.time() + fake.device_seconds,
                    }
                verification = "https://device.sso.us-east-1.amazonaws.com/"
                self._json({
                    "deviceCode": device_code, "userCode": user_code, "verificationUri": verification,
                    "verificationUriComplete": f"{verification}?user_code={user_code}",
                    "expiresIn": fake.device_seconds, "interval": fake.interval,
                })

            def _token(self, request):
                fake._record("CreateToken")
                if not self._client_ok(request):
                    return self._error(400, "InvalidClientException", {"error": "invalid_client"})
                grant = request.get("grantType")
                if grant == "refresh_token":
                    with fake._lock:
                        gate = fake._refresh_gate
                        fake.held_refreshes += bool(gate)
                    if gate:
                        gate.wait(60)
                    with fake._lock:
                        fake.held_refreshes -= bool(gate)
                        presented = request.get("refreshToken")
                        owner = fake.refresh_tokens.pop(presented, None)
                        if owner is not None:
                            fake.spent_refresh_tokens.add(presented)
                        elif presented in fake.spent_refresh_tokens:
                            fake.reused_refresh_tokens += 1
                    if owner != request["clientId"]:
                        return self._error(400, "InvalidGrantException", {"error": "invalid_grant", "error_description": "Invalid refresh token provided"})
                    return self._new_token(request["clientId"])
                if grant != "urn:ietf:params:oauth:grant-type:device_code":
                    return self._error(400, "UnsupportedGrantTypeException", {"error": "unsupported_grant_type"})
                with fake._lock:
                    fake.poll_times.append(time.monotonic())
                    device = fake.devices.get(request.get("deviceCode"))
                    slow = fake.slow_down > 0
                    if slow:
                        fake.slow_down -= 1
                if device is None or device["client"] != request["clientId"] or device["used"]:
                    return self._error(400, "InvalidGrantException", {"error": "invalid_grant", "error_description": "Invalid grant provided"})
                if device["expires"] <= time.time():
                    return self._error(400, "ExpiredTokenException", {"error": "expired_token", "error_description": "Device code has expired"})
                if slow:
                    return self._error(400, "SlowDownException", {"error": "slow_down"})
                if not device["approved"]:
                    return self._error(400, "AuthorizationPendingException", {"error": "authorization_pending", "error_description": "Authorization is still pending"})
                device["used"] = True
                return self._new_token(request["clientId"])

            def _new_token(self, client_id):
                access = fake._issue(time.time() + fake.token_seconds)
                self._json({
                    "accessToken": access, "tokenType": "Bearer", "expiresIn": fake.token_seconds,
                    "refreshToken": fake._issue_refresh(client_id),
                })

            def _logout(self):
                if not fake._admit():
                    return self._error(429, "TooManyRequestsException", {"message": THROTTLED_MESSAGE})
                fake._record("Logout")
                token = self.headers.get("x-amz-sso_bearer_token")
                if not fake._valid_token(token):
                    return self._error(401, "UnauthorizedException", {"message": "Session token not found or invalid"})
                with fake._lock:
                    fake.tokens.pop(token, None)
                self._json(None)

            def _role_credentials(self, query):
                account = fake.accounts.get(query.get("account_id"))
                if not account or query.get("role_name") not in account.get("roles", []):
                    return self._error(403, "ForbiddenException", {"message": "No access"})
                self._json({"roleCredentials": fake._role_credentials(query["account_id"], query["role_name"])})

            def _page(self, key, items, query, most, listing):
                start = fake._offset(listing, query.get("next_token"))
                if start < 0:
                    return self._error(400, "InvalidRequestException", {"message": "Invalid pagination token"})
                size = min(int(query.get("max_result") or most), most)
                page = {key: items[start:start + size]}
                if start + size < len(items):
                    page["nextToken"] = fake._next_token(listing, start + size)
                self._json(page)

            def _json(self, value):
                data = b"" if value is None else json.dumps(value).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status, code, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("x-amzn-ErrorType", f"{code}:http://internal.amazon.com/coral/com.amazonaws.switchboard.portal/")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def _record(self, operation: str) -> None:
        with self._lock:
            self.calls.append(operation)


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
