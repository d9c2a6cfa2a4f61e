"""Broken config files: one ConfigError naming the file (and the line), never a traceback."""

import subprocess

import botocore.configloader
import botocore.exceptions
import botocore.session
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from conftest import BIN, clean_environ, needs_root, run_aws, run_cli
from geodesic_stage.config import awsconfig
from geodesic_stage.errors import ConfigError, StageError
from geodesic_stage.config.stages_file import StageEntry, load_stages
from geodesic_stage.lifetimes import DEFAULT_SESSION_SECONDS

READERS = {
    "AWS config": awsconfig.load_profiles,
    "AWS credentials": awsconfig.load_credentials,
    "stages file": load_stages,
}


def write(path, content) -> str:
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(path)


def config_error(reader, path) -> str:
    """The one-line message the reader refuses `path` with."""
    with pytest.raises(ConfigError) as error:
        reader(path)
    assert error.value.exit_code == 2
    assert "\n" not in error.value.message
    return error.value.message


@pytest.fixture(params=list(READERS))
def reader(request):
    return READERS[request.param]


@pytest.mark.parametrize(
    "content, line",
    [
        ("[cpco]\nregion = us-west-2\n\n[cpco]\nregion = eu-west-1\n", 4),
        ("[cpco]\nregion = us-west-2\nregion = eu-west-1\n", 3),
        ("[cpco]\nregion = us-west-2\nthis line is not INI\n", 3),
        (b"[cpco]\nregion = us-west-2\nrole_arn = \xff\xfe\x00junk\n", 3),
        (b"[cpco]\nregion = us-west-2\x00\n", 2),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 1),
    ],
    ids=["duplicate-section", "duplicate-key", "not-ini", "binary-junk", "nul-byte", "binary-file"],
)
def test_a_malformed_file_is_refused_with_its_name_and_line(tmp_path, reader, content, line):
    path = write(tmp_path / "file", content)
    assert config_error(reader, path).startswith(f"{path}:{line}: ")


@pytest.mark.parametrize("reader_name", ["AWS config", "AWS credentials"])
def test_a_setting_before_any_section_in_an_aws_file_names_its_line(tmp_path, reader_name):
    path = write(tmp_path / "config", "# my config\nregion = us-west-2\n[default]\n")
    message = config_error(READERS[reader_name], path)
    assert message.startswith(f"{path}:2: a setting before any [section] header")


def test_top_level_settings_are_what_a_stages_file_starts_with(tmp_path):
    path = write(tmp_path / "stages.conf", "namespace = cpco\nregion = us-west-2\ntopology = single\n")
    stages = load_stages(path)
    assert (stages.namespace, stages.region, stages.topology, stages.stages) == ("cpco", "us-west-2", "single", {})


def test_a_directory_instead_of_a_stages_file_is_refused(tmp_path):
    (tmp_path / "stages.conf").mkdir()
    message = config_error(load_stages, str(tmp_path / "stages.conf"))
    assert message.startswith(f"{tmp_path / 'stages.conf'}: is a directory")


def test_a_path_through_a_regular_file_to_a_stages_file_is_refused_as_unreadable(tmp_path):
    blocker = write(tmp_path / "geodesic", "not a directory")
    message = config_error(load_stages, f"{blocker}/stages.conf")
    assert message == f"{blocker}/stages.conf: cannot read a stages file (Not a directory); check its owner and mode"


@pytest.mark.parametrize("reader_name", ["AWS config", "AWS credentials"])
@pytest.mark.parametrize("what", ["a directory", "a path through a regular file"])
def test_what_botocore_finds_no_file_at_is_an_aws_file_with_no_sections(tmp_path, reader_name, what):
    """A directory is what a Docker bind mount of a file that did not exist leaves at ~/.aws/credentials."""
    if what == "a directory":
        (tmp_path / "credentials").mkdir()
        path = str(tmp_path / "credentials")
    else:
        path = write(tmp_path / "aws", "not a directory") + "/credentials"
    with pytest.raises(botocore.exceptions.ConfigNotFound):
        botocore.configloader.raw_config_parse(path)
    assert READERS[reader_name](path) == {}


def test_an_empty_aws_file_has_no_profiles(tmp_path):
    path = write(tmp_path / "config", "")
    assert awsconfig.load_profiles(path) == {}
    assert awsconfig.load_credentials(path) == {}


def test_an_empty_stages_file_means_the_defaults(tmp_path):
    stages = load_stages(write(tmp_path / "stages.conf", ""))
    assert stages.stages == {} and stages.mfa_mode == "session"
    assert stages.session_duration == DEFAULT_SESSION_SECONDS


def test_a_missing_aws_file_has_no_profiles(tmp_path):
    assert awsconfig.load_profiles(str(tmp_path / "absent")) == {}


def run_cli_without_root_powers(env: dict, *args, program: str = "geodesic-stage", input: str = None):
    """The CLI (or `program`) as root minus the capabilities that let root read any file whatever its mode."""
    return subprocess.run(
        ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", str(BIN / program), *args],
        env=env, capture_output=True, text=True, timeout=60, input=input,
        stdin=None if input is not None else subprocess.DEVNULL, start_new_session=True,
    )


@needs_root
def test_an_unreadable_stages_file_is_one_line_and_exit_2(tmp_path):
    unreadable = tmp_path / "unreadable"
    write(unreadable, "namespace = cpco\n")
    unreadable.chmod(0)
    env = dict(clean_environ(), HOME=str(tmp_path), NAMESPACE="cpco", AWS_EC2_METADATA_DISABLED="true",
               AWS_ENDPOINT_URL_STS="http://127.0.0.1:9", GEODESIC_STAGE_CONFIG=str(unreadable))
    result = run_cli_without_root_powers(env, "use", "testing", "--no-prompt")
    assert result.stderr == f"geodesic-stage: {unreadable}: cannot read a stages file (Permission denied); check its owner and mode\n"
    assert result.returncode == 2
    assert result.stdout == ""


def stages_file(tmp_path, text):
    return write(tmp_path / "stages.conf", text)


@pytest.mark.parametrize(
    "text, message",
    [
        ("topology = mesh\n", "topology = 'mesh'; use one of organization, accounts, single"),
        ("mfa_mode = always\n", "mfa_mode = 'always'; use session or direct"),
        ("session_duration = 12h\n", "session_duration = '12h'; give it in seconds, e.g. 43200"),
        ("stages = testing\n", "'stages' must be a [stages] section"),
        ("[namespace]\nname = cpco\n", "namespace must be a single value, not a section"),
        ("[stages]\n[[testing]]\n[[[profile]]]\nname = x\n", "[stages][[testing]] profile must be a single value, not a section"),
    ],
    ids=["topology", "mfa-mode", "session-duration", "stages-not-a-section", "value-as-section", "entry-value-as-section"],
)
def test_a_stages_file_with_a_wrong_setting_says_what_to_use(tmp_path, text, message):
    path = stages_file(tmp_path, text)
    assert config_error(load_stages, path) == f"{path}: {message}"


@pytest.mark.parametrize(
    "text, line, what",
    [
        ("[stages]\n[[testing]]\nprofile = a\n[[testing]]\n", 4, "Duplicate section name"),
        ("[stages]\n[[[testing]]]\n", 2, "Section too nested"),
        ("namespace = '''cpco\n", 1, "Parse error in multiline value"),
        ("namespace = cpco\njunk\nmore junk\n", 2, "Invalid line ('junk')"),
    ],
    ids=["duplicate-stage", "too-nested", "open-triple-quote", "several-errors"],
)
def test_a_stages_file_that_configobj_cannot_parse_names_the_line(tmp_path, text, line, what):
    path = stages_file(tmp_path, text)
    assert config_error(load_stages, path).startswith(f"{path}:{line}: {what}")


def test_a_stages_file_reads_its_settings_and_stages(tmp_path):
    path = stages_file(tmp_path, """\
# the team's stages
namespace = cpco
role = admin
region = us-west-2
topology = organization
mfa_mode = direct
session_duration = 3600
[stages]
  [[testing]]
  account_id = 126450723953
  region = eu-west-1
  [[legacy]]
  profile = old-testing
  role_arn = arn:aws:iam::111111111111:role/Legacy
""")
    stages = load_stages(path)
    assert (stages.namespace, stages.topology, stages.mfa_mode, stages.session_duration) == (
        "cpco", "organization", "direct", 3600
    )
    assert stages.stages == {
        "testing": StageEntry(account_id="126450723953", region="eu-west-1"),
        "legacy": StageEntry(profile="old-testing", role_arn="arn:aws:iam::111111111111:role/Legacy"),
    }


def test_geodesic_stage_config_pointing_at_nothing_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("GEODESIC_STAGE_CONFIG", str(tmp_path / "absent.conf"))
    assert config_error(load_stages, str(tmp_path / "absent.conf")).endswith("GEODESIC_STAGE_CONFIG points at it)")


# Text that looks like INI to a fuzzer: headers with odd brackets, settings, quotes, continuations, junk.
WORD = st.text(st.sampled_from("ab-_.=:#;[]'\"\\ \t$%{}é\u2028\r\x0b\x0c"), max_size=8)
LINE = st.one_of(
    st.builds(lambda o, w, c: "[" * o + w + "]" * c, st.integers(0, 4), WORD, st.integers(0, 4)),
    st.builds(lambda k, sep, v: k + sep + v, WORD, st.sampled_from(["=", " = ", ":", " : ", "=\n  "]), WORD),
    st.sampled_from(["", "  ", "'''", '"""', "a = '''", 'b = """x', "    indented = 1", "[stages]", "[[s]]",
                     "[profile x]", "[default]", "#", ";", "[DEFAULT]", "%(x)s", "stages = x", "mfa_mode = x"]),
    st.text(max_size=20),
)

@st.composite
def junk_files(draw) -> bytes:
    """INI-ish lines with any line ending, sometimes with raw bytes spliced in somewhere."""
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    data = newline.join(draw(st.lists(LINE, max_size=20))).encode("utf-8", "surrogatepass")
    cut = draw(st.integers(0, len(data)))
    return data[:cut] + draw(st.one_of(st.just(b""), st.binary(min_size=1, max_size=6))) + data[cut:]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=junk_files())
def test_a_fuzzed_stages_file_is_read_or_refused_with_a_config_error(tmp_path, content):
    path = write(tmp_path / "fuzzed", content)
    try:
        load_stages(path)
    except StageError as error:
        assert error.message.startswith(path) and "\n" not in error.message


def botocore_reads(path: str, nested: bool = True):
    """What botocore (the AWS CLI) makes of an AWS config or credentials file: its sections, or None if it refuses it."""
    try:
        return botocore.configloader.raw_config_parse(path, parse_subsections=nested)
    except botocore.exceptions.ConfigParseError:
        return None


# Where we knowingly part from botocore: a NUL byte marks a binary file, refused rather than read as text.
def _has_nul(content: bytes) -> bool:
    return b"\0" in content


@pytest.mark.parametrize("reader_name", ["AWS config", "AWS credentials"])
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=junk_files())
def test_a_fuzzed_aws_file_is_refused_exactly_when_botocore_refuses_it(tmp_path, reader_name, content):
    assume(not _has_nul(content))
    path = write(tmp_path / "fuzzed", content)
    theirs = botocore_reads(path)
    try:
        ours = READERS[reader_name](path)
    except StageError as error:
        assert error.message.startswith(path) and "\n" not in error.message
        event("refused")
        assert theirs is None, f"botocore reads the file we refused ({error.message})"
        return
    event("read")
    assert theirs is not None, "botocore refuses the file we read"
    if reader_name == "AWS credentials":
        assert sorted(ours) == sorted(name.strip() for name in theirs)


@pytest.mark.parametrize("reader_name", ["AWS config", "AWS credentials"])
def test_a_nested_value_botocore_cannot_parse_is_refused_naming_its_line(tmp_path, reader_name):
    path = write(tmp_path / "config", "[profile a]\nregion = us-west-2\ns3 =\n  not a setting\n")
    assert botocore_reads(path) is None and botocore_reads(path, nested=False) is not None
    assert config_error(READERS[reader_name], path).startswith(f"{path}:4")


# Valid AWS configs with every kind of section botocore knows.
PROFILE_NAME = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-_.@+ÄéŁ"), min_size=1, max_size=12)
KEY = st.builds(str.__add__, st.sampled_from("abcdefghijklmnopqrstuvwxyz"), st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789_"), max_size=10))
VALUE = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=30).map(str.strip)
NESTED = st.dictionaries(KEY, VALUE.map(lambda value: value or "x"), min_size=1, max_size=3)
SETTINGS = st.dictionaries(KEY, st.one_of(VALUE, NESTED), max_size=5)


def ini_section(header: str, settings_: dict, delimiter: str) -> list:
    lines = [f"[{header}]"]
    for key, value in settings_.items():
        if isinstance(value, dict):
            lines += [f"{key}{delimiter}"] + [f"    {k} = {v}" for k, v in value.items()]
        else:
            lines.append(f"{key}{delimiter}{value}")
    return lines + ["# end of section", ""]


SECTIONS = st.lists(
    st.tuples(st.sampled_from(["profile", "sso-session", "services", "default"]), PROFILE_NAME, SETTINGS),
    max_size=8,
    unique_by=lambda s: (s[0], s[1]) if s[0] != "default" else "default",
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sections=SECTIONS, newline=st.sampled_from(["\n", "\r\n", "\r"]), delimiter=st.sampled_from(["=", " = ", ": ", " :"]))
def test_aws_config_profiles_are_the_ones_botocore_sees(tmp_path, sections, newline, delimiter):
    lines = ["; generated"]
    for kind, name, values in sections:
        lines += ini_section(kind if kind == "default" else f"{kind} {name}", values, delimiter)
    path = write(tmp_path / "config", newline.join(lines))
    ours = awsconfig.load_profiles(path)
    theirs = botocore.configloader.load_config(path)["profiles"]
    assert {name: sorted(values) for name, values in ours.items()} == {
        name: sorted(values) for name, values in theirs.items()
    }
    for name, values in theirs.items():
        for key, value in values.items():
            if isinstance(value, str):
                assert ours[name][key] == value


def test_profile_default_and_default_section_resolve_as_botocore_does(tmp_path):
    for order in (("default", "profile default"), ("profile default", "default")):
        text = "".join(f"[{header}]\nregion = {header.replace(' ', '-')}\n" for header in order)
        path = write(tmp_path / "config", text)
        assert awsconfig.load_profiles(path) == botocore.configloader.load_config(path)["profiles"]


# Files read as botocore reads them: the same paths, the same sections, the same files taken as none.


@pytest.mark.parametrize("config, credentials", [
    ("$HOME/acme-config", "${HOME}/keys/credentials"),
    ("~/acme-config", "$ACME/credentials"),
], ids=["variables", "tilde-and-a-variable"])
def test_the_file_variables_are_expanded_as_botocore_expands_them(tmp_path, monkeypatch, config, credentials):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("ACME", str(tmp_path / "keys"))
    monkeypatch.setenv("AWS_CONFIG_FILE", config)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", credentials)
    write(tmp_path / "acme-config", "[profile acme-testing-admin]\nregion = eu-central-1\n")
    (tmp_path / "keys").mkdir()
    write(tmp_path / "keys" / "credentials", "[acme]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = s\n")

    assert awsconfig.config_path() == str(tmp_path / "acme-config")
    assert awsconfig.credentials_path() == str(tmp_path / "keys" / "credentials")
    theirs = botocore.session.Session().full_config["profiles"]
    assert {**awsconfig.load_profiles(), **awsconfig.load_credentials()} == theirs


@pytest.mark.parametrize("topology", ["single"])
def test_a_stage_in_files_named_with_home_is_used_by_us_and_the_aws_cli(env, home, topology, sts):
    """AWS_CONFIG_FILE='$HOME/acme-config', as people write it in a Dockerfile's ENV or an .envrc."""
    (home / ".aws" / "config").rename(home / "acme-config")
    (home / "keys").mkdir()
    (home / ".aws" / "credentials").rename(home / "keys" / "credentials")
    env = dict(env, AWS_CONFIG_FILE="$HOME/acme-config", AWS_SHARED_CREDENTIALS_FILE="${HOME}/keys/credentials")

    used = run_cli(env, "use", "testing", "--mfa-token", "123456")
    assert used.returncode == 0, used.stderr
    assert "export AWS_REGION=us-west-2" in used.stdout
    assert run_aws(env, "--profile", "cpco-testing-admin", "configure", "get", "region").stdout == "us-west-2\n"
    # The AWS CLI finds the role credentials we cached under the key of the same profile: no code asked.
    theirs = run_aws(env, "--profile", "cpco-testing-admin", "sts", "get-caller-identity", "--output", "json")
    assert theirs.returncode == 0, theirs.stderr
    doctor = run_cli(env, "doctor", "--offline")
    assert doctor.returncode == 0 and doctor.stdout.startswith("ok: 4 stages"), doctor.stdout


KEYS = "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
TESTING = (
    "region = us-west-2\nrole_arn = arn:aws:iam::323330167063:role/cpco-root-admin\n"
    "mfa_serial = arn:aws:iam::323330167063:mfa/admin@cloudposse.co\nsource_profile = cpco\n"
)
# What botocore cannot read, and where the stage's profile and keys are then found.
UNREAD = {
    "credentials-a-directory": ("[profile cpco]\n" + KEYS + "[profile cpco-testing-admin]\n" + TESTING, None, "is a directory"),
    "credentials-unreadable": ("[profile cpco]\n" + KEYS + "[profile cpco-testing-admin]\n" + TESTING, 0o000,
                               "cannot be read (Permission denied)"),
    "config-unreadable": ("[profile cpco-testing-admin]\nregion = eu-west-1\n", 0o000, "cannot be read (Permission denied)"),
}


@needs_root
@pytest.mark.parametrize("case", list(UNREAD))
def test_an_aws_file_botocore_cannot_read_is_no_file_for_us_as_for_the_aws_cli(tmp_path, sts, case):
    """The AWS CLI carries on without what it cannot read; so do we, and doctor says why with a warning."""
    config, mode, why = UNREAD[case]
    homes = {side: tmp_path / side for side in ("ours", "aws")}
    for home in homes.values():
        (home / ".aws").mkdir(parents=True)
        (home / ".aws" / "config").write_text(config)
        credentials = home / ".aws" / "credentials"
        if mode is None:
            credentials.mkdir()
        else:
            credentials.write_text("[cpco]\n" + KEYS + "[cpco-testing-admin]\n" + TESTING)
        unreadable = home / ".aws" / ("config" if case.startswith("config") else "credentials")
        if mode is not None:
            unreadable.chmod(mode)
    envs = {side: dict(clean_environ(), HOME=str(home), NAMESPACE="cpco", AWS_EC2_METADATA_DISABLED="true",
                       AWS_ENDPOINT_URL_STS=sts.url) for side, home in homes.items()}

    theirs = run_cli_without_root_powers(envs["aws"], "--profile", "cpco-testing-admin", "sts", "get-caller-identity",
                                         "--output", "json", program="aws", input="123456\n")
    assert theirs.returncode == 0, theirs.stderr
    ours = run_cli_without_root_powers(envs["ours"], "use", "testing", "--mfa-token", "123456")
    assert ours.returncode == 0, ours.stderr
    assert "Traceback" not in ours.stderr
    assert "export AWS_REGION=us-west-2" in ours.stdout  # the profile as found where botocore finds it

    doctor = run_cli_without_root_powers(envs["ours"], "doctor", "--offline")
    assert f"warning: {homes['ours'] / '.aws' / unreadable.name} {why}: " in doctor.stdout, doctor.stdout
    assert doctor.returncode == 0 and doctor.stdout.endswith("\n0 error(s), 1 warning(s)\n"), doctor.stdout


# Section names as people quote them: botocore splits them as a shell does (shlex), for profiles and sso-sessions alike.
QUOTED_NAME = st.text(st.sampled_from("ab -_\"'\\"), min_size=1, max_size=10)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(headers=st.lists(st.tuples(st.sampled_from(["profile", "sso-session", "sso-sessions", "services"]), QUOTED_NAME),
                        max_size=6, unique=True))
def test_quoted_section_names_are_split_as_botocore_splits_them(tmp_path, headers):
    path = write(tmp_path / "config", "".join(f"[{kind} {name}]\nregion = r{n}\n" for n, (kind, name) in enumerate(headers)))
    theirs = botocore.configloader.load_config(path)
    event(f"{len(theirs['sso_sessions'])} sso-session(s)")
    assert dict(awsconfig.load_profiles(path)) == theirs["profiles"]
    assert dict(awsconfig.load_sso_sessions(path)) == theirs["sso_sessions"]


def test_an_sso_session_with_a_quoted_name_is_found(tmp_path):
    path = write(tmp_path / "config", '[sso-session "acme corp"]\nsso_region = us-east-1\n[sso-session \'x y\']\nsso_region = eu-west-1\n')
    assert dict(awsconfig.load_sso_sessions(path)) == {"acme corp": {"sso_region": "us-east-1"}, "x y": {"sso_region": "eu-west-1"}}
