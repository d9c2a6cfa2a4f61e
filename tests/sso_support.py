"""Identity Center fixtures: the sso-oidc + portal fake on 127.0.0.1 and a sandbox HOME whose AWS
config holds an `[sso-session]` and one SSO profile per stage (and a legacy `sso_start_url` one)."""

import hashlib
import json
import os
from pathlib import Path

import pytest

from conftest import BIN, clean_environ
from ssofake import SsoFake

START_URL = "https://acme.awsapps.com/start"
SSO_REGION = "us-east-1"
SESSION = "acme"
ACCOUNTS = {
    "111111111111": {"name": "acme-root", "roles": ["AdministratorAccess", "ReadOnlyAccess"]},
    "222222222222": {"name": "acme-prod", "roles": ["AdministratorAccess", "ReadOnlyAccess"]},
    "333333333333": {"name": "acme-testing", "roles": ["AdministratorAccess"]},
}
STAGE_ACCOUNTS = {"root": "111111111111", "prod": "222222222222", "testing": "333333333333"}

CONFIG = f"""# Identity Center, as `aws configure sso` writes it
[sso-session {SESSION}]
sso_start_url = {START_URL}
sso_region = {SSO_REGION}
sso_registration_scopes = sso:account:access

[profile acme-prod-admin]
sso_session = {SESSION}
sso_account_id = 222222222222
sso_role_name = AdministratorAccess
region = us-west-2

[profile acme-testing-admin]
sso_session = {SESSION}
sso_account_id = 333333333333
sso_role_name = AdministratorAccess
region = us-west-2

[profile acme-legacy-admin]
sso_start_url = {START_URL}
sso_region = {SSO_REGION}
sso_account_id = 111111111111
sso_role_name = ReadOnlyAccess
region = eu-west-1

# A role chain from Identity Center: the identity account's permission set, then the stage's role.
[profile acme-identity-sso]
sso_session = {SESSION}
sso_account_id = 111111111111
sso_role_name = AdministratorAccess

[profile acme-testing-terraform]
role_arn = arn:aws:iam::333333333333:role/terraform
source_profile = acme-identity-sso
region = us-west-2

[profile acme-prod-terraform]
role_arn = arn:aws:iam::222222222222:role/terraform
source_profile = acme-identity-sso
mfa_serial = arn:aws:iam::111111111111:mfa/jane
region = us-west-2
"""


def token_path(home: Path, name: str = SESSION) -> Path:
    """Where the AWS CLI v2 keeps the token of an sso-session (or of a legacy start URL)."""
    return home / ".aws" / "sso" / "cache" / (hashlib.sha1(name.encode()).hexdigest() + ".json")


def write_token(home: Path, token: dict, name: str = SESSION) -> Path:
    path = token_path(home, name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(json.dumps(token))
    path.chmod(0o600)
    return path


@pytest.fixture
def sso(sts):
    fake = SsoFake(sts.url, ACCOUNTS)
    yield fake
    fake.close()


@pytest.fixture
def sso_home(tmp_path):
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "config").write_text(CONFIG)
    return home


@pytest.fixture
def sso_env(sso_home, sts, sso):
    """A user of Identity Center: HOME, the local STS, sso-oidc and portal fakes, NAMESPACE=acme."""
    return dict(
        clean_environ(),
        HOME=str(sso_home),
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        AWS_ENDPOINT_URL_STS=sts.url,
        AWS_ENDPOINT_URL_SSO=sso.url,
        AWS_ENDPOINT_URL_SSO_OIDC=sso.url,
        AWS_EC2_METADATA_DISABLED="true",
        NAMESPACE="acme",
        PYTHONDONTWRITEBYTECODE="1",
    )
