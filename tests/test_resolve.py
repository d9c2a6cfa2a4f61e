"""Which profile `stage use STAGE` means: resolution as pure functions over parsed config."""

import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from geodesic_stage.errors import ConfigError
from geodesic_stage.config import resolve as resolution
from geodesic_stage.config.resolve import Request, known_stages
from geodesic_stage.config.stages_file import StageEntry, StagesFile

CONFIG = "/home/user/.aws/config"
NO_STAGES_FILE = StagesFile()
# The long-lived keys every stage profile here starts from (a chain needs its source).
SOURCE_KEYS = {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": "secret"}


def resolve(stage, profiles, *rest):
    return resolution.resolve_stage(stage, {**profiles, "cpco": {**profiles.get("cpco", {}), **SOURCE_KEYS}}, *rest)


def stage_profile(account="323330167063", role="cpco-root-admin", **extra):
    return dict(
        role_arn=f"arn:aws:iam::{account}:role/{role}",
        mfa_serial="arn:aws:iam::323330167063:mfa/admin@cloudposse.co",
        source_profile="cpco",
        **extra,
    )


PROFILES = {
    "cpco": {"region": "us-east-1"},
    "cpco-root-admin": stage_profile(region="us-west-2"),
    "cpco-prod-admin": stage_profile("845490276530", "OrganizationAccountAccessRole", region="us-west-2"),
    "cpco-testing-admin": stage_profile("126450723953", "OrganizationAccountAccessRole", region="us-west-2"),
    "cpco-testing-ops": stage_profile("126450723953", "ops"),
}


def use(stage, profiles=PROFILES, stages=NO_STAGES_FILE, **request):
    return resolve(stage, profiles, stages, Request(**request), CONFIG)


def test_namespace_and_default_role_name_the_profile():
    stage = use("testing", namespace="cpco")
    assert stage.name == "testing"
    assert stage.profile.name == "cpco-testing-admin"
    assert stage.profile.account_id == "126450723953"
    assert stage.profile.role_name == "OrganizationAccountAccessRole"
    assert stage.profile.source_profile == "cpco"
    assert stage.profile.mfa_serial == "arn:aws:iam::323330167063:mfa/admin@cloudposse.co"


def test_role_flag_picks_another_role_of_the_same_stage():
    assert use("testing", namespace="cpco", role="ops").profile.name == "cpco-testing-ops"


def test_explicit_profile_wins_over_namespace_and_stages_file():
    stages = StagesFile(namespace="cpco", stages={"testing": StageEntry(profile="cpco-prod-admin")})
    stage = use("testing", stages=stages, namespace="cpco", profile="cpco-root-admin")
    assert stage.profile.name == "cpco-root-admin"
    assert stage.name == "testing"


def test_explicit_profile_that_does_not_exist_names_the_config_file():
    with pytest.raises(ConfigError) as error:
        use("testing", profile="nope")
    assert error.value.message == f"profile 'nope' is not in {CONFIG}"
    assert error.value.exit_code == 2


def test_stages_file_entry_names_the_profile():
    profiles = dict(PROFILES, legacy=stage_profile("111111111111", "Legacy"))
    stages = StagesFile(namespace="cpco", stages={"testing": StageEntry(profile="legacy")})
    assert use("testing", profiles, stages).profile.name == "legacy"


def test_stages_file_supplies_namespace_and_role():
    stages = StagesFile(namespace="cpco", role="ops")
    assert use("testing", stages=stages).profile.name == "cpco-testing-ops"


def test_without_namespace_the_single_matching_profile_is_used():
    assert use("prod").profile.name == "cpco-prod-admin"


def test_without_namespace_several_matches_are_named_in_the_error():
    profiles = dict(PROFILES, **{"acme-testing-admin": stage_profile("222222222222")})
    with pytest.raises(ConfigError) as error:
        use("testing", profiles)
    message = error.value.message
    assert "acme-testing-admin" in message and "cpco-testing-admin" in message
    assert "--namespace" in message
    assert error.value.exit_code == 2


def test_without_namespace_the_namespace_ends_at_the_first_hyphen():
    profiles = {"acme-pre-prod-admin": stage_profile(), "acme-us-east-1-prod-admin": stage_profile()}
    assert known_stages(profiles, NO_STAGES_FILE, Request()) == {
        "pre-prod": "acme-pre-prod-admin", "us-east-1-prod": "acme-us-east-1-prod-admin",
    }
    assert use("pre-prod", profiles).profile.name == "acme-pre-prod-admin"
    with pytest.raises(ConfigError) as error:
        use("prod", profiles)
    assert error.value.exit_code == 2
    assert error.value.message == "unknown stage 'prod'; stages: pre-prod, us-east-1-prod. Did you mean 'pre-prod'?"


def test_unknown_stage_lists_the_stages_and_suggests_the_closest():
    with pytest.raises(ConfigError) as error:
        use("tesing", namespace="cpco")
    assert error.value.exit_code == 2
    assert error.value.message == "unknown stage 'tesing'; stages: prod, root, testing. Did you mean 'testing'?"


def test_unknown_stage_without_a_close_match_lists_the_stages_only():
    with pytest.raises(ConfigError) as error:
        use("zzz", namespace="cpco")
    assert error.value.message == "unknown stage 'zzz'; stages: prod, root, testing."


def test_unknown_stage_without_namespace_also_lists_the_stages():
    with pytest.raises(ConfigError) as error:
        use("prd")
    assert error.value.message == "unknown stage 'prd'; stages: prod, root, testing. Did you mean 'prod'?"


def test_unknown_stage_with_no_stage_profiles_says_how_to_write_them():
    with pytest.raises(ConfigError) as error:
        use("testing", {"cpco": {}}, namespace="cpco")
    assert "no stage profiles found" in error.value.message
    assert "geodesic-stage init" in error.value.message


def test_profile_without_role_arn_names_the_profile_and_the_file():
    profiles = dict(PROFILES, **{"cpco-audit-admin": {"region": "us-west-2", "source_profile": "cpco"}})
    with pytest.raises(ConfigError) as error:
        use("audit", profiles, namespace="cpco")
    assert error.value.exit_code == 2
    assert error.value.message.startswith(f"profile 'cpco-audit-admin' in {CONFIG} has no role_arn")
    assert "role_arn = arn:aws:iam::" in error.value.message


def test_stages_file_role_arn_fills_a_profile_without_one():
    profiles = dict(PROFILES, **{"cpco-audit-admin": {"source_profile": "cpco"}})
    stages = StagesFile(stages={"audit": StageEntry(role_arn="arn:aws:iam::333333333333:role/Auditor")})
    profile = use("audit", profiles, stages, namespace="cpco").profile
    assert (profile.account_id, profile.role_name) == ("333333333333", "Auditor")


def test_duration_seconds_that_is_not_a_number_names_the_profile_and_the_file():
    profiles = {"cpco-testing-admin": stage_profile(duration_seconds="an hour")}
    with pytest.raises(ConfigError) as error:
        use("testing", profiles, namespace="cpco")
    assert error.value.message == (
        f"profile 'cpco-testing-admin' in {CONFIG}: duration_seconds = 'an hour' is not a number of seconds"
    )


def test_profile_settings_are_carried_into_the_stage():
    profiles = {"cpco-testing-admin": stage_profile(
        duration_seconds="7200", external_id="xyz", role_session_name="me", mfa_process="pass otp aws"
    )}
    profile = use("testing", profiles, namespace="cpco").profile
    assert (profile.duration_seconds, profile.external_id, profile.role_session_name, profile.mfa_process) == (
        7200, "xyz", "me", "pass otp aws"
    )


@pytest.mark.parametrize(
    "flag, in_profile, in_entry, default, expected",
    [
        ("eu-north-1", "us-west-2", "ap-south-1", "ca-central-1", "eu-north-1"),
        (None, "us-west-2", "ap-south-1", "ca-central-1", "us-west-2"),
        (None, None, "ap-south-1", "ca-central-1", "ap-south-1"),
        (None, None, None, "ca-central-1", "ca-central-1"),
        (None, None, None, None, None),
    ],
)
def test_region_comes_from_flag_then_profile_then_stage_entry_then_stages_default(
    flag, in_profile, in_entry, default, expected
):
    section = stage_profile(**({"region": in_profile} if in_profile else {}))
    stages = StagesFile(region=default, stages={"testing": StageEntry(region=in_entry)})
    stage = use("testing", {"cpco-testing-admin": section}, stages, namespace="cpco", region=flag)
    assert stage.profile.region == expected


def test_known_stages_lists_every_stage_with_its_profile_sorted():
    stages = StagesFile(stages={"audit": StageEntry(profile="auditor"), "prod": StageEntry()})
    listed = known_stages(PROFILES, stages, Request(namespace="cpco"))
    assert list(listed.items()) == [
        ("audit", "auditor"),
        ("prod", "cpco-prod-admin"),
        ("root", "cpco-root-admin"),
        ("testing", "cpco-testing-admin"),
    ]


def test_known_stages_skip_profiles_without_a_role_and_of_other_roles():
    profiles = {"cpco-dev-admin": {"region": "us-west-2"}, "cpco-dev-ops": stage_profile()}
    assert known_stages(profiles, NO_STAGES_FILE, Request(namespace="cpco")) == {}
    assert known_stages(profiles, NO_STAGES_FILE, Request(namespace="cpco", role="ops")) == {"dev": "cpco-dev-ops"}


# Names people give stages and namespaces: hyphens, dots, digits, accents, CJK; no blanks or controls,
# which an INI section name cannot hold.
NAME = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp"), blacklist_characters="[]"),
    min_size=1,
    max_size=20,
)
HYPHENLESS = NAME.filter(lambda s: "-" not in s)


@settings(max_examples=300, deadline=None)
@given(namespace=NAME, stage_names=st.sets(NAME, min_size=1, max_size=5), role=st.sampled_from(["admin", "ops", "read-only"]))
def test_with_a_namespace_every_stage_is_listed_and_resolves_to_its_profile(namespace, stage_names, role):
    profiles = {f"{namespace}-{name}-{role}": stage_profile() for name in stage_names}
    request = Request(namespace=namespace, role=role)
    expected = {name: f"{namespace}-{name}-{role}" for name in stage_names}
    assert known_stages(profiles, NO_STAGES_FILE, request) == dict(sorted(expected.items()))
    for name, profile_name in expected.items():
        assert resolve(name, profiles, NO_STAGES_FILE, request, CONFIG).profile.name == profile_name


@settings(max_examples=200, deadline=None)
@given(namespace=HYPHENLESS, stage=NAME, others=st.sets(HYPHENLESS, max_size=3))
def test_without_a_namespace_a_stage_resolves_to_its_only_profile(namespace, stage, others):
    profiles = {f"{namespace}-{name}-admin": stage_profile() for name in others | {stage}}
    stage_found = resolve(stage, profiles, NO_STAGES_FILE, Request(), CONFIG)
    assert stage_found.profile.name == f"{namespace}-{stage}-admin"
    assert known_stages(profiles, NO_STAGES_FILE, Request())[stage] == f"{namespace}-{stage}-admin"


@settings(max_examples=200, deadline=None)
@given(namespace=NAME, stage_names=st.sets(NAME, min_size=1, max_size=4), typed=NAME)
def test_an_unknown_stage_is_a_config_error_naming_every_stage(namespace, stage_names, typed):
    assume(typed not in stage_names)
    profiles = {f"{namespace}-{name}-admin": stage_profile() for name in stage_names}
    with pytest.raises(ConfigError) as error:
        resolve(typed, profiles, NO_STAGES_FILE, Request(namespace=namespace), CONFIG)
    assert error.value.exit_code == 2
    assert f"unknown stage {typed!r}; stages: " in error.value.message
    for name in stage_names:
        assert name in error.value.message


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.tuples(NAME, NAME), min_size=1, max_size=5), data=st.data())
def test_without_a_namespace_a_stage_means_only_a_profile_whose_namespace_has_no_hyphen(parts, data):
    profiles = {f"{ns}-{stage}-admin": stage_profile() for ns, stage in parts}
    # Half the time a stage part of some profile (hyphenated ones included), else any name.
    typed = data.draw(st.one_of(st.sampled_from([stage for _, stage in parts]), NAME))
    exact = [name for name in profiles if name.endswith(f"-{typed}-admin") and "-" not in name[: -len(f"-{typed}-admin")]]
    event(f"{min(len(exact), 2)} profile(s) named NS-{{typed}}-admin with a hyphen-free NS")
    try:
        found = resolve(typed, profiles, NO_STAGES_FILE, Request(), CONFIG).profile.name
    except ConfigError:
        assert len(exact) != 1
        return
    assert [found] == exact
    assert known_stages(profiles, NO_STAGES_FILE, Request())[typed] == found
