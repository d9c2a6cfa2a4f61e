"""kubectl follows the stage: `stage use prod` points KUBECONFIG at a kubeconfig of ours for prod's
EKS cluster, whose exec plugin signs tokens with prod's own role; a real kubectl reaches a loopback
API server that checks each token as aws-iam-authenticator does, with moto's EKS behind DescribeCluster."""

import base64
import json
import re
import shlex
import subprocess
import urllib.parse
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from conftest import BIN, run_cli
from eksfake import KubeApiFake, ServiceProxy, TokenRefused, caller_of
from ptyshell import MFA_PROMPT
from test_fast_path import heavy, imported_modules

CODE = "123456"
KUBECTL = str(BIN / "kubectl")
organization = pytest.mark.parametrize("topology", ["organization"])
# The organization example: each stage its own account, reached through OrganizationAccountAccessRole.
ACCOUNTS = {"prod": "845490276530", "testing": "126450723953", "staging": "215480124567"}
CLUSTERS = {"prod": "acme-prod-eks-cluster", "testing": "acme-testing-eks-cluster"}
STAGES_FILE = """namespace = cpco
[stages]
[[prod]]
eks_cluster = acme-prod-eks-cluster
[[testing]]
eks_cluster = acme-testing-eks-cluster
[[staging]]
"""


def role_of(stage: str) -> str:
    return f"arn:aws:sts::{ACCOUNTS[stage]}:assumed-role/OrganizationAccountAccessRole/geodesic-stage-admin@cloudposse.co"


def exported(block: str) -> dict:
    return dict(shlex.split(line)[1].split("=", 1) for line in block.splitlines() if line.startswith("export "))


class Eks:
    """moto's EKS behind a ServiceProxy, and an API server fake per cluster created with `cluster()`."""

    def __init__(self, moto_url, sts, env, tmp_path):
        self.moto_url, self.sts, self.env, self.tmp_path = moto_url, sts, env, tmp_path
        self.proxy = ServiceProxy(moto_url)
        self.fakes = {}
        self._created = []  # (moto client of the account, cluster name): moto outlives the test

    def credentials(self, stage: str) -> dict:
        done = run_cli(self.env, "env", stage, "--format", "json", "--mfa-token", CODE)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def cluster(self, stage: str, name: str) -> KubeApiFake:
        """`name` created in the stage's account (with its role, at moto), answered by a fake of its own."""
        keys = self.credentials(stage)
        client = boto3.client(
            "eks", region_name="us-west-2", endpoint_url=self.moto_url, aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"], aws_session_token=keys["AWS_SESSION_TOKEN"],
        )
        client.create_cluster(name=name, roleArn=f"arn:aws:iam::{ACCOUNTS[stage]}:role/eks", resourcesVpcConfig={})
        self._created.append((client, name))
        fake = KubeApiFake(name, self.sts.url, self.tmp_path)
        self.fakes[name] = fake
        self.proxy.clusters[name] = (fake.url, fake.certificate_authority)
        return fake

    def close(self):
        for client, name in self._created:
            client.delete_cluster(name=name)
        for fake in self.fakes.values():
            fake.close()
        self.proxy.close()


@pytest.fixture
def eks(moto_url, sts, env, tmp_path):
    stages = tmp_path / "stages.conf"
    stages.write_text(STAGES_FILE)
    env["GEODESIC_STAGE_CONFIG"] = str(stages)
    found = Eks(moto_url, sts, env, tmp_path)
    env["AWS_ENDPOINT_URL_EKS"] = found.proxy.url
    yield found
    found.close()


def kubectl(env: dict, *args) -> subprocess.CompletedProcess:
    return subprocess.run([KUBECTL, *args], env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def use(env: dict, stage: str, *extra) -> dict:
    done = run_cli(env, "use", stage, *extra)
    assert done.returncode == 0, done.stderr
    return dict(env, **exported(done.stdout))


@organization
def test_the_api_server_fake_takes_a_token_of_aws_eks_get_token_and_refuses_what_aws_iam_authenticator_refuses(eks, env, topology, sts):
    """The fake proved against the AWS CLI v1 first: its token passes, with the caller STS knows."""
    fake = eks.cluster("prod", CLUSTERS["prod"])
    keys = eks.credentials("prod")
    got = subprocess.run(
        [str(BIN / "aws"), "eks", "get-token", "--cluster-name", CLUSTERS["prod"], "--region", "us-west-2"],
        env=dict(env, **keys), capture_output=True, text=True, timeout=60,
    )
    assert got.returncode == 0, got.stderr
    token = json.loads(got.stdout)["status"]["token"]

    assert fake.authenticate(f"Bearer {token}") == role_of("prod")
    now = datetime.now(timezone.utc)
    sts_host = urllib.parse.urlsplit(sts.url).netloc
    url = base64.urlsafe_b64decode(token[len("k8s-aws-v1."):] + "==").decode()
    forged = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")

    def refusal(token, cluster=CLUSTERS["prod"], at=now):
        with pytest.raises(TokenRefused) as refused:
            caller_of(token, cluster, sts_host, at)
        return str(refused.value)

    assert "SignatureDoesNotMatch" in refusal(token, cluster="acme-other-cluster"), "the cluster name is signed"
    assert "SignatureDoesNotMatch" in refusal("k8s-aws-v1." + base64.urlsafe_b64encode(forged.encode()).decode().rstrip("="))
    assert "15 minutes" in refusal(token, at=now + timedelta(minutes=16))
    assert "prefix" in refusal(token[len("k8s-aws-v1."):])
    assert "padded" in refusal(token + "=")


@organization
def test_stage_use_points_kubectl_at_the_stage_cluster_with_the_stage_own_role(eks, shell, topology, sts, home):
    prod, testing = eks.cluster("prod", CLUSTERS["prod"]), eks.cluster("testing", CLUSTERS["testing"])
    own = home / ".kube" / "config"
    own.parent.mkdir()
    own.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    s = shell(env={"KUBECONFIG": str(own)})

    s.run("stage use prod")  # the MFA session was bought when the clusters were made
    listed = s.run("kubectl get ns")
    assert re.search(rf"^{CLUSTERS['prod']}\s+Active", listed, re.M), listed
    assert prod.callers and set(prod.callers) == {role_of("prod")}
    assert testing.callers == []
    assert s.run("kubectl config current-context") == "prod"

    assert MFA_PROMPT not in s.run("stage use testing")
    listed = s.run("kubectl get ns")
    assert re.search(rf"^{CLUSTERS['testing']}\s+Active", listed, re.M), listed
    assert set(testing.callers) == {role_of("testing")}
    assert set(prod.callers) == {role_of("prod")}

    s.run("stage logout")
    assert s.run('printf "%s\\n" "$KUBECONFIG"') == str(own), "the user's KUBECONFIG is theirs again"
    assert own.read_text().startswith("apiVersion: v1\nkind: Config\nclusters: []"), "the user's kubeconfig is never edited"
    assert prod.refusals == testing.refusals == []


@organization
def test_the_token_is_an_exec_credential_of_the_version_kubectl_asks_for_and_is_cached(eks, env, topology, sts):
    eks.cluster("prod", CLUSTERS["prod"])
    in_prod = use(env, "prod", "--mfa-token", CODE)
    argv = ["eks-token", "prod", "--profile", "cpco-prod-admin", "--cluster", CLUSTERS["prod"], "--eks-region", "us-west-2"]

    answers = {}
    for version in ("client.authentication.k8s.io/v1beta1", "client.authentication.k8s.io/v1"):
        info = json.dumps({"apiVersion": version, "kind": "ExecCredential", "spec": {"interactive": False}})
        done = run_cli(dict(in_prod, KUBERNETES_EXEC_INFO=info), *argv)
        assert done.returncode == 0, done.stderr
        answers[version] = json.loads(done.stdout)
    beta, v1 = answers.values()
    assert beta["apiVersion"].endswith("v1beta1") and v1["apiVersion"].endswith("/v1")
    assert beta["kind"] == "ExecCredential" and beta["status"]["token"] == v1["status"]["token"], "the second came from the cache"
    token = beta["status"]["token"]
    assert token.startswith("k8s-aws-v1.") and "=" not in token
    expires = datetime.strptime(beta["status"]["expirationTimestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert timedelta(minutes=13) < expires - datetime.now(timezone.utc) <= timedelta(minutes=14)
    assert eks.fakes[CLUSTERS["prod"]].authenticate(f"Bearer {token}") == role_of("prod")

    # kubectl's next call (the same words and KUBERNETES_EXEC_INFO) is a hit: no boto3, botocore or
    # prompt_toolkit, no STS, and not even the config files.
    sts.reset()
    modules = imported_modules(dict(in_prod, KUBERNETES_EXEC_INFO=info), *argv)
    assert "geodesic_stage.eks.served" in modules and heavy(modules) == set(), sorted(heavy(modules))
    assert {"configobj", "geodesic_stage.context", "geodesic_stage.creds.obtain", "geodesic_stage.eks.token"}.isdisjoint(modules)
    assert sts.calls == []


@organization
def test_a_profile_changed_since_the_last_token_is_worked_out_again(eks, env, topology, sts, home):
    fake = eks.cluster("prod", CLUSTERS["prod"])
    in_prod = use(env, "prod", "--mfa-token", CODE)
    argv = ["eks-token", "prod", "--profile", "cpco-prod-admin", "--cluster", CLUSTERS["prod"], "--eks-region", "us-west-2"]
    first = json.loads(run_cli(in_prod, *argv).stdout)["status"]["token"]
    assert json.loads(run_cli(in_prod, *argv).stdout)["status"]["token"] == first

    config = home / ".aws" / "config"
    config.write_text(config.read_text().replace(
        "role_arn=arn:aws:iam::845490276530:role/OrganizationAccountAccessRole\n",
        "role_arn=arn:aws:iam::845490276530:role/OrganizationAccountAccessRole\nrole_session_name=renamed\n",
    ))
    again = run_cli(in_prod, *argv)
    assert again.returncode == 0, again.stderr
    token = json.loads(again.stdout)["status"]["token"]
    assert token != first
    assert fake.authenticate(f"Bearer {token}") == role_of("prod").replace("geodesic-stage-admin@cloudposse.co", "renamed")


@organization
def test_tokens_are_signed_with_the_stage_role_whatever_keys_the_environment_holds(eks, env, topology, sts):
    fake = eks.cluster("prod", CLUSTERS["prod"])
    in_testing = use(env, "testing", "--mfa-token", CODE)  # testing's keys exported
    done = run_cli(in_testing, "eks-token", "prod")
    assert done.returncode == 0, done.stderr
    assert fake.authenticate("Bearer " + json.loads(done.stdout)["status"]["token"]) == role_of("prod")


@organization
def test_a_stage_without_a_cluster_has_kubectl_say_which_stage_and_what_to_add(eks, env, topology, sts, tmp_path):
    in_staging = use(env, "staging", "--mfa-token", CODE)
    assert in_staging["KUBECONFIG"] != env.get("KUBECONFIG"), "no cluster is no reason to reach the user's"

    done = kubectl(in_staging, "get", "ns")
    assert done.returncode != 0
    ours = {line for line in done.stderr.splitlines() if line.startswith("geodesic-stage:")}
    assert ours == {
        f"geodesic-stage: stage staging has no EKS cluster; add eks_cluster = NAME under [[staging]] in the [stages] of "
        f"{tmp_path / 'stages.conf'} (or eks_cluster_pattern at its top), then run 'stage use staging'"
    }


@organization
def test_a_cluster_eks_does_not_know_is_said_by_stage_use_and_by_kubectl(eks, env, topology, sts, tmp_path):
    """prod names a cluster that exists only in testing's account: DescribeCluster with prod's role finds none."""
    eks.cluster("testing", CLUSTERS["prod"])
    done = run_cli(env, "use", "prod", "--mfa-token", CODE)
    assert done.returncode == 0, "the AWS credentials are fine: the shell takes them"
    missing = f"EKS cluster {CLUSTERS['prod']} in us-west-2 (account {ACCOUNTS['prod']}) does not exist"
    assert done.stderr.splitlines() == [
        f"geodesic-stage: warning: {missing}; kubectl will say so until eks_cluster of prod in {tmp_path / 'stages.conf'} names a cluster it can reach"
    ]

    refused = kubectl(dict(env, **exported(done.stdout)), "get", "ns")
    assert refused.returncode != 0
    assert {line for line in refused.stderr.splitlines() if line.startswith("geodesic-stage:")} == {
        f"geodesic-stage: stage prod: {missing}; check eks_cluster in {tmp_path / 'stages.conf'}, then run 'stage use prod'"
    }
    assert eks.fakes[CLUSTERS["prod"]].callers == []


@organization
def test_under_kubectl_an_expired_mfa_session_gives_one_line_and_no_prompt(eks, shell, topology, sts, home):
    eks.cluster("prod", CLUSTERS["prod"])
    s = shell()
    s.run("stage use prod")
    # The MFA session and the role's credentials end; no token is cached, nor kubectl's answer.
    cache = home / ".aws" / "cli" / "cache"
    for entry in [*cache.glob("*.json"), *cache.glob("geodesic-stage/*.json")]:
        document = json.loads(entry.read_text())
        document["Credentials"]["Expiration"] = "2020-01-01T00:00:00Z"
        entry.write_text(json.dumps(document))
    for token in [*cache.glob("geodesic-stage/eks/token-*.json"), *cache.glob("geodesic-stage/eks/served/*")]:
        token.unlink()
    sts.reset()

    said = s.run("kubectl get ns; echo exit=$?", timeout=60)
    assert MFA_PROMPT not in said
    assert re.search(r"^exit=[1-9]", said, re.M)
    assert {line for line in said.splitlines() if line.startswith("geodesic-stage:")} == {
        "geodesic-stage: profile 'cpco-prod-admin' needs a new MFA code for "
        "arn:aws:iam::323330167063:mfa/admin@cloudposse.co; run 'stage use prod'"
    }
    assert sts.calls == []


@organization
def test_the_cluster_is_described_once_an_hour_and_a_change_rewrites_the_kubeconfig(eks, env, topology, sts, home):
    fake = eks.cluster("prod", CLUSTERS["prod"])
    first = use(env, "prod", "--mfa-token", CODE)["KUBECONFIG"]
    assert use(env, "prod")["KUBECONFIG"] == first
    assert eks.proxy.count("DescribeCluster") == 1, "the second use read the cached description"
    # An hour on, the cluster was re-created behind another endpoint.
    moved = KubeApiFake(CLUSTERS["prod"], sts.url, eks.tmp_path)
    eks.fakes["moved"] = moved
    eks.proxy.clusters[CLUSTERS["prod"]] = (moved.url, moved.certificate_authority)
    for entry in (home / ".aws" / "cli" / "cache" / "geodesic-stage" / "eks").glob("cluster-*.json"):
        document = json.loads(entry.read_text())
        document["described"] = "2020-01-01T00:00:00Z"
        entry.write_text(json.dumps(document))

    in_prod = use(env, "prod")
    assert eks.proxy.count("DescribeCluster") == 2
    assert json.loads(open(in_prod["KUBECONFIG"]).read())["clusters"][0]["cluster"]["server"] == moved.url
    assert kubectl(in_prod, "get", "ns").returncode == 0
    assert moved.callers and fake.callers == []


@organization
def test_a_cached_use_of_a_stage_with_a_cluster_stays_on_the_fast_path(eks, env, topology, sts):
    eks.cluster("prod", CLUSTERS["prod"])
    use(env, "prod", "--mfa-token", CODE)
    modules = imported_modules(env, "use", "prod")
    assert "geodesic_stage.eks.kubeconfig" in modules and heavy(modules) == set(), sorted(heavy(modules))
    assert "tempfile" not in modules, "an unchanged kubeconfig is not written again"


@organization
def test_doctor_reports_a_cluster_that_does_not_exist_and_one_the_role_cannot_describe(eks, env, topology, sts, tmp_path):
    eks.cluster("testing", CLUSTERS["testing"])  # prod's is nowhere
    use(env, "prod", "--mfa-token", CODE)
    use(env, "testing")

    done = run_cli(env, "doctor")
    assert done.returncode == 1
    ours = [line for line in done.stdout.splitlines() if "EKS" in line]
    assert ours == [
        f"error: stage prod: EKS cluster {CLUSTERS['prod']} in us-west-2 (account {ACCOUNTS['prod']}) does not exist; "
        f"fix: set eks_cluster under [[prod]] in {tmp_path / 'stages.conf'} to a cluster of that account "
        "(aws eks list-clusters --region us-west-2)"
    ]

    eks.proxy.denied = {"DescribeCluster"}
    denied = [line for line in run_cli(env, "doctor").stdout.splitlines() if "testing" in line]
    assert denied == [
        f"error: stage testing: the role of profile cpco-testing-admin cannot describe EKS cluster {CLUSTERS['testing']} "
        f"in us-west-2 (account {ACCOUNTS['testing']}) (AccessDeniedException); fix: allow eks:DescribeCluster on "
        f"arn:aws:eks:us-west-2:{ACCOUNTS['testing']}:cluster/{CLUSTERS['testing']} to the role of profile cpco-testing-admin"
    ]
    assert not [line for line in run_cli(env, "doctor", "--offline").stdout.splitlines() if "EKS" in line]


USER_KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster: {server: "https://127.0.0.1:9"}
contexts:
- name: prod
  context: {cluster: prod, user: prod}
current-context: prod
users:
- name: prod
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [eks, get-token, --cluster-name, acme-prod-eks-cluster]
      env:
      - {name: AWS_PROFILE, value: %s}
"""


@organization
def test_doctor_warns_of_a_kubeconfig_entry_of_the_user_that_pins_another_profile_than_the_stage(eks, env, topology, sts, home):
    (home / ".kube").mkdir()
    (home / ".kube" / "config").write_text(USER_KUBECONFIG % "cpco-testing-admin")
    found = [line for line in run_cli(env, "doctor", "--offline").stdout.splitlines() if ".kube" in line]
    assert found == [
        f"warning: {home / '.kube' / 'config'}: user prod signs for cluster {CLUSTERS['prod']} (stage prod) as profile "
        "cpco-testing-admin, not prod's profile cpco-prod-admin; fix: set its AWS_PROFILE to cpco-prod-admin, or drop it: "
        "'stage use prod' gives kubectl a kubeconfig of its own"
    ]
    (home / ".kube" / "config").write_text(USER_KUBECONFIG % "cpco-prod-admin")
    assert ".kube" not in run_cli(env, "doctor", "--offline").stdout


@organization
def test_logout_forget_drops_the_tokens_too(eks, env, topology, sts, home):
    eks.cluster("prod", CLUSTERS["prod"])
    in_prod = use(env, "prod", "--mfa-token", CODE)
    assert run_cli(in_prod, "eks-token", "prod").returncode == 0
    kept = home / ".aws" / "cli" / "cache" / "geodesic-stage" / "eks"
    assert list(kept.glob("token-*.json")) and list(kept.glob("served/*"))

    done = run_cli(in_prod, "logout", "--forget")
    assert done.returncode == 0, done.stderr
    assert list(kept.glob("*.json")) == [] and list(kept.glob("served/*")) == []
