"""The AWS CLI v2 (Debian's `awscli`, 2.9.19 on bookworm) as a second reference: its binary, the
environment that sends every client it makes to the loopback fakes, and `aws sso login` as a person
runs it.

2.9.19 ignores AWS_ENDPOINT_URL_*, and --endpoint-url does not reach the clients it makes while
resolving a profile (STS for a role, sso and sso-oidc for Identity Center). Its botocore reads endpoint
rule sets from AWS_DATA_PATH before its bundled data, so a rule set whose one rule is "this URL" sends
every client of that service there. Our own botocore reads AWS_DATA_PATH too: only a v2 process may
get this environment. The v1 CLI (PyPI) is the venv's bin/aws: call each by its path, never `aws`.
"""

import io
import json
import re
from pathlib import Path

import pexpect
import pytest

AWS = Path("/usr/bin/aws")
# The API versions 2.9.19 bundles (/usr/lib/python3/dist-packages/awscli/botocore/data/SERVICE/).
API_VERSIONS = {"sts": "2011-06-15", "sso": "2019-06-10", "sso-oidc": "2019-06-10"}
# The variables our code and the v1 CLI read for the same endpoints.
VARIABLES = {"sts": "AWS_ENDPOINT_URL_STS", "sso": "AWS_ENDPOINT_URL_SSO", "sso-oidc": "AWS_ENDPOINT_URL_SSO_OIDC"}
# An https request no rule set sent to loopback goes through this closed port: it fails, never leaves.
# (Only https: botocore picks the proxy for the endpoint it first resolved, AWS's, so the loopback
# fakes, plain http, must not have one.)
NOWHERE = "http://127.0.0.1:9"
USER_CODE = re.compile(r"Then enter the code:\s+([A-Z0-9]{4}-[A-Z0-9]{4})")


def write_endpoint_rules(directory: Path, endpoints: dict) -> Path:
    """A data directory in which each service's ({"sts": url, ...}) only endpoint is its url."""
    for service, url in endpoints.items():
        path = directory / service / API_VERSIONS[service] / "endpoint-rule-set-1.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({
            "version": "1.0",
            "parameters": {"Region": {"builtIn": "AWS::Region", "required": False, "type": "String"}},
            "rules": [{"conditions": [], "type": "endpoint", "endpoint": {"url": url, "properties": {}, "headers": {}}}],
        }))
    return directory


def environ(env: dict, directory: Path, endpoints: dict = None) -> dict:
    """`env` for a v2 process: the endpoints (by default the ones env's AWS_ENDPOINT_URL_* name) as
    rule sets written in `directory`."""
    if endpoints is None:
        endpoints = {service: env[name] for service, name in VARIABLES.items() if env.get(name)}
    return dict(env, AWS_DATA_PATH=str(write_endpoint_rules(directory, endpoints)), HTTPS_PROXY=NOWHERE)


def require() -> Path:
    """The v2 binary, or a failure that says how to install it (scripts/test does, as root)."""
    if not AWS.exists():
        pytest.fail(f"the AWS CLI v2 is not installed at {AWS}: apt-get install awscli (scripts/test does)")
    return AWS


def sso_login(env: dict, approve, *args, timeout: float = 60) -> str:
    """`aws sso login --no-browser ARGS` in a v2 environment, as a person runs it: read the code it
    prints, approve it (`approve(user_code)`, e.g. SsoFake.approve), wait for the end.
    Returns what it printed; fails unless it exits 0."""
    child = pexpect.spawn(str(require()), ["sso", "login", "--no-browser", *args], env=env, encoding="utf-8",
                          timeout=timeout)
    child.logfile_read = printed = io.StringIO()
    child.expect(USER_CODE)
    approve(child.match.group(1))
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, printed.getvalue()
    return printed.getvalue()
