"""The key store's pure parts: its content round-trips, and removing keys from a
credentials file keeps every other byte (issue 14)."""

import configparser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geodesic_stage.config import edit as configedit
from geodesic_stage.keys import store as keystore


def test_the_store_content_round_trips_and_its_index_holds_no_secret():
    keys = keystore.Keys({"cpco": [keystore.new_key("AKIA1", "s3cret/1"), keystore.new_key("AKIA2", "s3cret/2")]})
    again = keystore.Keys.from_bytes(keys.to_bytes())
    assert again.profiles == keys.profiles
    assert "s3cret" not in repr(keys.index()) and keys.index()["cpco"][1]["aws_access_key_id"] == "AKIA2"


@pytest.mark.parametrize("data", [b"", b"[]", b'{"version": 2, "profiles": {}}', b'{"version": 1, "profiles": {"a": []}}',
                                  b'{"version": 1, "profiles": {"a": [{"aws_access_key_id": "x"}]}}', b"\xff"])
def test_anything_else_decrypted_is_not_a_store(data):
    with pytest.raises((ValueError, UnicodeDecodeError)):
        keystore.Keys.from_bytes(data)


_names = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)
_values = st.from_regex(r"[A-Za-z0-9/+]{1,20}", fullmatch=True)
_eol = st.sampled_from(["\n", "\r\n"])


@st.composite
def credentials_files(draw):
    """A credentials file with [cpco] somewhere among other sections, comments and blank lines."""
    names = draw(st.lists(_names.filter(lambda n: n != "cpco"), unique=True, max_size=3))
    names.insert(draw(st.integers(0, len(names))), "cpco")
    eol = draw(_eol)
    parts = []
    for name in names:
        parts.append(draw(st.sampled_from(["", f"# about {name}{eol}", eol])))
        lines = [f"aws_access_key_id = {draw(_values)}", f"aws_secret_access_key={draw(_values)}"]
        lines += [f"{k} = {draw(_values)}" for k in draw(st.lists(st.sampled_from(["region", "output"]), unique=True))]
        if draw(st.booleans()):
            lines.insert(draw(st.integers(0, len(lines))), "; a comment inside")
        lines = draw(st.permutations(lines))
        parts.append(f"[{name}]{eol}" + "".join(line + eol for line in lines))
    text = "".join(parts)
    return text[:-len(eol)] if draw(st.booleans()) else text


@settings(max_examples=200, deadline=None)
@given(credentials_files())
def test_removing_keys_drops_exactly_the_two_key_lines_of_that_profile(text):
    after = configedit.remove_keys(text, "cpco")
    parser = configparser.RawConfigParser()
    parser.read_string(after)
    before = configparser.RawConfigParser()
    before.read_string(text)
    assert "aws_access_key_id" not in parser["cpco"] and "aws_secret_access_key" not in parser["cpco"]
    assert dict(parser["cpco"]) == {k: v for k, v in before["cpco"].items() if not k.startswith("aws_")}
    for name in before.sections():
        if name != "cpco":
            assert dict(parser[name]) == dict(before[name])
    # Every other byte kept: the text is the original with exactly those lines cut out.
    assert _without_cpco_keys(text) == after


def _without_cpco_keys(text):
    out, section = [], None
    for line in text.splitlines(keepends=True):
        if line.startswith("["):
            section = line.strip()[1:-1]
        if section == "cpco" and line.replace(" ", "").startswith(("aws_access_key_id=", "aws_secret_access_key=")):
            continue
        out.append(line)
    return "".join(out)


def test_the_passphrase_variable_leaves_the_environment_and_a_file_serves_without_a_terminal(tmp_path, monkeypatch):
    from geodesic_stage.auth import passphrase
    from geodesic_stage.errors import ConfigError, PassphraseUnavailable

    monkeypatch.setattr(passphrase, "_taken", None)
    monkeypatch.setattr(passphrase, "_may_ask", True)
    environ = {"GEODESIC_STAGE_PASSPHRASE": "from the environment", "OTHER": "x"}
    passphrase.take_from_environment(environ)
    assert environ == {"OTHER": "x"}
    assert passphrase.current("/h/.aws/geodesic-stage/keys.age") == "from the environment"

    monkeypatch.setattr(passphrase, "_taken", None)
    secret = tmp_path / "secret"
    secret.write_text("from a file\n")
    monkeypatch.setenv("GEODESIC_STAGE_PASSPHRASE_FILE", str(secret))
    assert passphrase.current("keys.age") == "from a file"
    secret.write_text("")
    with pytest.raises(ConfigError, match="the file is empty"):
        passphrase.current("keys.age")

    monkeypatch.delenv("GEODESIC_STAGE_PASSPHRASE_FILE")
    passphrase.allow_prompt(False)
    with pytest.raises(PassphraseUnavailable, match="never asks"):
        passphrase.current("keys.age")


@pytest.mark.parametrize("credentials", [{}, {"cpco": {}}, {"cpco": {"region": "us-west-2"}}])
def test_a_source_profile_the_files_give_no_keys_starts_from_the_key_store_when_it_may_hold_them(credentials):
    from geodesic_stage.config import chain
    from geodesic_stage.errors import ConfigError

    config = {"cpco-testing-admin": {"role_arn": "arn:aws:iam::323330167063:role/r", "source_profile": "cpco",
                                     "mfa_serial": "arn:aws:iam::323330167063:mfa/me"}}
    links = chain.chain_of("cpco-testing-admin", config, credentials, stored=lambda name: name == "cpco")
    assert links.source == chain.Source("cpco", chain.STATIC, file=chain.KEY_STORE)
    assert links.session_serial == "arn:aws:iam::323330167063:mfa/me", "stored keys are long-term: an MFA session"
    with pytest.raises(ConfigError):
        chain.chain_of("cpco-testing-admin", config, credentials)


def test_keys_in_the_files_resolve_as_before_and_the_store_is_not_asked():
    from geodesic_stage.config import chain

    asked = []
    config = {"r": {"role_arn": "arn:aws:iam::323330167063:role/r", "source_profile": "cpco"}}
    credentials = {"cpco": {"aws_access_key_id": "AKIA", "aws_secret_access_key": "s"}}
    links = chain.chain_of("r", config, credentials, stored=lambda name: asked.append(name) or True)
    assert links.source.file == "credentials" and asked == []
