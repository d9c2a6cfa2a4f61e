"""A large AWS config is checked line by line once per text, then read one section at a time.

botocore refuses a whole file for an error on any line, so every read checks every line, except
that a file of awsconfig.CHECKED_ONCE_FROM bytes or more whose exact text passed once (its digest
is kept in the cache) is then indexed by its [section] lines and each section parsed when read.
These tests hold that to what it must not change: what is read, what is refused, and the cache's
rules for what it trusts."""

import os
import stat

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import DATA, run_aws, run_cli
from geodesic_stage.config import awsconfig
from geodesic_stage.config import checked
from geodesic_stage.errors import ConfigError
from test_config_files import junk_files, write
from test_fast_path import CONFIG, ODD, beyond_the_fast_path, loaded_modules, with_odd_line

CODE = "123456"


@pytest.fixture
def own_home(tmp_path, monkeypatch):
    """HOME (and so the cache) in tmp_path, for reads in this process."""
    home = tmp_path / "own-home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def outcome(reader, path: str):
    """What a reader makes of the file: its sections with their settings in order, or its one-line refusal."""
    try:
        return [(name, list(section.items())) for name, section in reader(path).items()]
    except ConfigError as error:
        return error.message


def filler(count: int) -> str:
    """`count` profiles in the shape init writes, some 250 bytes each."""
    return "".join(
        f"\n[profile filler-{n:04d}-admin]\nregion = us-west-2\n"
        f"role_arn = arn:aws:iam::{200000000000 + n}:role/OrganizationAccountAccessRole\n"
        "mfa_serial = arn:aws:iam::323330167063:mfa/admin@cloudposse.co\nsource_profile = cpco\n"
        for n in range(count)
    )


def large(text: str) -> str:
    """The text with profiles enough after it to be read the checked-once way."""
    text += filler(awsconfig.CHECKED_ONCE_FROM // 200)
    assert len(text) >= awsconfig.CHECKED_ONCE_FROM
    return text


# Reading a second time, from the index, gives what the first read gave.


@pytest.mark.parametrize("reader_name", ["AWS config", "AWS credentials"])
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=junk_files())
def test_a_fuzzed_file_read_again_is_read_or_refused_as_the_first_time(tmp_path, own_home, monkeypatch, reader_name, content):
    reader = {"AWS config": awsconfig.load_profiles, "AWS credentials": awsconfig.load_credentials}[reader_name]
    path = write(tmp_path / "fuzzed", content)
    monkeypatch.setattr(awsconfig, "CHECKED_ONCE_FROM", 10**9)
    every_line = outcome(reader, path)
    event("refused" if isinstance(every_line, str) else "read")
    monkeypatch.setattr(awsconfig, "CHECKED_ONCE_FROM", 0)
    assert outcome(reader, path) == every_line
    assert outcome(reader, path) == every_line


READERS = (awsconfig.load_profiles, awsconfig.load_credentials, awsconfig.load_sso_sessions)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config=CONFIG, odd=st.lists(st.tuples(ODD, st.integers(0, 40)), max_size=2))
def test_a_config_read_again_from_its_index_is_what_checking_every_line_reads(tmp_path, own_home, monkeypatch, config, odd):
    lines = config
    for line, where in odd:
        lines = with_odd_line(lines, line, where)
    path = write(tmp_path / "config", "\n".join(line for _, _, line in lines))
    monkeypatch.setattr(awsconfig, "CHECKED_ONCE_FROM", 10**9)
    every_line = [outcome(reader, path) for reader in READERS]
    monkeypatch.setattr(awsconfig, "CHECKED_ONCE_FROM", 0)
    assert [outcome(reader, path) for reader in READERS] == every_line  # checked, and remembered if plain

    indexed = checked.checked_before(checked.text_digest(open(path).read()))
    event("read again from the index" if indexed else "not in the plain shape: checked every time")
    assert indexed == (awsconfig._plain_sections(open(path).read()) is not None)
    assert [outcome(reader, path) for reader in READERS] == every_line


def test_a_file_read_from_its_index_parses_only_the_sections_asked_for(tmp_path, own_home, monkeypatch):
    path = write(tmp_path / "config", large((DATA / "organization.config").read_text()))
    first = awsconfig.load_profiles(path)
    parsed = []
    plain_settings = awsconfig._plain_settings
    monkeypatch.setattr(awsconfig, "_plain_settings", lambda body: parsed.append(body) or plain_settings(body))

    again = awsconfig.load_profiles(path)
    assert len(again) == len(first) and parsed == [""]  # the (empty) text before the first section
    assert again["cpco-testing-admin"] == first["cpco-testing-admin"]
    assert again.get("filler-0007-admin") == first["filler-0007-admin"]
    assert len(parsed) == 3
    assert again["cpco-testing-admin"] is again["cpco-testing-admin"] and len(parsed) == 3  # parsed once


def test_a_small_file_is_checked_every_time_and_leaves_no_digest(tmp_path, own_home):
    path = write(tmp_path / "config", (DATA / "organization.config").read_text())
    awsconfig.load_profiles(path)
    assert not (own_home / ".aws" / "cli" / "cache" / "geodesic-stage" / "checked").exists()


# What is refused stays refused.


def test_an_error_in_a_section_never_read_refuses_the_file_every_time_as_botocore_does(tmp_path, own_home):
    text = large((DATA / "organization.config").read_text())
    path = write(tmp_path / "config", text)
    assert "cpco-testing-admin" in awsconfig.load_profiles(path)
    assert "cpco-testing-admin" in awsconfig.load_profiles(path)  # from the index now

    # The same length, so only the text tells the two apart.
    broken = text.replace("[profile filler-0100-admin]\nregion = us-west-2", "[profile filler-0100-admin]\nregion   us-west-2")
    assert len(broken) == len(text) and broken != text
    write(tmp_path / "config", broken)
    line = broken[: broken.index("region   us-west-2")].count("\n") + 1
    for _ in range(2):
        with pytest.raises(ConfigError) as refused:
            awsconfig.load_profiles(path)
        assert refused.value.message.startswith(f"{path}:{line}: ")
    assert len(checked.checked_cache().get(checked.CHECKED_KEY)["crc32"]) == 1, "only the text that passed is kept"


def test_the_digests_kept_are_the_newest_few(tmp_path, own_home):
    text = large("")
    for n in range(checked.CHECKED_KEPT + 3):
        awsconfig.load_profiles(write(tmp_path / "config", f"# edit {n}\n{text}"))
    kept = checked.checked_cache().get(checked.CHECKED_KEY)["crc32"]
    assert len(kept) == checked.CHECKED_KEPT
    assert kept[0] == checked.text_digest(f"# edit {checked.CHECKED_KEPT + 2}\n{text}")
    assert checked.text_digest(f"# edit 0\n{text}") not in kept


# What the cache trusts.


def trusted_but_broken(tmp_path) -> str:
    """A large file with an error in a section no one reads, whose digest is (falsely) in the cache:
    what a cache entry that was not ours could make us skip."""
    text = large((DATA / "organization.config").read_text()).replace("[profile filler-0100-admin]\n", "[profile filler-0100-admin]\nno setting here\n")
    path = write(tmp_path / "config", text)
    checked.checked_cache().put(checked.CHECKED_KEY, {"crc32": [checked.text_digest(text)]})
    return path


def test_a_digest_cache_writable_by_others_is_not_trusted(tmp_path, own_home):
    path = trusted_but_broken(tmp_path)
    entry = checked.checked_cache().path(checked.CHECKED_KEY)
    assert stat.S_IMODE(os.stat(entry).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(entry)).st_mode) == 0o700
    # The control: from a file of ours, the entry is trusted, and the error goes unseen.
    assert "cpco-testing-admin" in awsconfig.load_profiles(path)

    os.chmod(entry, 0o620)
    with pytest.raises(ConfigError, match="no setting here"):
        awsconfig.load_profiles(path)


@pytest.mark.parametrize("damage", ["not json", "a list", "wrong digests"])
def test_a_damaged_digest_cache_means_checking_again(tmp_path, own_home, damage):
    path = trusted_but_broken(tmp_path)
    entry = checked.checked_cache().path(checked.CHECKED_KEY)
    with open(entry, "w") as f:
        f.write({"not json": "{", "a list": '{"crc32": 7}', "wrong digests": '{"crc32": [1, null, "00"]}'}[damage])
    with pytest.raises(ConfigError, match="no setting here"):
        awsconfig.load_profiles(path)
    text = large("")
    awsconfig.load_profiles(write(tmp_path / "good", text))
    assert checked.checked_before(checked.text_digest(text)), "the damaged entry is replaced by a good one"


def test_a_cache_that_cannot_be_written_means_checking_every_time(tmp_path, own_home):
    blocked = own_home / ".aws" / "cli" / "cache" / "geodesic-stage" / "checked"
    blocked.parent.mkdir(parents=True)
    blocked.write_text("a file where the directory would be")
    text = large((DATA / "organization.config").read_text())
    path = write(tmp_path / "config", text)
    for _ in range(2):
        assert "cpco-testing-admin" in awsconfig.load_profiles(path)
    assert not checked.checked_before(checked.text_digest(text))


# The command, side by side with the AWS CLI.


@pytest.mark.parametrize("topology", ["organization"])
def test_a_cached_use_of_a_large_config_refuses_it_as_the_aws_cli_does_after_an_edit(env, home, topology, sts):
    config = home / ".aws" / "config"
    text = large(config.read_text())
    config.write_text(text)
    assert run_cli(env, "use", "testing", "--mfa-token", CODE).returncode == 0
    sts.reset()
    cached = run_cli(env, "use", "testing")
    assert cached.returncode == 0 and sts.calls == [], cached.stderr
    assert checked.text_digest(text) in (home / ".aws/cli/cache/geodesic-stage/checked/aws-files-v2.json").read_text()

    # An edit far from the stage's profile, keeping the length: both refuse the file.
    broken = text.replace("[profile filler-0200-admin]\nregion = us-west-2", "[profile filler-0200-admin]\nregion   us-west-2")
    assert len(broken) == len(text) and broken != text
    config.write_text(broken)
    line = broken[: broken.index("region   us-west-2")].count("\n") + 1
    for _ in range(2):
        refused = run_cli(env, "use", "testing")
        assert refused.returncode == 2 and refused.stdout == ""
        assert refused.stderr.startswith(f"geodesic-stage: {config}:{line}: ") and refused.stderr.count("\n") == 1, refused.stderr
    assert run_aws(env, "--profile", "cpco-testing-admin", "configure", "get", "region").returncode != 0

    config.write_text(text)
    again = run_cli(env, "use", "testing")
    assert again.returncode == 0 and sts.calls == [], again.stderr
    assert run_aws(env, "--profile", "cpco-testing-admin", "configure", "get", "region").stdout.strip() == "us-west-2"


@pytest.mark.parametrize("topology", ["organization"])
def test_a_cached_use_of_a_large_config_loads_only_the_modules_of_the_fast_path(env, home, topology, sts):
    config = home / ".aws" / "config"
    config.write_text(large(config.read_text()))
    assert run_cli(env, "use", "testing", "--mfa-token", CODE).returncode == 0  # checks the file, keeps its digest
    assert "zlib" in loaded_modules(env, "use", "testing")[1]
    for args in (("use", "testing"), ("list",)):
        assert beyond_the_fast_path(env, *args) == set(), f"{' '.join(args)} loaded more"
