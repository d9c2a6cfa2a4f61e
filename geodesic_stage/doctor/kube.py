"""doctor's checks of Kubernetes and ECR: each stage's cluster and registries as the stages file
gives them, each cluster as the stage's role sees it (DescribeCluster, online only), and the
user's own kubeconfig entries that pin an AWS profile other than the stage's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping

from geodesic_stage import log
from geodesic_stage.doctor.findings import Finding, error, from_exception, warning
from geodesic_stage.eks import cluster as clusters
from geodesic_stage.errors import MfaUnavailable, StageError
from geodesic_stage.lifetimes import KUBECTL_SECONDS
from geodesic_stage.model import Profile


def stage_clusters(context, stages: Mapping[str, Profile]) -> tuple[dict, list[Finding]]:
    """{stage: Cluster} for every stage that has one, and the findings of settings that give none."""
    from geodesic_stage.config.resolve import namespace_of
    from geodesic_stage.ecr import registries

    found, findings = {}, []
    namespace = namespace_of(context.request, context.stages)
    for name, profile in stages.items():
        try:
            cluster = clusters.of_stage(name, context.stages, namespace, profile.region)
            registries.of_stage(name, context.stages, profile.account_id, profile.region)
        except StageError as e:
            findings.append(from_exception(e))
            continue
        if cluster is not None:
            found[name] = cluster
    return found, findings


def check_clusters(context, found: Mapping[str, clusters.Cluster]) -> list[Finding]:
    """DescribeCluster with each stage's own role (cached credentials only: doctor asks for no code)."""
    from geodesic_stage import clock
    from geodesic_stage.auth import mfa
    from geodesic_stage.creds.obtain import obtain
    from geodesic_stage.eks import describe

    findings = []
    for name, cluster in found.items():
        try:
            stage = context.stage(name)
            session = obtain(stage, context.settings(None), mfa.never(stage.profile, f"run 'stage use {name}'"))
        except MfaUnavailable:
            findings.append(warning(
                f"EKS cluster {cluster.name} of stage {name} not checked: no cached session to ask with",
                f"run 'stage use {name}', then doctor again",
            ))
            continue
        except StageError as e:
            findings.append(from_exception(e))
            continue
        problem = describe.ask(stage.profile, session.credentials, cluster, clock.now()).problem
        if problem is None:
            continue
        where = context.stages.path or "the stages file"
        arn = f"arn:aws:eks:{cluster.region}:{stage.profile.account_id}:cluster/{cluster.name}"
        if problem.endswith("does not exist"):
            fix = f"set eks_cluster under [[{name}]] in {where} to a cluster of that account (aws eks list-clusters --region {cluster.region})"
        elif "cannot describe" in problem:
            fix = f"allow eks:DescribeCluster on {arn} to the role of profile {stage.profile.name}"
        else:
            fix = "check the network or AWS_ENDPOINT_URL_EKS, or pass --offline"
        findings.append(error(f"stage {name}: {problem}", fix))
    return findings


def check_user_kubeconfig(context, stages: Mapping[str, Profile], found: Mapping[str, clusters.Cluster],
                          environ: Mapping[str, str]) -> list[Finding]:
    """The user's kubeconfig (KUBECONFIG but ours, else ~/.kube/config), read by kubectl itself: a user whose
    exec plugin pins AWS_PROFILE (or --profile) signs as whatever keys the shell exports, so a pin
    other than the stage's is a token signed by the wrong role."""
    from geodesic_stage.eks import kubeconfig

    files = [p for p in environ.get("KUBECONFIG", "").split(os.pathsep) if p and not kubeconfig.ours(p)]
    files = [f for f in files or [os.path.expanduser("~/.kube/config")] if os.path.isfile(f)]
    program = shutil.which("kubectl")
    if not files or not program:
        log.debug(f"user kubeconfig not checked: {'no kubectl' if files else 'no kubeconfig of the user'}")
        return []
    try:
        done = subprocess.run(
            [program, "config", "view", "-o", "json"], env=dict(environ, KUBECONFIG=os.pathsep.join(files)),
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=KUBECTL_SECONDS,
        )
        users = (json.loads(done.stdout).get("users") or []) if done.returncode == 0 else []
    except (OSError, ValueError, AttributeError, subprocess.TimeoutExpired):
        users = []
    owners = {cluster.name: name for name, cluster in found.items()}
    holding = environ.get("STAGE") if environ.get("AWS_ACCESS_KEY_ID") else None
    shown = " and ".join(files)
    findings = []
    for user in users:
        exec_ = (user.get("user") or {}).get("exec") or {}
        args = [str(a) for a in exec_.get("args") or []]
        pinned = next((e.get("value") for e in exec_.get("env") or [] if e.get("name") == "AWS_PROFILE"), None)
        pinned = _after(args, "--profile") or pinned
        if not pinned:
            continue
        cluster = _after(args, "--cluster-name") or _after(args, "--cluster-id") or _after(args, "-i")
        owner = owners.get(cluster)
        if owner and owner in stages and pinned != stages[owner].name:
            findings.append(warning(
                f"{shown}: user {user.get('name')} signs for cluster {cluster} (stage {owner}) as profile {pinned}, "
                f"not {owner}'s profile {stages[owner].name}",
                f"set its AWS_PROFILE to {stages[owner].name}, or drop it: 'stage use {owner}' gives kubectl a kubeconfig of its own",
            ))
        elif not owner and holding in stages and pinned != stages[holding].name:
            findings.append(warning(
                f"{shown}: user {user.get('name')} pins profile {pinned}, but in this shell stage {holding}'s keys are "
                f"exported and win over AWS_PROFILE: its tokens are signed by {stages[holding].name}'s role",
                f"give the cluster {cluster or 'it names'} to a stage (eks_cluster in the stages file), or run kubectl outside a stage",
            ))
    return findings


def _after(args: list, flag: str) -> str | None:
    for i, word in enumerate(args):
        if word == flag and i + 1 < len(args):
            return args[i + 1]
        if word.startswith(flag + "="):
            return word.split("=", 1)[1]
    return None
