"""The profiles each topology calls for, computed without files or network."""

from dataclasses import replace
from pathlib import Path

import pytest

from geodesic_stage.topology import profiles as topology
from geodesic_stage.errors import ConfigError
from geodesic_stage.topology.profiles import Inputs, StageInput

DATA = Path(__file__).resolve().parent / "data"
# The spec's example, single topology, as printed there.
SPEC_SINGLE_TESTING = """\
[profile cpco-testing-admin]
region=us-west-2
role_arn=arn:aws:iam::323330167063:role/cpco-root-admin
mfa_serial=arn:aws:iam::323330167063:mfa/admin@cloudposse.co
source_profile=cpco
"""
ACCOUNTS = {"prod": "845490276530", "staging": "215480124567", "testing": "126450723953"}
EXPECTED = {
    "single": DATA / "single.config",
    "organization": DATA / "organization.config",
    "accounts": DATA / "golden" / "accounts.config",
}


def cpco(name: str, **changes) -> Inputs:
    """The cloudposse example team: root account 323330167063, stages prod, staging, testing."""
    with_accounts = name != "single"
    inputs = Inputs(
        topology=name,
        namespace="cpco",
        role="admin",
        region="us-west-2",
        root_account_id="323330167063",
        mfa_serial="arn:aws:iam::323330167063:mfa/admin@cloudposse.co",
        source_profile="cpco",
        stages=tuple(StageInput(s, a if with_accounts else None) for s, a in ACCOUNTS.items()),
    )
    return replace(inputs, **changes)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_topology_renders_its_golden_file(name):
    assert topology.render(topology.profiles(cpco(name))) == EXPECTED[name].read_text()


def test_the_specs_single_example_is_the_testing_profile():
    profiles = {p.name: p for p in topology.profiles(cpco("single"))}
    assert topology.render_profile(profiles["cpco-testing-admin"]) == SPEC_SINGLE_TESTING


def test_the_specs_organization_example_differs_only_in_role_arn():
    profiles = {p.name: p for p in topology.profiles(cpco("organization"))}
    expected = SPEC_SINGLE_TESTING.replace(
        "role_arn=arn:aws:iam::323330167063:role/cpco-root-admin",
        "role_arn=arn:aws:iam::126450723953:role/OrganizationAccountAccessRole",
    )
    assert topology.render_profile(profiles["cpco-testing-admin"]) == expected


def test_a_listed_root_stage_keeps_its_place_and_assumes_the_root_role():
    stages = (StageInput("prod", "845490276530"), StageInput("root", "323330167063"))
    profiles = topology.profiles(cpco("organization", stages=stages))
    assert [(p.name, p.role_name) for p in profiles] == [
        ("cpco-prod-admin", "OrganizationAccountAccessRole"),
        ("cpco-root-admin", "cpco-root-admin"),
    ]


def test_accounts_stage_may_name_its_own_role_and_region():
    stages = (StageInput("audit", "111122223333", role_arn="arn:aws:iam::111122223333:role/ReadOnly", region="eu-west-1"),)
    audit = topology.profiles(cpco("accounts", stages=stages))[1]
    assert (audit.name, audit.role_arn, audit.region) == (
        "cpco-audit-admin", "arn:aws:iam::111122223333:role/ReadOnly", "eu-west-1"
    )


def test_a_custom_role_name_changes_profile_names_and_the_root_role():
    profiles = topology.profiles(cpco("single", role="ops"))
    assert {p.name for p in profiles} == {"cpco-root-ops", "cpco-prod-ops", "cpco-staging-ops", "cpco-testing-ops"}
    assert {p.role_arn for p in profiles} == {"arn:aws:iam::323330167063:role/cpco-root-ops"}


@pytest.mark.parametrize("name, stages, says", [
    ("organization", (StageInput("prod"),), "--stage prod=ACCOUNT_ID"),
    ("accounts", (StageInput("prod", "84549027653"),), "not a 12-digit AWS account id"),
    ("organization", (StageInput("prod", "845490276530"), StageInput("qa", "845490276530")), "share account 845490276530"),
    ("accounts", (StageInput("prod", "323330167063"),), "stages 'root' and 'prod' share account 323330167063"),
    ("single", (StageInput("prod", "845490276530"),), "use --topology accounts"),
])
def test_inputs_that_cannot_make_the_topology_are_refused_with_the_fix(name, stages, says):
    with pytest.raises(ConfigError) as e:
        topology.profiles(cpco(name, stages=stages))
    assert says in e.value.message


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_topology_is_inferred_from_the_profiles_it_wrote(name):
    profiles = topology.profiles(cpco(name))
    by_stage = {p.name.split("-")[1]: p for p in profiles}
    assert topology.infer(by_stage) == name
    assert topology.root_account(by_stage) == "323330167063"


def test_the_root_account_comes_from_the_mfa_device_when_there_is_no_root_stage():
    by_stage = {p.name.split("-")[1]: p for p in topology.profiles(cpco("organization"))}
    del by_stage["root"]
    assert topology.root_account(by_stage) == "323330167063"
    assert topology.root_account(by_stage, declared="999988887777") == "999988887777"
