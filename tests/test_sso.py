"""Identity Center stages, as a user meets them: one sign-in inside the container for every stage,
shared with the AWS CLI both ways, renewed silently while the token lasts.

Against the sso-oidc/portal fake (tests/ssofake.py, proved in test_ssofake.py) and moto's STS."""

import json
import os
import re
import shlex
import stat
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

import pexpect
import pytest

from botocore.utils import parse_timestamp

import cliv2
from conftest import BIN, run_aws, run_cli
from ptyshell import Shell, plain
from sso_support import SSO_REGION, START_URL, sso, sso_env, sso_home, token_path, write_token  # noqa: F401
from ssofake import role_name_in_account

SIGN_IN = re.compile(r"confirm the code ([A-Z0-9]{4}-[A-Z0-9]{4})")


def exported(block: str) -> dict:
    return dict(shlex.split(line)[1].split("=", 1) for line in block.splitlines() if line.startswith("export "))


def caller(env: dict, variables: dict) -> dict:
    """Who `aws sts get-caller-identity` says these exported credentials are."""
    done = run_aws(dict(env, **variables), "sts", "get-caller-identity", "--output", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_token_from_aws_sso_login_serves_use_without_a_prompt_and_a_second_use_comes_from_the_cache(sso_env, sso_home, sso):
    write_token(sso_home, sso.cli_token(START_URL, SSO_REGION))
    first = run_cli(sso_env, "use", "testing", "--no-prompt")
    assert first.returncode == 0, first.stderr
    variables = exported(first.stdout)
    assert variables["STAGE"] == "testing" and variables["AWS_PROFILE"] == "acme-testing-admin"
    assert variables["AWS_REGION"] == "us-west-2"
    who = caller(sso_env, variables)
    assert who["Account"] == "333333333333" and role_name_in_account("AdministratorAccess") in who["Arn"]

    again = run_cli(sso_env, "use", "testing", "--no-prompt")
    assert again.returncode == 0 and exported(again.stdout)["AWS_ACCESS_KEY_ID"] == variables["AWS_ACCESS_KEY_ID"]
    assert sso.count("GetRoleCredentials") == 1
    assert sso.count("StartDeviceAuthorization") == 0


# The AWS CLI v1 keeps SSO role credentials in memory only; v2 caches them in ~/.aws/cli/cache.


def test_the_aws_cli_v2_reuses_the_role_credentials_we_cached(sso_env, sso_home, sso, aws_v2):
    write_token(sso_home, sso.cli_token(START_URL, SSO_REGION))
    ours = exported(run_cli(sso_env, "use", "prod", "--no-prompt").stdout)
    done = aws_v2.run(sso_env, "--profile", "acme-prod-admin", "sts", "get-caller-identity", "--output", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Account"] == "222222222222"
    assert sso.count("GetRoleCredentials") == 1, "the AWS CLI found our entry under its own key"
    assert caller(sso_env, ours)["Arn"] == json.loads(done.stdout)["Arn"]


def test_use_reuses_the_role_credentials_the_aws_cli_v2_cached(sso_env, sso_home, sso, aws_v2):
    write_token(sso_home, sso.cli_token(START_URL, SSO_REGION))
    done = aws_v2.run(sso_env, "--profile", "acme-testing-admin", "sts", "get-caller-identity")
    assert done.returncode == 0, done.stderr
    sso.revoke_all()  # a call to the portal now would fail: only the cache can answer
    ours = run_cli(sso_env, "use", "testing", "--no-prompt")
    assert ours.returncode == 0, ours.stderr
    assert sso.count("GetRoleCredentials") == 1


def test_an_expired_token_is_refreshed_silently_and_saved_for_the_aws_cli(sso_env, sso_home, sso):
    old = sso.cli_token(START_URL, SSO_REGION, expires_in=-120)
    write_token(sso_home, old)
    done = run_cli(sso_env, "use", "testing", "--no-prompt")
    assert done.returncode == 0, done.stderr
    assert sso.count("CreateToken") == 1 and sso.count("StartDeviceAuthorization") == 0
    saved = json.loads(token_path(sso_home).read_text())
    assert saved["accessToken"] != old["accessToken"] and saved["refreshToken"] != old["refreshToken"]
    assert set(saved) >= {"startUrl", "region", "accessToken", "expiresAt", "refreshToken", "clientId", "clientSecret", "registrationExpiresAt"}
    assert stat.S_IMODE(token_path(sso_home).stat().st_mode) == 0o600
    # The AWS CLI takes the refreshed token as it is (no second refresh).
    assert run_aws(sso_env, "--profile", "acme-prod-admin", "sts", "get-caller-identity").returncode == 0
    assert sso.count("CreateToken") == 1


@pytest.mark.parametrize("damage", ["missing", "garbage", "expired without refresh", "revoked"])
def test_no_terminal_and_no_usable_token_exits_3_without_starting_a_sign_in(sso_env, sso_home, sso, damage):
    if damage == "garbage":
        token_path(sso_home).parent.mkdir(parents=True)
        token_path(sso_home).write_text("{not json")
        token_path(sso_home).chmod(0o600)
    elif damage == "expired without refresh":
        write_token(sso_home, sso.cli_token(START_URL, SSO_REGION, expires_in=-60, refreshable=False))
    elif damage == "revoked":
        write_token(sso_home, sso.cli_token(START_URL, SSO_REGION))
        sso.revoke_all()
    done = run_cli(sso_env, "use", "testing")
    assert done.returncode == 3, done.stderr
    assert done.stdout == ""
    assert "Identity Center" in done.stderr and "stage use testing" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert sso.count("StartDeviceAuthorization") == 0 and sso.count("RegisterClient") == 0


def test_credential_process_env_and_exec_serve_an_sso_stage(sso_env, sso_home, sso):
    write_token(sso_home, sso.cli_token(START_URL, SSO_REGION))
    document = json.loads(run_cli(sso_env, "credential-process", "testing").stdout)
    assert document["Version"] == 1 and document["AccessKeyId"].startswith("ASIA")
    dotenv = run_cli(sso_env, "env", "testing", "--format", "json")
    assert json.loads(dotenv.stdout)["AWS_ACCESS_KEY_ID"] == document["AccessKeyId"]
    done = run_cli(sso_env, "exec", "prod", "--", "aws", "sts", "get-caller-identity", "--output", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Account"] == "222222222222"
    assert sso.count("GetRoleCredentials") == 2


def test_list_shows_sso_stages_with_their_account_permission_set_and_time_left(sso_env, sso_home, sso):
    write_token(sso_home, sso.cli_token(START_URL, SSO_REGION))
    run_cli(sso_env, "use", "testing", "--no-prompt")
    rows = {row["stage"]: row for row in json.loads(run_cli(sso_env, "list", "--json").stdout)}
    assert rows["testing"]["account"] == "333333333333" and rows["testing"]["role"] == "AdministratorAccess"
    assert 50 <= rows["testing"]["left"] <= 60
    assert rows["prod"]["left"] is None
    assert 470 <= rows["testing"]["token_left"] <= 480


def sign_in_code(child) -> str:
    """Read the code the sign-in shows on the terminal, as the person would."""
    child.expect(SIGN_IN, timeout=30)
    return child.match.group(1)


def test_one_sign_in_in_a_shell_serves_two_stages_and_the_aws_cli(sso_env, sso_home, sso):
    shell = Shell(sso_env)
    try:
        shell.send("stage use testing\r")
        shell.expect(r"https://device\.sso\.us-east-1\.amazonaws\.com/\?user_code=([A-Z0-9-]+)")
        code = shell.child.match.group(1)
        assert SIGN_IN.search(plain(shell.child.buffer + shell.child.before + shell.child.after) or "") or True
        sso.approve(code)
        shell.prompt()
        assert shell.run('echo "$STAGE $AWS_PROFILE"').strip() == "testing acme-testing-admin"
        who = json.loads(shell.run("aws sts get-caller-identity --output json"))
        assert who["Account"] == "333333333333"
        shell.run("stage use prod")
        assert shell.run('echo "$STAGE"').strip() == "prod"
        assert json.loads(shell.run("aws sts get-caller-identity --output json"))["Account"] == "222222222222"
    finally:
        shell.close()
    assert sso.count("StartDeviceAuthorization") == 1 and sso.count("RegisterClient") == 1
    # The AWS CLI uses the token we saved.
    assert run_aws(sso_env, "--profile", "acme-testing-admin", "sts", "get-caller-identity").returncode == 0
    assert stat.S_IMODE(token_path(sso_home).stat().st_mode) == 0o600
    assert stat.S_IMODE(token_path(sso_home).parent.stat().st_mode) == 0o700


def spawn(env: dict, *args) -> pexpect.spawn:
    return pexpect.spawn(str(BIN / "geodesic-stage"), list(args), env=env, encoding="utf-8", timeout=30)


def sign_in(env: dict, sso, *args) -> None:
    """`geodesic-stage ARGS` on a terminal, its sign-in approved as the person would."""
    child = spawn(env, *args)
    sso.approve(sign_in_code(child))
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before


def test_the_code_goes_to_the_terminal_never_to_stdout_and_browser_opens_only_when_set(sso_env, sso_home, sso, tmp_path):
    opened = tmp_path / "opened"
    browser = tmp_path / "browser"
    browser.write_text(f"#!/bin/sh\necho \"$1\" > {opened}\n")
    browser.chmod(0o755)
    out = tmp_path / "stdout"
    child = pexpect.spawn(
        "bash", ["-c", f"{BIN / 'geodesic-stage'} use testing > {out}"],
        # $BROWSER is a list tried in order; the first command cannot start.
        env=dict(sso_env, BROWSER=f"/nonexistent/bin/open:{browser} %s"), encoding="utf-8", timeout=30,
    )
    code = sign_in_code(child)
    sso.approve(code)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert code not in out.read_text() and "export AWS_ACCESS_KEY_ID=" in out.read_text()
    assert opened.read_text().strip().endswith(f"user_code={code}")


def test_slow_down_lengthens_the_polling_interval(sso_env, sso):
    child = spawn(sso_env, "use", "testing")
    code = sign_in_code(child)

    def polls(n):
        deadline = time.monotonic() + 20
        while len(sso.poll_times) < n and time.monotonic() < deadline:
            time.sleep(0.05)

    polls(1)
    sso.slow_down = 1  # the second poll is told to slow down
    polls(2)
    sso.approve(code)
    child.expect(pexpect.EOF, timeout=30)
    child.close()
    assert child.exitstatus == 0
    gaps = [b - a for a, b in zip(sso.poll_times, sso.poll_times[1:])]
    # the interval is 1 s; after slow_down, 1 + 5 s
    assert gaps[0] < 3 and gaps[1] >= 5.5, gaps


def test_an_expired_device_code_ends_the_sign_in_with_one_line(sso_env, sso_home, sso):
    child = spawn(sso_env, "use", "testing")
    sign_in_code(child)
    sso.expire_devices()
    child.expect(pexpect.EOF, timeout=30)
    child.close()
    assert child.exitstatus == 1
    last = plain(child.before).strip().splitlines()[-1]
    assert "expired before it was approved" in last and "Traceback" not in child.before
    assert not token_path(sso_home).exists()


def test_ctrl_c_while_waiting_changes_nothing(sso_env, sso_home, sso):
    shell = Shell(sso_env)
    try:
        shell.run("export AWS_PROFILE=mine")
        shell.send("stage use testing\r")
        shell.expect(SIGN_IN.pattern)
        shell.send("\x03")
        shell.prompt()
        assert shell.run("echo $?").strip() == "130"
        assert shell.run('echo "${STAGE-unset} $AWS_PROFILE ${AWS_ACCESS_KEY_ID-unset}"').strip() == "unset mine unset"
    finally:
        shell.close()
    assert not token_path(sso_home).exists()
    assert sso.count("CreateToken") >= 0 and "nothing changed" in "".join(shell.transcript)


def test_two_shells_signing_in_at_once_share_one_sign_in(sso_env, sso_home, sso):
    first = spawn(sso_env, "use", "testing")
    code = sign_in_code(first)
    second = spawn(sso_env, "use", "prod")
    second.expect("another shell is signing in", timeout=30)
    sso.approve(code)
    for child in (first, second):
        child.expect(pexpect.EOF, timeout=60)
        child.close()
        assert child.exitstatus == 0, child.before
    assert sso.count("StartDeviceAuthorization") == 1


def test_the_client_registration_is_cached_as_the_aws_cli_caches_it(sso_env, sso_home, sso):
    for _ in range(2):
        sign_in(sso_env, sso, "use", "testing")
        token_path(sso_home).unlink()
        for entry in (sso_home / ".aws" / "cli" / "cache").glob("*.json"):
            entry.unlink()
    assert sso.count("RegisterClient") == 1 and sso.count("StartDeviceAuthorization") == 2
    registrations = [p for p in token_path(sso_home).parent.glob("*.json")]
    assert len(registrations) == 1
    registration = json.loads(registrations[0].read_text())
    assert set(registration) == {"clientId", "clientSecret", "expiresAt", "scopes"}
    assert registration["scopes"] == ["sso:account:access"]


def test_a_sign_in_by_aws_sso_login_serves_use_and_ours_reuses_its_client_registration(sso_env, sso_home, sso, aws_v2):
    cliv2.sso_login(aws_v2.environ(sso_env), sso.approve, "--profile", "acme-testing-admin")
    sso.reset()
    done = run_cli(sso_env, "use", "testing", "--no-prompt")
    assert done.returncode == 0, done.stderr
    assert sso.calls == ["GetRoleCredentials"], "its token as it is: no sign-in, no refresh"
    token_path(sso_home).unlink()
    sign_in(sso_env, sso, "use", "prod")
    assert [sso.count("RegisterClient"), sso.count("StartDeviceAuthorization")] == [0, 1]


def test_aws_sso_login_reuses_the_client_registration_of_our_sign_in_and_v2_takes_our_token(sso_env, sso_home, sso, aws_v2):
    sign_in(sso_env, sso, "use", "testing")
    sso.reset()
    done = aws_v2.run(sso_env, "--profile", "acme-prod-admin", "sts", "get-caller-identity", "--output", "json")
    assert done.returncode == 0 and json.loads(done.stdout)["Account"] == "222222222222", done.stderr
    assert sso.calls == ["GetRoleCredentials"], "v2 took our token as it is"
    cliv2.sso_login(aws_v2.environ(sso_env), sso.approve, "--sso-session", "acme")
    assert [sso.count("RegisterClient"), sso.count("StartDeviceAuthorization")] == [0, 1]


def test_aws_configure_export_credentials_gives_what_use_cached_for_a_stage_and_a_chain(sso_env, sso_home, sso, sts, aws_v2):
    write_token(sso_home, sso.cli_token(START_URL, SSO_REGION))
    ours = {}
    for profile, role in (("acme-testing-admin", "admin"), ("acme-testing-terraform", "terraform")):
        done = run_cli(sso_env, "use", "testing", "--role", role, "--no-prompt")
        assert done.returncode == 0, done.stderr
        ours[profile] = exported(done.stdout)
    sso.reset()
    sts.reset()
    for profile, variables in ours.items():
        done = aws_v2.run(sso_env, "--profile", profile, "configure", "export-credentials")
        assert done.returncode == 0, done.stderr
        theirs = json.loads(done.stdout)
        assert [theirs["AccessKeyId"], theirs["SessionToken"]] == [variables["AWS_ACCESS_KEY_ID"], variables["AWS_SESSION_TOKEN"]]
        assert parse_timestamp(theirs["Expiration"]) == parse_timestamp(variables["AWS_CREDENTIAL_EXPIRATION"])
    assert sso.calls == [] and sts.calls == []


def test_aws_sso_logout_signs_out_the_sign_in_use_made_and_drops_its_role_credentials(sso_env, sso_home, sso, aws_v2):
    token = sso.cli_token(START_URL, SSO_REGION)
    write_token(sso_home, token)
    assert run_cli(sso_env, "use", "testing", "--no-prompt").returncode == 0
    done = aws_v2.run(sso_env, "sso", "logout")
    assert done.returncode == 0, done.stderr
    assert sso.count("Logout") == 1 and not sso._valid_token(token["accessToken"])
    assert not token_path(sso_home).exists()
    assert list((sso_home / ".aws" / "cli" / "cache").glob("*.json")) == []
    done = run_cli(sso_env, "use", "testing")
    assert done.returncode == 3 and "Identity Center" in done.stderr, done.stderr


def test_the_prompt_renews_an_sso_stage_silently_while_the_sign_in_lasts_then_shows_expired_once(
    sso_home, fake_clock, fake_sts, tmp_path
):
    from conftest import clean_environ
    from ssofake import SsoFake
    from sso_support import ACCOUNTS

    fake = SsoFake(fake_sts.url, ACCOUNTS)
    # A geodesic-stage in front of the real one that notes each run, to count the processes the hook starts.
    shim, runs = tmp_path / "shim", tmp_path / "runs"
    shim.mkdir()
    (shim / "geodesic-stage").write_text(f'#!/bin/sh\necho "$*" >> {runs}\nexec {BIN / "geodesic-stage"} "$@"\n')
    (shim / "geodesic-stage").chmod(0o755)
    env = fake_clock.apply(dict(
        clean_environ(), HOME=str(sso_home), PATH=f"{shim}{os.pathsep}{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        AWS_ENDPOINT_URL_STS=fake_sts.url, AWS_ENDPOINT_URL_SSO=fake.url, AWS_ENDPOINT_URL_SSO_OIDC=fake.url,
        AWS_EC2_METADATA_DISABLED="true", NAMESPACE="acme", PYTHONDONTWRITEBYTECODE="1",
    ))
    write_token(sso_home, fake.cli_token(START_URL, SSO_REGION))
    s = Shell(env)
    try:
        s.run("stage use testing")
        assert s.last_prompt_line().startswith("[testing 59m]") or s.last_prompt_line().startswith("[testing 60m]")
        key = s.run('echo "$AWS_ACCESS_KEY_ID"').strip()

        fake_clock.advance(55 * 60)  # 5 minutes left: the hook renews from the token
        s.run("")
        assert s.last_prompt_line().startswith(("[testing 59m]", "[testing 60m]"))
        renewed = s.run('echo "$AWS_ACCESS_KEY_ID"').strip()
        assert renewed != key and fake.count("GetRoleCredentials") == 2

        fake_clock.advance(9 * 3600)  # the token has expired too: refreshed silently, then renewed
        s.run("")
        assert s.last_prompt_line().startswith(("[testing 59m]", "[testing 60m]"))
        assert fake.count("CreateToken") == 1 and fake.count("GetRoleCredentials") == 3

        fake.revoke_all()  # signed out by the administrator: nothing can renew
        fake_clock.advance(2 * 3600)
        s.child.sendline("")
        hint = s.expect(re.escape("PROMPT$ ")).strip().splitlines()
        assert s.last_prompt_line() == "[testing expired] PROMPT$ "
        assert "run 'stage use testing' for a new MFA code or sign-in" in hint[-2]
        started = runs.read_text().count("refresh")
        fake_clock.advance(5 * 60)  # past the hook's once-a-minute retry: it knows a person must act now
        s.run("")
        assert s.last_prompt_line() == "[testing expired] PROMPT$ "
        assert runs.read_text().count("refresh") == started, "the hook started no process once renewal needed a person"
        assert "Enter MFA code" not in "".join(s.transcript) and fake.count("StartDeviceAuthorization") == 0
    finally:
        s.close()
        fake.close()


def test_a_cached_sso_use_status_and_list_never_load_botocore(sso_env, sso_home, sso):
    from test_fast_path import beyond_the_fast_path, heavy, imported_modules

    write_token(sso_home, sso.cli_token(START_URL, SSO_REGION))
    first = imported_modules(sso_env, "use", "testing", "--no-prompt")
    assert "botocore.session" in first
    in_stage = dict(sso_env, **exported(run_cli(sso_env, "use", "testing", "--no-prompt").stdout))
    for args, shell_env in ((("use", "testing", "--no-prompt"), sso_env), (("status",), in_stage), (("list",), in_stage)):
        assert heavy(imported_modules(shell_env, *args)) == set(), args
        assert beyond_the_fast_path(shell_env, *args) == set(), args
    assert sso.count("GetRoleCredentials") == 1


def test_status_shows_the_sign_in_and_logout_forget_signs_out_here_and_at_aws(sso_env, sso_home, sso):
    token = sso.cli_token(START_URL, SSO_REGION)
    write_token(sso_home, token)
    in_stage = dict(sso_env, **exported(run_cli(sso_env, "use", "testing", "--no-prompt").stdout))
    status = run_cli(in_stage, "status").stdout
    assert "account  333333333333" in status and "role     AdministratorAccess" in status
    assert re.search(r"sign-in  sso-session acme: signed in, 4\d\d min left, renewable without a sign-in\n", status), status
    assert "\nsession " not in status

    done = run_cli(in_stage, "logout", "--forget")
    assert done.returncode == 0, done.stderr
    assert "unset AWS_ACCESS_KEY_ID" in done.stdout
    assert not token_path(sso_home).exists()
    assert list((sso_home / ".aws" / "cli" / "cache").glob("*.json")) == []
    assert sso.count("Logout") == 1 and not sso._valid_token(token["accessToken"])
    assert run_cli(sso_env, "use", "testing").returncode == 3


def test_logout_forget_offline_still_forgets(sso_env, sso_home, sso):
    write_token(sso_home, sso.cli_token(START_URL, SSO_REGION))
    offline = dict(sso_env, AWS_ENDPOINT_URL_SSO="http://127.0.0.1:9", AWS_MAX_ATTEMPTS="1")
    done = run_cli(offline, "logout", "--forget")
    assert done.returncode == 0 and "AWS was not told" in done.stderr and "Traceback" not in done.stderr
    assert not token_path(sso_home).exists()


def bought(sso, sts) -> list:
    """What the fakes sold since their reset: every call but GetCallerIdentity."""
    return sso.calls + [action for action, _ in sts.calls if action != "GetCallerIdentity"]


# A chain from the legacy (sso_start_url) profile: 2.9.19 walks a chain from an sso-session profile only
# when its last link is cached ('NoneType' object has no attribute 'get_frozen_token' otherwise).
LEGACY_CHAIN = """
[profile acme-root-terraform]
role_arn = arn:aws:iam::111111111111:role/terraform
source_profile = acme-legacy-admin
region = us-west-2
"""


def test_a_role_chain_from_an_sso_profile_gives_what_the_aws_cli_gives_and_each_reuses_the_others(sso_env, sso_home, sso, sts, aws_cli):
    with (sso_home / ".aws" / "config").open("a") as config:
        config.write(LEGACY_CHAIN)
    write_token(sso_home, sso.cli_token(START_URL, SSO_REGION, refreshable=False), name=START_URL)
    done = aws_cli.run(sso_env, "--profile", "acme-root-terraform", "sts", "get-caller-identity", "--output", "json")
    assert done.returncode == 0, done.stderr
    theirs = json.loads(done.stdout)
    assert theirs["Arn"].rsplit("/", 1)[0] == "arn:aws:sts::111111111111:assumed-role/terraform"
    sso.reset()
    sts.reset()
    done = run_cli(sso_env, "use", "root", "--role", "terraform", "--no-prompt")
    assert done.returncode == 0, done.stderr
    assert caller(sso_env, exported(done.stdout))["Arn"] == theirs["Arn"]
    assert bought(sso, sts) == [], "we found the AWS CLI's last link under its key"

    write_token(sso_home, sso.cli_token(START_URL, SSO_REGION))
    done = run_cli(sso_env, "use", "testing", "--role", "terraform", "--no-prompt")
    assert done.returncode == 0, done.stderr
    ours = caller(sso_env, exported(done.stdout))
    assert ours["Arn"].rsplit("/", 1)[0] == "arn:aws:sts::333333333333:assumed-role/terraform"
    assert sts.count("GetSessionToken") == 0
    sso.reset()
    sts.reset()
    done = aws_cli.run(sso_env, "--profile", "acme-testing-terraform", "sts", "get-caller-identity", "--output", "json")
    assert done.returncode == 0 and json.loads(done.stdout)["Arn"] == ours["Arn"], done.stderr
    assert bought(sso, sts) == [], "the AWS CLI found our last link under its key"


def test_an_mfa_link_after_an_sso_root_takes_the_code_in_its_assume_role(sso_env, sso_home, sso, sts):
    write_token(sso_home, sso.cli_token(START_URL, SSO_REGION))
    done = run_cli(sso_env, "use", "prod", "--role", "terraform", "--mfa-token", "123456")
    assert done.returncode == 0, done.stderr
    assert caller(sso_env, exported(done.stdout))["Account"] == "222222222222"
    assert sts.count("GetSessionToken") == 0
    # (the other AssumeRole is the fake portal's own, for the permission set's credentials)
    assert [p.get("TokenCode") for p in sts.parameters("AssumeRole") if p["RoleArn"].endswith("role/terraform")] == ["123456"]


def test_a_chain_from_sso_without_a_token_or_terminal_exits_3(sso_env, sso):
    done = run_cli(sso_env, "use", "testing", "--role", "terraform")
    assert done.returncode == 3 and "Identity Center" in done.stderr and "Traceback" not in done.stderr
    assert sso.count("StartDeviceAuthorization") == 0


def test_an_sso_session_whose_name_is_quoted_serves_us_and_the_aws_cli(sso_env, sso_home, sso):
    """`[sso-session "acme corp"]`: botocore splits section names as a shell does."""
    config = sso_home / ".aws" / "config"
    config.write_text(config.read_text().replace("[sso-session acme]", '[sso-session "acme corp"]')
                      .replace("sso_session = acme\n", "sso_session = acme corp\n"))
    write_token(sso_home, sso.cli_token(START_URL, SSO_REGION), name="acme corp")

    done = run_cli(sso_env, "use", "testing", "--no-prompt")
    assert done.returncode == 0, done.stderr
    theirs = run_aws(sso_env, "--profile", "acme-testing-admin", "sts", "get-caller-identity", "--output", "json")
    assert theirs.returncode == 0, theirs.stderr
    assert caller(sso_env, exported(done.stdout))["Account"] == json.loads(theirs.stdout)["Account"] == "333333333333"


def test_a_login_shell_for_an_sso_stage_signs_in_once_and_a_login_without_a_terminal_only_hints(sso_env, sso_home, sso):
    from test_shell import login_profile, run_login

    login_profile(sso_home)
    without = run_login(dict(sso_env, STAGE="testing"), 'echo "[${AWS_ACCESS_KEY_ID-none}]"')
    assert without.returncode == 0 and "[none]" in without.stdout
    assert "Identity Center" in without.stderr and sso.count("StartDeviceAuthorization") == 0

    s = Shell(dict(sso_env, STAGE="testing"), login=True)
    try:
        s.expect(SIGN_IN.pattern)
        sso.approve(s.child.match.group(1))
        assert s.prompt().startswith(("[testing 59m]", "[testing 60m]"))
        assert s.run("aws sts get-caller-identity --query Account --output text").strip() == "333333333333"
    finally:
        s.close()
    assert sso.count("StartDeviceAuthorization") == 1


def test_console_and_refresh_serve_an_sso_stage(sso_env, sso_home, sso):

    write_token(sso_home, sso.cli_token(START_URL, SSO_REGION))
    in_stage = dict(sso_env, **exported(run_cli(sso_env, "use", "testing", "--no-prompt").stdout))
    refreshed = run_cli(in_stage, "refresh")
    assert refreshed.returncode == 0, refreshed.stderr
    assert exported(refreshed.stdout)["AWS_ACCESS_KEY_ID"] == in_stage["AWS_ACCESS_KEY_ID"]  # still fresh: the cache
    seen = []

    class Federation(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            seen.append(urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query))
            body = b'{"SigninToken": "token-123"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = HTTPServer(("127.0.0.1", 0), Federation)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/federation"
        done = run_cli(dict(sso_env, GEODESIC_STAGE_FEDERATION_URL=url), "console", "testing")
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stderr
    assert json.loads(seen[0]["Session"][0])["sessionId"] == in_stage["AWS_ACCESS_KEY_ID"]


def test_a_shell_renewing_while_another_holds_the_refresh_uses_the_token_it_saved(sso_env, sso_home, sso):
    """Two shells renew the same expired token, in this order: the first's refresh is held at the fake
    until the second waits for it on the lock; then the second uses the token the first saved. A refresh
    token is good once: the fake refuses and counts a spent one."""
    import subprocess

    write_token(sso_home, sso.cli_token(START_URL, SSO_REGION, expires_in=-60))
    sso.hold_refreshes()

    def use(stage, *debug):
        return subprocess.Popen([str(BIN / "geodesic-stage"), *debug, "use", stage, "--no-prompt"], env=sso_env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)

    first = use("testing")
    deadline = time.monotonic() + 30
    while sso.held_refreshes == 0 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sso.held_refreshes == 1, "the first shell's refresh reached the fake"
    second = use("prod", "--debug")
    said = []
    for line in second.stderr:  # ends when it waits on the first shell's lock (or exits)
        said.append(line)
        if "another shell is renewing the Identity Center token; waiting for it" in line:
            break
    sso.release_refreshes()
    results = [(p.wait(60), p.stdout.read(), p.stderr.read()) for p in (first, second)]
    said.append(results[1][2])

    assert [code for code, _, _ in results] == [0, 0], results
    assert [exported(out)["STAGE"] for _, out, _ in results] == ["testing", "prod"]
    assert "waiting for it" in said[-2] and "token renewed by another shell" in "".join(said), said
    assert sso.reused_refresh_tokens == 0, "a spent refresh token was presented again"
    assert sso.count("CreateToken") == 1, "one refresh; the second shell used what the first saved"
