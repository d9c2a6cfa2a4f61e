"""`init --topology sso` at an organization's scale: the portal pages its accounts 20 at a time and
throttles; init paces itself, waits the throttle out up to --max-time, writes the whole listing or
nothing, keeps what it read for the next run, shows progress on a terminal and ends with a summary."""

import json
import os
import re
import subprocess
import threading

import pexpect
import pytest

from conftest import BIN, clean_environ, run_cli
from ptyshell import plain
from sso_support import SSO_REGION, START_URL, token_path, write_token
from ssofake import SsoFake, organization

ACCOUNTS = organization(60)
HOLDING = sorted(a for a, v in ACCOUNTS.items() if "AdministratorAccess" in v["roles"])
OTHER = "# mine\n[default]\nregion = eu-central-1\n"
ARGS = ("init", "--topology", "sso", "--sso-session", "acme", "--sso-start-url", START_URL,
        "--sso-region", SSO_REGION, "--sso-role", "AdministratorAccess", "--region", "us-west-2")
SUMMARY = re.compile(r"geodesic-stage: (?P<path>\S+): (?P<added>\d+) profiles? added(?: \([^)]*\))?, "
                     r"(?P<changed>\d+) changed(?: \([^)]*\))?, (?P<kept>\d+) kept(?P<session>, \[sso-session acme\] added)?; "
                     r"try: stage use \S+\n")


@pytest.fixture
def portal():
    # Listing needs no role credentials, so no STS behind the fake.
    fake = SsoFake("http://127.0.0.1:9", ACCOUNTS, page_size=20, role_page_size=2)
    yield fake
    fake.close()


@pytest.fixture
def user(tmp_path, portal):
    """A user signed in to the portal (a token as `aws sso login` leaves it), a config of their own."""
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "config").write_text(OTHER)
    write_token(home, portal.cli_token(START_URL, SSO_REGION))
    env = dict(clean_environ(), HOME=str(home), PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               AWS_ENDPOINT_URL_SSO=portal.url, AWS_ENDPOINT_URL_SSO_OIDC=portal.url, AWS_EC2_METADATA_DISABLED="true",
               NAMESPACE="acme", PYTHONDONTWRITEBYTECODE="1")
    return home, env


def written(home) -> dict:
    """Profile name -> its sso_account_id, of what the config holds."""
    found, name = {}, None
    for line in (home / ".aws" / "config").read_text().splitlines():
        if line.startswith("[profile "):
            name = line[len("[profile "):-1]
        elif line.startswith("sso_account_id=") and name:
            found[name] = line.split("=", 1)[1]
    return found


def expected() -> dict:
    return {f"acme-{ACCOUNTS[a]['name'][len('acme-'):]}-admin": a for a in HOLDING}


def role_pages(accounts=None) -> int:
    """ListAccountRoles pages of these accounts (all by default), 2 roles a page."""
    return sum(max(1, -(-len(ACCOUNTS[a]["roles"]) // 2)) for a in (sorted(ACCOUNTS) if accounts is None else accounts))


def test_init_through_a_tight_throttle_writes_every_profile_reading_each_page_once(user, portal):
    home, env = user
    portal.throttle(20)
    done = run_cli(env, *ARGS)
    assert done.returncode == 0, done.stderr
    assert written(home) == expected()
    assert (home / ".aws" / "config").read_text().startswith(OTHER)
    # Paced (botocore's adaptive mode): the first refusal sets the pace and the rest go through. Unpaced
    # (standard retries) the same 81 calls met 6-7 refusals, each burst of retries running into the throttle.
    assert 0 < portal.throttled <= 3
    assert portal.count("ListAccounts") == 3 and portal.count("ListAccountRoles") == role_pages()
    summary = SUMMARY.fullmatch(done.stderr.splitlines(keepends=True)[-1])
    assert summary and int(summary["added"]) == len(HOLDING) and summary["session"], done.stderr


def test_init_waits_out_a_throttle_longer_than_botocores_retries(user, portal):
    """Nothing gets through for 8 s (botocore alone gives up after its 3 attempts, some 4.5 s in adaptive
    mode), then 50 calls a second."""
    home, env = user
    portal.throttle(0)
    threading.Timer(8, portal.throttle, (50,)).start()
    done = run_cli(env, *ARGS)
    assert done.returncode == 0, done.stderr
    assert written(home) == expected()


def test_a_throttle_that_never_lets_up_ends_at_max_time_with_one_line_and_nothing_written(user, portal):
    home, env = user
    portal.throttle(0)
    done = run_cli(env, *ARGS, "--max-time", "2")
    assert done.returncode == 1
    assert (home / ".aws" / "config").read_text() == OTHER
    assert portal.throttled > 0 and portal.count("ListAccounts") == 0
    last = done.stderr.splitlines()[-1]
    assert done.stderr.count("\n") == 2 and "Traceback" not in done.stderr
    assert last.startswith("geodesic-stage: Identity Center: gave up after 2 s of TooManyRequestsException (--max-time 2); ")
    assert last.endswith("nothing written (0 accounts listed); run init again with a longer --max-time")


def test_max_time_must_be_a_number_of_seconds(user):
    _, env = user
    done = run_cli(env, *ARGS, "--max-time", "soon")
    assert done.returncode == 2 and "--max-time" in done.stderr and "'soon' is not a number of seconds" in done.stderr


@pytest.mark.parametrize("operation, from_call, status, code, said", [
    ("ListAccounts", 3, 401, "UnauthorizedException", "refused the sign-in token"),
    ("ListAccountRoles", 30, 500, "InternalServerException", "ListAccountRoles was refused at "),
])
def test_a_failure_part_way_writes_nothing_and_the_next_run_goes_on_from_what_was_read(
        user, portal, operation, from_call, status, code, said):
    home, env = user
    portal.fail(operation, from_call, status, code)
    failed = run_cli(env, *ARGS)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert (home / ".aws" / "config").read_text() == OTHER
    last = failed.stderr.splitlines()[-1]
    assert said in last and code in last and "nothing written" in last
    if operation == "ListAccounts":
        assert last.endswith("nothing written (40 accounts listed); run init again")
    else:
        read = re.search(r"nothing written \((\d+) of 60 accounts read\); run init again within 60 min to go on from there$", last)
        assert read and 0 < int(read[1]) < 60, last

    portal.fail(operation, 0)
    portal.reset()
    again = run_cli(env, *ARGS)
    assert again.returncode == 0, again.stderr
    assert written(home) == expected()
    if operation == "ListAccountRoles":
        assert "going on from the listing the last run kept" in again.stderr
        # Only the accounts the failed run had not read (the portal lists them in account id order).
        assert portal.count("ListAccounts") == 0
        assert portal.count("ListAccountRoles") == role_pages() - role_pages(sorted(ACCOUNTS)[:int(read[1])])
    # A listing is kept for one run only.
    assert not list((home / ".aws" / "cli" / "cache" / "geodesic-stage" / "sso-listings").glob("*.json"))


def test_logout_forget_drops_a_kept_listing_too(user, portal):
    """What an init read of the organization (its accounts and roles) goes with everything else cached."""
    home, env = user
    portal.fail("ListAccountRoles", 30, 500, "InternalServerException")
    assert run_cli(env, *ARGS).returncode == 1
    listings = home / ".aws" / "cli" / "cache" / "geodesic-stage" / "sso-listings"
    assert list(listings.glob("*.json"))
    forgot = run_cli(env, "logout", "--forget")
    assert forgot.returncode == 0, forgot.stderr
    assert not list(listings.glob("*.json"))


def test_progress_is_drawn_in_place_on_the_terminal_and_never_on_stdout(user, portal, tmp_path):
    home, env = user
    portal.throttle(20)
    out = tmp_path / "stdout"
    child = pexpect.spawn("bash", ["-c", f"{BIN / 'geodesic-stage'} {' '.join(ARGS)} > {out}"], env=dict(env, TERM="xterm"),
                          encoding="utf-8", timeout=25, dimensions=(24, 200))
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    seen = child.before
    assert re.search(r"\rIdentity Center: \d+ of 60 accounts read, \d+ roles found \(\d+ AdministratorAccess\), "
                     r"[\d.]+ calls/s[^,]*, about \d+ s left\x1b\[K", seen), seen
    # Cleared before the summary, which starts its own line.
    assert SUMMARY.search(plain(seen)) and "\r\x1b[Kgeodesic-stage: " in seen
    assert out.read_text() == ""


def test_no_progress_without_a_terminal(user, portal):
    _, env = user
    portal.throttle(20)
    done = run_cli(env, *ARGS)
    assert done.returncode == 0
    assert done.stdout == ""
    assert done.stderr.splitlines()[0] == "geodesic-stage: asking Identity Center which accounts you can reach with AdministratorAccess..."
    assert SUMMARY.fullmatch(done.stderr.splitlines(keepends=True)[1]) and len(done.stderr.splitlines()) == 2


def test_the_summary_counts_profiles_added_changed_and_kept(user, portal):
    home, env = user
    assert run_cli(env, *ARGS).returncode == 0
    config = home / ".aws" / "config"
    first, second = sorted(expected())[:2]
    text = config.read_text()
    text = text.replace(f"[profile {first}]\nsso_session=acme\nsso_account_id={expected()[first]}\n"
                        f"sso_role_name=AdministratorAccess\nregion=us-west-2\n", "")
    config.write_text(text.replace(f"[profile {second}]\nsso_session=acme\nsso_account_id={expected()[second]}\n"
                                   f"sso_role_name=AdministratorAccess\nregion=us-west-2\n",
                                   f"[profile {second}]\nsso_session=acme\nsso_account_id={expected()[second]}\n"
                                   f"sso_role_name=AdministratorAccess\nregion=eu-west-1\n"))
    done = run_cli(env, *ARGS)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"geodesic-stage: {config}: 1 profile added ({first}), 1 changed ({second}), {len(HOLDING) - 2} kept; "
        f"try: stage use {sorted(expected())[-1][len('acme-'):-len('-admin')]}"
    )
    assert written(home) == expected()


def test_list_and_doctor_read_the_config_a_few_times_not_once_a_stage(user, tmp_path):
    """With 1,000 Identity Center stages: each stage's [sso-session] lookup used to parse the whole file again."""
    home, env = user
    config = home / ".aws" / "config"
    config.write_text("[sso-session acme]\nsso_start_url=https://acme.awsapps.com/start\nsso_region=us-east-1\n" + "".join(
        f"\n[profile acme-s{i:04d}-admin]\nsso_session=acme\nsso_account_id={100000000000 + i}\n"
        "sso_role_name=AdministratorAccess\nregion=us-west-2\n" for i in range(1000)))
    for command in (["list", "--json"], ["doctor", "--offline"]):
        trace = tmp_path / "strace.log"
        done = subprocess.run(["strace", "-f", "-qq", "-o", str(trace), "-e", "trace=openat", str(BIN / "geodesic-stage"), *command],
                              env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
        assert done.returncode in (0, 1), done.stderr
        if command[0] == "list":
            assert len(json.loads(done.stdout)) == 1000
        lines = trace.read_text().splitlines()
        opened = [line for line in lines if f'"{config}"' in line]
        assert 0 < len(opened) <= 3, (command, len(opened))
        if command[0] == "list":  # and the sign-in's token once, not once a stage
            assert len([line for line in lines if f'"{token_path(home)}"' in line]) == 1


def test_doctor_checks_every_permission_set_through_the_throttle_and_says_what_its_max_time_left_unchecked(user, portal):
    home, env = user
    assert run_cli(env, *ARGS).returncode == 0
    (home / ".aws" / "sso" / "cache").chmod(0o700)
    portal.throttle(20)
    portal.reset()
    done = run_cli(env, "doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    ok = done.stdout.splitlines()[-1]
    assert ok.startswith(f"ok: {len(HOLDING)} stages (s0000, s0001, ") and ", ...) in " in ok and len(ok) < 300
    assert portal.count("ListAccountRoles") == role_pages(HOLDING)  # one listing an account

    portal.throttle(5, burst=5)  # about 15 accounts in 3 s
    partial = run_cli(env, "doctor", "--max-time", "3")
    assert partial.returncode == 0, partial.stdout
    assert re.search(rf"warning: checked the permission sets of \d+ of {len(HOLDING)} profiles of sso-session acme in 3 s "
                     r"\(--max-time\); the rest are not checked; fix: give doctor a longer --max-time", partial.stdout), partial.stdout

    portal.throttle(0)
    stopped = run_cli(env, "doctor", "--max-time", "2")
    assert "warning: the Identity Center portal did not list the accounts of sso-session acme within 2 s (--max-time)" in stopped.stdout
    assert "Traceback" not in stopped.stderr


def test_ctrl_c_part_way_writes_nothing_and_the_next_run_goes_on_from_what_was_read(user, portal):
    home, env = user
    portal.throttle(20)
    child = pexpect.spawn(str(BIN / "geodesic-stage"), list(ARGS), env=dict(env, TERM="xterm"), encoding="utf-8", timeout=25)
    child.expect(r"[1-9]\d* of 60 accounts read")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert "interrupted" in plain(child.before) and "Traceback" not in child.before
    assert (home / ".aws" / "config").read_text() == OTHER
    portal.reset()
    again = run_cli(env, *ARGS)
    assert again.returncode == 0 and "going on from the listing the last run kept" in again.stderr
    assert portal.count("ListAccounts") == 0 and portal.count("ListAccountRoles") < role_pages()
    assert written(home) == expected()
