"""The per-stage kubeconfig `stage use` points KUBECONFIG at; the user's own is never touched.

One file per stage and profile, written (JSON, which kubectl reads as YAML) only when its text
changes: the stage's cluster from DescribeCluster, the stage's context as the current one, and a
user whose exec plugin is `geodesic-stage eks-token` for that stage (run by this install's own
interpreter: see LAUNCH), which never prompts. A stage
without a cluster, or whose cluster cannot be described, still gets one: kubectl then runs the
token command, which says what to fix, rather than reaching another stage's cluster.
"""

from __future__ import annotations

import os
import sys

from geodesic_stage import cachekeys, log
from geodesic_stage.config.stages_file import StagesFile
from geodesic_stage.eks import cluster as clusters
from geodesic_stage.eks import describe
from geodesic_stage.eks.token import API_VERSIONS
from geodesic_stage.model import StageCredentials
from geodesic_stage.store.cli_cache import JsonFileCache, eks_cache_dir

# The server of a stage that has no cluster to reach: never resolved, since its token command refuses first.
NO_SERVER = "https://no-eks-cluster.invalid"
# What kubectl runs: `geodesic-stage` as this install's interpreter running the command line's entry,
# found without PATH (kubectl started by an editor or a desktop app has a PATH of its own) and without
# pip's console script, which before pip 24 imports re: a third of what a cached token costs.
LAUNCH = "from geodesic_stage.cli import main; raise SystemExit(main())"


def exports(session: StageCredentials, stages: StagesFile, namespace: str | None) -> dict[str, str]:
    """KUBECONFIG for the stage of `session`, in a team that keeps EKS clusters in its stages file
    (clusters.configured): a stage of theirs without one gets a kubeconfig that says so."""
    stage, profile = session.stage, session.stage.profile
    cluster = clusters.of_stage(stage.name, stages, namespace, profile.region)
    description = None
    if cluster is None:
        log.debug(f"stage {stage.name} has no EKS cluster in {stages.path}: its kubeconfig says so to kubectl")
    else:
        description = describe.current(profile, session.credentials, cluster)
        if description.problem:
            log.say(f"warning: {description.problem}; kubectl will say so until eks_cluster of {stage.name} in {stages.path} names a cluster it can reach")
    try:
        return {"KUBECONFIG": write(stage.name, profile.name, document(stage.name, profile.name, cluster, description))}
    except OSError as e:
        log.say(f"warning: could not write the kubeconfig of {stage.name} in {_directory()} ({e.strerror}); KUBECONFIG left as it was")
        return {}


def document(stage: str, profile: str, cluster: clusters.Cluster | None, description: describe.Description | None) -> dict:
    """The kubeconfig: one cluster, one user, one context named after the stage, current."""
    command, args = (_interpreter(), ["-c", LAUNCH]) if sys.executable else ("geodesic-stage", [])
    args = [*args, "eks-token", stage, "--profile", profile]
    server = {"server": NO_SERVER}
    if cluster is not None:
        args += ["--cluster", cluster.name, "--eks-region", cluster.region]
        if description is not None and not description.problem:
            server = {"server": description.endpoint, "certificate-authority-data": description.certificate_authority}
    name = cluster.name if cluster is not None else stage
    user = f"geodesic-stage-{stage}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": name, "cluster": server}],
        "users": [{"name": user, "user": {"exec": {
            # v1beta1: every kubectl since 1.11 takes it; the command answers v1 too when asked.
            "apiVersion": API_VERSIONS[0],
            "command": command,
            "args": args,
            "interactiveMode": "Never",
            "provideClusterInfo": False,
        }}}],
        "contexts": [{"name": stage, "context": {"cluster": name, "user": user}}],
        "current-context": stage,
    }


def _interpreter() -> str:
    """This install's interpreter under one name whichever ran us (python or python3 of a venv), so that
    the kubeconfig stays as it was from one use to the next."""
    sibling = os.path.join(os.path.dirname(sys.executable), "python3")
    try:
        return sibling if os.path.samefile(sibling, sys.executable) else sys.executable
    except OSError:
        return sys.executable


def _directory() -> str:
    return os.path.join(eks_cache_dir(), "kubeconfig")


def write(stage: str, profile: str, doc: dict) -> str:
    """The file's path, written atomically (0600, in 0700 directories) unless it already holds `doc`."""
    files = JsonFileCache(_directory())
    key = cachekeys.stage_file_key(stage, profile)
    if files.get(key) != doc:
        files.put(key, doc)
    return files.path(key)


def ours(path: str) -> bool:
    """Whether a kubeconfig path is one of the files written here (doctor looks at the user's only)."""
    return os.path.dirname(os.path.abspath(path)) == os.path.abspath(_directory())
