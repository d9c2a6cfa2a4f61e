"""The pure parts of Kubernetes and ECR per stage: cluster names from the stages file and its pattern,
ECR registries and registry hosts, the ExecCredential version, the kubeconfig of a stage without a cluster,
and how long kubectl's answer is kept."""

import os
import sys
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geodesic_stage.ecr.registries import Registry, of_stage as registries_of, parse_host
from geodesic_stage.eks.cluster import Cluster, configured, of_stage
from geodesic_stage.eks import served
from geodesic_stage.eks.kubeconfig import LAUNCH, NO_SERVER, document
from geodesic_stage.eks.token import api_version
from geodesic_stage.errors import ConfigError
from geodesic_stage.lifetimes import EKS_TOKEN_MARGIN_SECONDS
from geodesic_stage.config.stages_file import StageEntry, StagesFile

PATH = "/etc/geodesic/stages.conf"


def stages(pattern=None, environment=None, **entries) -> StagesFile:
    return StagesFile(path=PATH, eks_cluster_pattern=pattern, environment=environment,
                      stages={name: StageEntry(**values) for name, values in entries.items()})


def test_a_stage_cluster_is_its_entry_else_the_pattern_in_its_eks_region_else_its_own():
    team = stages("{namespace}-{environment}-{stage}-eks-cluster", "uw2",
                  prod={"eks_cluster": "legacy", "eks_region": "eu-west-1"}, testing={"environment": "ue1"})
    assert configured(team) and not configured(stages(testing={}))
    assert of_stage("prod", team, "acme", "us-west-2") == Cluster("legacy", "eu-west-1")
    assert of_stage("testing", team, "acme", "us-east-1") == Cluster("acme-ue1-testing-eks-cluster", "us-east-1")
    assert of_stage("dev", team, "acme", "us-west-2") == Cluster("acme-uw2-dev-eks-cluster", "us-west-2")
    assert of_stage("dev", stages(testing={}), "acme", "us-west-2") is None


@pytest.mark.parametrize("team, message", [
    (stages("{team}-{stage}"), f"{PATH}: eks_cluster_pattern has {{team}}; the placeholders are {{namespace}}, {{environment}}, {{stage}}, {{region}}"),
    (stages("{namespace}-{environment}-{stage}"), f"{PATH}: eks_cluster_pattern uses {{environment}}, which has no value here; set environment = (e.g. uw2) in the stages file"),
    (stages(dev={"eks_cluster": "my cluster"}), f"{PATH}: [stages][[dev]] gives the EKS cluster name 'my cluster', which EKS does not allow; use letters, digits, - and _ (up to 100, starting with a letter or digit)"),
    (stages(dev={"eks_cluster": "c", "eks_region": "mars"}), f"{PATH}: [stages][[dev]]: the EKS region 'mars' is not an AWS region name; e.g. eks_region = us-west-2"),
])
def test_a_cluster_setting_that_cannot_be_used_is_an_error_that_says_what_to_set(team, message):
    with pytest.raises(ConfigError) as raised:
        of_stage("dev", team, "acme", "us-west-2")
    assert raised.value.message == message


@given(st.text(max_size=30))
def test_a_pattern_filled_with_any_stage_name_gives_a_name_eks_allows_or_an_error(stage):
    try:
        found = of_stage(stage, stages("{namespace}-{stage}-eks"), "acme", "us-west-2")
    except ConfigError as e:
        assert "EKS does not allow" in e.message or (stage == "" and "name the stage" in e.message)
    else:
        assert found.name == f"acme-{stage}-eks"


def test_a_stage_registries_are_its_own_with_ecr_true_and_those_it_lists():
    team = stages(prod={"ecr": "true", "ecr_registries": "111111111111, 222222222222:eu-west-1 333333333333.dkr.ecr.ap-south-1.amazonaws.com"})
    assert registries_of("prod", team, "845490276530", "us-west-2") == (
        Registry("845490276530", "us-west-2"), Registry("111111111111", "us-west-2"),
        Registry("222222222222", "eu-west-1"), Registry("333333333333", "ap-south-1"),
    )
    assert registries_of("prod", stages(prod={"ecr": "no"}), "845490276530", "us-west-2") == ()
    with pytest.raises(ConfigError, match="ecr_registries has '12345'"):
        registries_of("prod", stages(prod={"ecr_registries": "12345"}), "845490276530", "us-west-2")
    with pytest.raises(ConfigError, match="ecr = 'maybe'"):
        registries_of("prod", stages(prod={"ecr": "maybe"}), "845490276530", "us-west-2")


@given(st.from_regex(r"\d{12}", fullmatch=True), st.sampled_from(["us-west-2", "eu-central-1", "cn-north-1", "us-gov-west-1"]),
       st.sampled_from(["", "https://", "http://"]), st.sampled_from(["", "/", "/v2/", ":443"]))
def test_a_registry_host_as_docker_names_it_is_read_back(account, region, scheme, tail):
    registry = Registry(account, region)
    assert parse_host(f"{scheme}{registry.host}{tail}") == registry


@given(st.text(max_size=80))
def test_any_other_server_name_is_no_registry_and_no_crash(server):
    found = parse_host(server)
    assert found is None or found.host in server.lower()


def test_the_exec_credential_version_is_the_one_kubectl_asks_for():
    assert api_version(None) == "client.authentication.k8s.io/v1beta1"
    assert api_version('{"apiVersion": "client.authentication.k8s.io/v1", "spec": {}}') == "client.authentication.k8s.io/v1"
    with pytest.raises(ConfigError, match="v1alpha1"):
        api_version('{"apiVersion": "client.authentication.k8s.io/v1alpha1"}')
    with pytest.raises(ConfigError, match="not the JSON kubectl sends"):
        api_version("{")


def test_a_stage_without_a_cluster_gets_a_kubeconfig_whose_token_command_says_so():
    doc = document("testing", "cpco-testing-admin", None, None)
    assert doc["current-context"] == "testing"
    assert doc["clusters"][0]["cluster"] == {"server": NO_SERVER}
    exec_ = doc["users"][0]["user"]["exec"]
    # geodesic-stage as this install's interpreter runs it (kubectl needs no PATH, nor pip's wrapper).
    assert os.path.samefile(exec_["command"], sys.executable)
    assert exec_["args"] == ["-c", LAUNCH, "eks-token", "testing", "--profile", "cpco-testing-admin"]
    assert exec_["interactiveMode"] == "Never"


def test_kubectl_answer_is_served_for_its_request_until_the_margin_before_its_token_ends(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    request = served.request(["prod", "--cluster", "c"], {"NAMESPACE": "acme"})
    now = datetime.now(timezone.utc)
    served.keep(request, "{}\n", now + timedelta(minutes=14))
    assert served.answer(request) == "{}\n"
    assert served.answer(served.request(["prod", "--cluster", "c"], {"NAMESPACE": "other"})) is None
    (tmp_path / "config").write_text("[profile prod]\n")
    assert served.answer(served.request(["prod", "--cluster", "c"], {"NAMESPACE": "acme"})) is None, "the config changed"

    served.keep(request, "{}\n", now + timedelta(seconds=EKS_TOKEN_MARGIN_SECONDS + 5))
    assert served.answer(request) == "{}\n"
    served.keep(request, "{}\n", now + timedelta(seconds=EKS_TOKEN_MARGIN_SECONDS - 1))
    assert served.answer(request) is None, "within the margin"
    served.keep(request, "{}\n", now + timedelta(hours=1))
    assert served.answer(request) is None, "from the future"
    served.keep(request, "{}\n", now + timedelta(minutes=14))
    (entry,) = (tmp_path / ".aws" / "cli" / "cache" / "geodesic-stage" / "eks" / "served").iterdir()
    os.chmod(entry, 0o620)
    assert served.answer(request) is None, "a file others can write is no answer of ours"
    assert served.forget() == 1 and served.answer(request) is None
