"""Record: the values the package passes around behave as the frozen dataclasses they replaced."""

import pytest

from geodesic_stage.model import Chain, Credentials, Profile, RoleLink, Source
from geodesic_stage.record import replace
from geodesic_stage.config.stages_file import StagesFile

SECRET, TOKEN = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "FQoGZXIvYXdzEBYaDS8HF9Jirg2TZBJibClg"


def test_fields_take_positions_keywords_and_defaults():
    link = RoleLink("cpco-testing-admin", "arn:aws:iam::1:role/a", duration_seconds=3600)
    assert (link.profile, link.role_arn, link.mfa_serial, link.duration_seconds) == ("cpco-testing-admin", "arn:aws:iam::1:role/a", None, 3600)
    assert Chain(Source("cpco", "static keys")).roles == ()
    with pytest.raises(TypeError):
        RoleLink("only-a-profile")
    with pytest.raises(TypeError):
        RoleLink("p", "arn", role="not a field")
    with pytest.raises(TypeError):
        RoleLink("p", "arn", profile="twice")


def test_records_are_values_that_cannot_change():
    a = Profile(name="p", role_arn="arn:aws:iam::1:role/a")
    assert a == Profile("p", "arn:aws:iam::1:role/a") and hash(a) == hash(Profile("p", "arn:aws:iam::1:role/a"))
    assert a != Profile("p", "arn:aws:iam::1:role/a", region="us-west-2")
    assert Source("p", "sso") != RoleLink("p", "sso"), "a record equals only its own kind"
    with pytest.raises(AttributeError):
        a.region = "eu-west-1"
    changed = replace(a, region="eu-west-1")
    assert (changed.region, a.region) == ("eu-west-1", None)


def test_a_default_container_is_not_shared_to_be_filled():
    with pytest.raises(TypeError):
        StagesFile().stages["testing"] = None
    assert StagesFile().stages == {}


def test_secrets_stay_out_of_the_repr():
    shown = repr(Credentials("AKIAIOSFODNN7EXAMPLE", SECRET, TOKEN, None))
    assert "AKIAIOSFODNN7EXAMPLE" in shown and SECRET not in shown and TOKEN not in shown
