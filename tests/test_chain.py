"""A profile resolves to the chain botocore walks for it: the same source, the same roles in
the same order, the same MFA devices. botocore's own AssumeRoleProvider is the reference,
driven with a recording STS client (no network), over a corpus of config files."""

import sys
from datetime import datetime, timedelta, timezone

import botocore.configloader
import botocore.exceptions
import botocore.session
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from geodesic_stage.config import awsconfig, chain
from geodesic_stage.errors import ConfigError

KEYS = "aws_access_key_id = AKIA{n}EXAMPLE\naws_secret_access_key = secret{n}\n"
MFA = "arn:aws:iam::323330167063:mfa/admin@cloudposse.co"
PROCESS = (
    f"credential_process = {sys.executable} -c \"import json; print(json.dumps(dict(Version=1, "
    "AccessKeyId='AKIAPROCESS', SecretAccessKey='s')))\"\n"
)


def role(account, name, source="cpco", mfa=False, **extra):
    lines = [f"role_arn = arn:aws:iam::{account}:role/{name}", f"source_profile = {source}"]
    lines += [f"mfa_serial = {MFA}"] if mfa else []
    lines += [f"{k} = {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


# name: (config file, credentials file, profile to resolve)
CORPUS = {
    "single": (
        "[profile cpco-testing-admin]\nregion = us-west-2\n" + role(323330167063, "cpco-root-admin", mfa=True),
        "[cpco]\n" + KEYS.format(n=1),
        "cpco-testing-admin",
    ),
    "organization": (
        "[profile cpco-testing-admin]\n" + role(126450723953, "OrganizationAccountAccessRole", mfa=True),
        "[cpco]\n" + KEYS.format(n=1),
        "cpco-testing-admin",
    ),
    "chain-2-mfa-first": (
        "[profile cpco-identity-admin]\n" + role(323330167063, "cpco-identity-admin", mfa=True)
        + "[profile cpco-testing-terraform]\n" + role(126450723953, "terraform", source="cpco-identity-admin"),
        "[cpco]\n" + KEYS.format(n=1),
        "cpco-testing-terraform",
    ),
    "chain-3-mfa-last": (
        "[profile a]\n" + role(111111111111, "a") + "[profile b]\n" + role(222222222222, "b", source="a")
        + "[profile c]\n" + role(333333333333, "c", source="b", mfa=True, external_id="ext-1", duration_seconds=3600),
        "[cpco]\n" + KEYS.format(n=1),
        "c",
    ),
    "keys-in-config-file": (
        "[profile cpco]\n" + KEYS.format(n=2) + "[profile s]\n" + role(126450723953, "r", mfa=True),
        "",
        "s",
    ),
    "credentials-file-beats-config-keys": (
        "[profile cpco]\n" + KEYS.format(n=2) + "[profile s]\n" + role(126450723953, "r"),
        "[cpco]\n" + KEYS.format(n=3),
        "s",
    ),
    "temporary-source-keys": (
        "[profile s]\n" + role(126450723953, "r", mfa=True),
        "[cpco]\n" + KEYS.format(n=4) + "aws_session_token = token\n",
        "s",
    ),
    "credential-process-source": (
        "[profile cpco]\n" + PROCESS + "[profile s]\n" + role(126450723953, "r", mfa=True),
        "",
        "s",
    ),
    "credentials-file-keys-beat-credential-process": (
        "[profile cpco]\n" + PROCESS + "[profile s]\n" + role(126450723953, "r"),
        "[cpco]\n" + KEYS.format(n=5),
        "s",
    ),
    "credential-source-environment": (
        "[profile s]\nrole_arn = arn:aws:iam::126450723953:role/r\ncredential_source = Environment\n"
        f"mfa_serial = {MFA}\n",
        "",
        "s",
    ),
    "role-profile-only-in-credentials-file": (
        "",
        "[cpco]\n" + KEYS.format(n=1) + "[cpco-testing-admin]\n" + role(126450723953, "r", mfa=True),
        "cpco-testing-admin",
    ),
    "quoted-section-names": (
        '[profile "cpco-testing-admin"]\n' + role(126450723953, "r", source="cpco identity")
        + '[profile "cpco identity"]\n' + role(323330167063, "id", mfa=True),
        "[cpco]\n" + KEYS.format(n=1),
        "cpco-testing-admin",
    ),
    "profile-sourcing-its-own-keys": (
        "[profile me]\n" + KEYS.format(n=6) + role(126450723953, "r", source="me"),
        "",
        "me",
    ),
    "source-with-keys-and-role-arn-uses-the-keys": (
        "[profile mid]\n" + KEYS.format(n=7) + role(111111111111, "ignored")
        + "[profile s]\n" + role(126450723953, "r", source="mid"),
        "[cpco]\n" + KEYS.format(n=1),
        "s",
    ),
}


class RecordingSts:
    """Stands in for botocore's STS client: records each AssumeRole and who signed it."""

    def __init__(self, calls, signed_by):
        self.calls, self.signed_by = calls, signed_by

    def assume_role(self, **kwargs):
        self.calls.append((kwargs["RoleArn"], kwargs.get("SerialNumber"), self.signed_by))
        expiration = datetime.now(timezone.utc) + timedelta(hours=1)
        return {"Credentials": {
            "AccessKeyId": f"ASIAROLE{len(self.calls)}", "SecretAccessKey": "s", "SessionToken": "t",
            "Expiration": expiration.isoformat(),
        }}


def write_files(tmp_path, monkeypatch, config, credentials):
    (tmp_path / "config").write_text(config)
    (tmp_path / "credentials").write_text(credentials)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def botocore_walk(profile):
    """(role ARN, MFA device, signing key id) for each AssumeRole botocore makes for `profile`."""
    calls = []
    session = botocore.session.Session(profile=profile)
    provider = session.get_component("credential_provider").get_provider("assume-role")
    provider._client_creator = lambda service, **kw: RecordingSts(calls, kw.get("aws_access_key_id"))
    provider._prompter = lambda prompt: "123456"
    provider.cache = {}
    credentials = session.get_credentials()
    if credentials is None:
        raise NoCredentials(profile)
    credentials.get_frozen_credentials()
    return calls


class NoCredentials(Exception):
    """botocore found no credentials for the profile at all."""


def our_chain(tmp_path):
    credentials = awsconfig.load_credentials(str(tmp_path / "credentials"))
    profiles = chain.merged(awsconfig.load_profiles(str(tmp_path / "config")), credentials)
    return profiles, credentials


def source_key(source, profiles, credentials):
    """The access key id the chain starts from, as our resolution names it."""
    if source.kind == chain.STATIC:
        return (credentials if source.file == "credentials" else profiles)[source.profile]["aws_access_key_id"]
    if source.kind == chain.PROCESS:
        return "AKIAPROCESS"
    if source.kind == chain.NAMED:
        return "AKIAENVIRONMENT"
    raise AssertionError(source)


@pytest.mark.parametrize("case", list(CORPUS))
def test_the_chain_is_the_one_botocore_walks(tmp_path, monkeypatch, case):
    config, credentials_file, profile = CORPUS[case]
    write_files(tmp_path, monkeypatch, config, credentials_file)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT") if "Environment" in config else None
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s") if "Environment" in config else None

    expected = botocore_walk(profile)
    profiles, credentials = our_chain(tmp_path)
    resolved = chain.chain_of(profile, profiles, credentials)

    assert [(r.role_arn, r.mfa_serial) for r in resolved.roles] == [(arn, serial) for arn, serial, _ in expected]
    assert source_key(resolved.source, profiles, credentials) == expected[0][2]
    assert resolved.profile == profile


def test_temporary_source_keys_are_marked_so_no_mfa_session_is_bought_from_them(tmp_path, monkeypatch):
    write_files(tmp_path, monkeypatch, *CORPUS["temporary-source-keys"][:2])
    resolved = chain.chain_of("s", *our_chain(tmp_path))
    assert resolved.source.temporary and resolved.session_serial is None


def test_long_term_keys_with_mfa_on_the_first_role_start_an_mfa_session(tmp_path, monkeypatch):
    write_files(tmp_path, monkeypatch, *CORPUS["chain-2-mfa-first"][:2])
    resolved = chain.chain_of("cpco-testing-terraform", *our_chain(tmp_path))
    assert resolved.session_serial == MFA
    assert resolved.describe() == "cpco (static keys) -> cpco-identity-admin -> cpco-testing-terraform"


def test_mfa_on_a_later_role_goes_into_that_assume_role(tmp_path, monkeypatch):
    write_files(tmp_path, monkeypatch, *CORPUS["chain-3-mfa-last"][:2])
    resolved = chain.chain_of("c", *our_chain(tmp_path))
    assert resolved.session_serial is None
    assert [r.mfa_serial for r in resolved.roles] == [None, None, MFA]


def refused(profiles, name="s", credentials=None) -> str:
    with pytest.raises(ConfigError) as error:
        chain.chain_of(name, profiles, credentials or {}, "~/.aws/config")
    assert "\n" not in error.value.message
    return error.value.message


ARN = "arn:aws:iam::126450723953:role/r"


def test_a_cycle_is_one_line_naming_the_profiles():
    profiles = {"s": {"role_arn": ARN, "source_profile": "a"}, "a": {"role_arn": ARN, "source_profile": "s"}}
    assert refused(profiles) == "profiles s -> a -> s form a cycle of source_profile; point the last one at your keys"


def test_a_role_profile_sourcing_itself_without_keys_is_a_cycle():
    assert "cycle" in refused({"s": {"role_arn": ARN, "source_profile": "s"}})


def test_a_missing_source_profile_is_named():
    assert refused({"s": {"role_arn": ARN, "source_profile": "cpco"}}) == (
        "source_profile 'cpco' of profile 's' is not in ~/.aws/config; add [cpco] with aws_access_key_id "
        "and aws_secret_access_key (aws configure --profile cpco)"
    )


def test_a_source_without_credentials_says_what_to_add():
    message = refused({"s": {"role_arn": ARN, "source_profile": "cpco"}, "cpco": {"region": "us-east-1"}})
    assert message.startswith("profile 'cpco' (source of 's') holds no credentials")


def test_a_role_without_source_says_what_to_add():
    assert "neither source_profile nor credential_source" in refused({"s": {"role_arn": ARN}})


def test_both_source_profile_and_credential_source_is_refused_as_botocore_does():
    message = refused({"s": {"role_arn": ARN, "source_profile": "s", "credential_source": "Environment"}})
    assert "both source_profile and credential_source" in message


def test_an_unknown_credential_source_is_refused():
    assert "is not one of Environment" in refused({"s": {"role_arn": ARN, "credential_source": "Magic"}})


def test_half_a_key_pair_is_refused_before_any_call():
    message = refused({"s": {"role_arn": ARN, "source_profile": "k"}, "k": {"aws_access_key_id": "AKIA"}})
    assert "no aws_secret_access_key" in message


@pytest.mark.parametrize(
    "setting, value, message",
    [
        ("duration_seconds", "600", "duration_seconds = 600 is outside what AWS accepts (900 to 43200 seconds)"),
        ("duration_seconds", "43201", "outside what AWS accepts"),
        ("role_arn", "arn:aws:iam::12345:role/r", "is not an IAM role ARN"),
        ("mfa_serial", "short", "is not an MFA device"),
        ("external_id", "x", "external_id must be"),
        ("role_session_name", "has space", "role_session_name must be"),
    ],
)
def test_settings_sts_would_refuse_are_refused_before_a_code_is_asked(setting, value, message):
    profiles = {"s": {"role_arn": ARN, "source_profile": "k", setting: value}, "k": {"aws_access_key_id": "A", "aws_secret_access_key": "B"}}
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        chain.check(chain.chain_of("s", profiles, {}))


def test_durations_and_region_from_the_command_line_are_checked_too():
    resolved = chain.chain_of("s", {"s": {"role_arn": ARN, "credential_source": "Environment"}}, {})
    chain.check(resolved, "us-west-2", 43200, 129600)
    for args, message in (((None, 899), "--duration"), ((None, None, 129601), "MFA session"), (("us west",), "region")):
        with pytest.raises(ConfigError, match=message):
            chain.check(resolved, *args)


# Any graph of a few profiles: keys or not, role or not, each role's source any profile (or none).
NAMES = ["p0", "p1", "p2", "p3"]
SECTION = st.fixed_dictionaries(
    {},
    optional={
        "keys": st.sampled_from(["config", "credentials", "temporary"]),
        "role": st.integers(100000000000, 100000000003),
        "source_profile": st.sampled_from(NAMES + ["missing"]),
        "mfa": st.just(True),
        "credential_source": st.sampled_from(["Environment", "Magic"]),
    },
)


def files_of(graph: dict) -> tuple:
    config, credentials = [], []
    for name, section in graph.items():
        lines = []
        if "role" in section:
            lines.append(f"role_arn = arn:aws:iam::{section['role']}:role/{name}")
        for key in ("source_profile", "credential_source"):
            if key in section:
                lines.append(f"{key} = {section[key]}")
        if section.get("mfa"):
            lines.append(f"mfa_serial = {MFA}")
        keys = [f"aws_access_key_id = AKIA{name.upper()}", "aws_secret_access_key = s"]
        if section.get("keys") == "temporary":
            keys.append("aws_session_token = t")
        if section.get("keys") == "credentials":
            credentials.append(f"[{name}]\n" + "\n".join(keys) + "\n")
        elif "keys" in section:
            lines += keys
        config.append(f"[profile {name}]\n" + "\n".join(lines) + "\n")
    return "".join(config), "".join(credentials)


# Mostly each profile a role sourcing the next, so that chains of every depth come up, with
# cycles, dead ends, keys on a role and temporary keys mixed in.
def link(index: int):
    following = NAMES[index + 1] if index + 1 < len(NAMES) else NAMES[0]
    return st.fixed_dictionaries(
        {"role": st.integers(100000000000, 100000000003),
         "source_profile": st.one_of(st.just(following), st.sampled_from(NAMES))},
        optional={"mfa": st.just(True), "keys": st.sampled_from(["config", "credentials", "temporary"])},
    )


KEYS_ONLY = st.fixed_dictionaries({"keys": st.sampled_from(["config", "credentials", "temporary"])})
GRAPH = st.fixed_dictionaries({
    name: st.one_of(link(i), SECTION) if i < len(NAMES) - 1 else st.one_of(KEYS_ONLY, SECTION)
    for i, name in enumerate(NAMES)
})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(graph=GRAPH)
def test_any_graph_of_profiles_resolves_as_botocore_walks_it_or_is_refused_as_botocore_refuses_it(tmp_path, monkeypatch, graph):
    write_files(tmp_path, monkeypatch, *files_of(graph))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    try:
        expected = botocore_walk("p0")
    except (botocore.exceptions.BotoCoreError, NoCredentials):
        expected = None
    profiles, credentials = our_chain(tmp_path)
    try:
        resolved = chain.chain_of("p0", profiles, credentials)
    except ConfigError:
        resolved = None
    event("refused" if expected is None else f"{len(expected)} role(s)")
    if expected is None or resolved is None:
        assert expected is None and resolved is None, (graph, expected, resolved)
        return
    if not expected:
        assert resolved.roles == (), graph  # p0 is its own source: no role to assume
        return
    assert [(r.role_arn, r.mfa_serial) for r in resolved.roles] == [(arn, serial) for arn, serial, _ in expected]
    assert source_key(resolved.source, profiles, credentials) == expected[0][2]


SECTION_NAME = st.one_of(
    st.just("default"),
    st.builds(
        "profile{}{}".format,
        st.sampled_from(["", " ", "  ", "\t"]),
        st.text(st.sampled_from(list("\"'\\ ab-\t")), max_size=10),
    ).map(str.strip),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(SECTION_NAME, min_size=1, max_size=4, unique=True))
def test_section_names_name_the_profiles_botocores_parser_finds(tmp_path, names):
    """Quoted names (`[profile "a b"]`), names shlex cannot split, `[profilex y]`: botocore's reading."""
    path = tmp_path / "config"
    path.write_text("".join(f"[{name}]\nregion = r{i}\n" for i, name in enumerate(names)))
    theirs = botocore.configloader.load_config(str(path))["profiles"]
    event(f"{len(theirs)} profile(s)")
    assert awsconfig.load_profiles(str(path)) == theirs
