"""Which EKS cluster a stage works with: its stages-file entry, else the team's name pattern.

Pure: the stages file in, a Cluster (or None) out; no network, no boto3.
"""

from __future__ import annotations

import re

from geodesic_stage.config.stages_file import StagesFile
from geodesic_stage.errors import ConfigError
from geodesic_stage.record import Record

# Patterns as text: re compiles them when first matched, not at every cached use of a stage without a cluster.
_PLACEHOLDER = r"\{([^{}]*)\}"
PLACEHOLDERS = ("namespace", "environment", "stage", "region")
_FIXES = {
    "namespace": "set namespace in the stages file (or NAMESPACE)",
    "environment": "set environment = (e.g. uw2) in the stages file",
    "stage": "name the stage",
    "region": "give the stage a region (its profile, or region in the stages file)",
}


class Cluster(Record):
    name: str
    region: str


def configured(stages: StagesFile) -> bool:
    """Whether the team keeps EKS clusters in its stages file: then every stage gets a kubeconfig of ours."""
    return bool(stages.eks_cluster_pattern) or any(entry.eks_cluster for entry in stages.stages.values())


def of_stage(stage: str, stages: StagesFile, namespace: str | None, region: str | None) -> Cluster | None:
    """The stage's cluster (its eks_cluster, else the pattern filled in), in eks_region, else the stage's
    region; None when the stages file gives it none."""
    entry = stages.stages.get(stage)
    where = f"{stages.path}: [stages][[{stage}]]"
    name = entry.eks_cluster if entry else None
    if name is None and stages.eks_cluster_pattern:
        where = f"{stages.path}: eks_cluster_pattern"
        environment = (entry.environment if entry else None) or stages.environment
        name = fill(stages.eks_cluster_pattern, where, namespace=namespace, environment=environment, stage=stage, region=region)
    if name is None:
        return None
    cluster_region = (entry.eks_region if entry else None) or region
    if not cluster_region:
        raise ConfigError(f"stage {stage!r} has no region for its EKS cluster {name}; set eks_region under [[{stage}]] in {stages.path}")
    return checked(name, cluster_region, where)


def checked(name: str, region: str, where: str) -> Cluster:
    """A cluster whose name EKS allows and whose region is a region name; `where` names the setting that gave them."""
    from geodesic_stage.config.limits import AWS_REGION_NAME, EKS_CLUSTER_NAME  # not at every cached use

    if not re.match(EKS_CLUSTER_NAME, name):
        raise ConfigError(
            f"{where} gives the EKS cluster name {name!r}, which EKS does not allow; "
            "use letters, digits, - and _ (up to 100, starting with a letter or digit)"
        )
    if not re.match(AWS_REGION_NAME + r"\Z", region):
        raise ConfigError(f"{where}: the EKS region {region!r} is not an AWS region name; e.g. eks_region = us-west-2")
    return Cluster(name=name, region=region)


def fill(pattern: str, where: str, **values: str | None) -> str:
    """The pattern with each {placeholder} replaced; one it does not know, or has no value for, is an error."""

    def value(match) -> str:
        key = match.group(1)
        if key not in PLACEHOLDERS:
            raise ConfigError(f"{where} has {{{key}}}; the placeholders are {', '.join('{' + p + '}' for p in PLACEHOLDERS)}")
        if not values.get(key):
            raise ConfigError(f"{where} uses {{{key}}}, which has no value here; {_FIXES[key]}")
        return values[key]

    return re.sub(_PLACEHOLDER, value, pattern)
