"""docker follows the stage: `stage use prod` exports a DOCKER_CONFIG of ours whose credHelpers send
prod's ECR registries to docker-credential-geodesic-stage, which answers with prod's own role, from
GetAuthorizationToken (moto, behind a proxy that gives its passwords AWS's 12 hours) cached for 6."""

import json
import subprocess

import pytest

from conftest import BIN, run_cli
from eksfake import ServiceProxy
from test_eks import exported
from test_fast_path import heavy

CODE = "123456"
HELPER = str(BIN / "docker-credential-geodesic-stage")
organization = pytest.mark.parametrize("topology", ["organization"])
PROD, TESTING = "845490276530", "126450723953"
PROD_REGISTRY = f"{PROD}.dkr.ecr.us-west-2.amazonaws.com"
STAGES_FILE = f"""namespace = cpco
[stages]
[[prod]]
ecr = true
[[testing]]
ecr_registries = {TESTING}, {PROD}:eu-west-1
[[staging]]
"""


@pytest.fixture
def ecr(moto_url, env, tmp_path):
    stages = tmp_path / "stages.conf"
    stages.write_text(STAGES_FILE)
    proxy = ServiceProxy(moto_url)
    env.update(GEODESIC_STAGE_CONFIG=str(stages), AWS_ENDPOINT_URL_ECR=proxy.url)
    yield proxy
    proxy.close()


def helper(env: dict, verb: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([HELPER, verb], env=env, input=stdin, capture_output=True, text=True, timeout=60, start_new_session=True)


def use(env: dict, stage: str, *extra) -> dict:
    done = run_cli(env, "use", stage, *extra)
    assert done.returncode == 0, done.stderr
    return dict(env, **exported(done.stdout))


@organization
def test_stage_use_gives_docker_a_copy_of_the_user_config_that_sends_the_stage_registries_to_us(ecr, env, topology, sts, home):
    own = home / ".docker"
    (own / "contexts").mkdir(parents=True)
    users = {"auths": {"https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"}}, "credHelpers": {"gcr.io": "gcloud"}}
    (own / "config.json").write_text(json.dumps(users))
    before = (own / "config.json").read_bytes()

    in_prod = use(env, "prod", "--mfa-token", CODE)
    docker_dir = in_prod["DOCKER_CONFIG"]
    config = json.loads(open(f"{docker_dir}/config.json").read())
    assert config["auths"] == users["auths"], "the user's other registries still log in"
    assert config["credHelpers"] == {"gcr.io": "gcloud", PROD_REGISTRY: "geodesic-stage"}
    assert (BIN / "docker-credential-geodesic-stage").exists()
    assert subprocess.run(["readlink", f"{docker_dir}/contexts"], capture_output=True, text=True).stdout.strip() == str(own / "contexts")
    assert (own / "config.json").read_bytes() == before, "the user's docker config is never edited"

    # Another stage, from a shell that holds prod's DOCKER_CONFIG: still a copy of the user's.
    in_testing = use(in_prod, "testing")
    config = json.loads(open(f"{in_testing['DOCKER_CONFIG']}/config.json").read())
    assert config["credHelpers"] == {"gcr.io": "gcloud", f"{TESTING}.dkr.ecr.us-west-2.amazonaws.com": "geodesic-stage",
                                     f"{PROD}.dkr.ecr.eu-west-1.amazonaws.com": "geodesic-stage"}
    assert "DOCKER_CONFIG" not in exported(run_cli(env, "use", "staging").stdout), "no registries: docker stays the user's"


@organization
def test_get_answers_for_the_stage_from_its_role_and_caches_the_password_for_half_its_life(ecr, env, topology, sts):
    in_prod = use(env, "prod", "--mfa-token", CODE)
    first = helper(in_prod, "get", f"https://{PROD_REGISTRY}\n")
    assert first.returncode == 0, first.stdout + first.stderr
    assert json.loads(first.stdout) == {"ServerURL": f"https://{PROD_REGISTRY}", "Username": "AWS", "Secret": f"{PROD}-auth-token"}
    assert helper(in_prod, "get", PROD_REGISTRY).stdout == first.stdout.replace(f"https://{PROD_REGISTRY}", PROD_REGISTRY)
    assert ecr.count("GetAuthorizationToken") == 1, "the second came from the cache"
    assert heavy(imported_modules_of_helper(in_prod)) == set()

    listed = helper(in_prod, "list")
    assert json.loads(listed.stdout) == {f"https://{PROD_REGISTRY}": "AWS"}


def imported_modules_of_helper(env: dict) -> set:
    done = subprocess.run(
        [str(BIN / "python"), "-X", "importtime", "-c", "import sys; from geodesic_stage.docker_credential import main; sys.exit(main(['get']))"],
        env=env, input=PROD_REGISTRY, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}


@organization
def test_a_registry_of_another_account_is_not_found_and_says_why(ecr, env, topology, sts, tmp_path):
    in_prod = use(env, "prod", "--mfa-token", CODE)
    other = f"{TESTING}.dkr.ecr.us-west-2.amazonaws.com"
    done = helper(in_prod, "get", other)
    assert done.returncode == 1
    assert done.stdout == "credentials not found in native keychain\n", "docker then pulls without credentials"
    assert done.stderr == (
        f"geodesic-stage: {other} is not an ECR registry of stage prod (its registries: {PROD_REGISTRY}); to use it, "
        f"add its account to ecr_registries under [[prod]] in {tmp_path / 'stages.conf'}, then run 'stage use prod'\n"
    )
    assert ecr.count("GetAuthorizationToken") == 0
    assert helper(env, "get", PROD_REGISTRY).stdout == "credentials not found in native keychain\n", "no stage in use"


@organization
def test_store_and_erase_are_refused_politely(ecr, env, topology, sts):
    for verb in ("store", "erase"):
        done = helper(env, verb, json.dumps({"ServerURL": PROD_REGISTRY, "Username": "AWS", "Secret": "x"}))
        assert done.returncode == 1
        assert done.stdout.startswith("geodesic-stage: ECR credentials come from the stage's role") and done.stdout.count("\n") == 1


@organization
def test_with_the_mfa_session_gone_get_says_stage_use_and_never_prompts(ecr, env, topology, sts, home):
    in_prod = use(env, "prod", "--mfa-token", CODE)
    for entry in (home / ".aws" / "cli" / "cache").rglob("*.json"):
        entry.unlink()
    done = helper(in_prod, "get", PROD_REGISTRY)
    assert done.returncode == 3
    assert done.stdout.splitlines() == [
        "geodesic-stage: profile 'cpco-prod-admin' needs a new MFA code for "
        "arn:aws:iam::323330167063:mfa/admin@cloudposse.co; run 'stage use prod'"
    ]
