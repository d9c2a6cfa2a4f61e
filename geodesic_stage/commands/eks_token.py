import os
import sys

from geodesic_stage import log
from geodesic_stage.errors import AwsError, ConfigError

HELP = "print an EKS token for STAGE as kubectl's exec plugin wants it (the kubeconfig of 'stage use' runs this); never asks for a code"
EXAMPLE = """geodesic-stage eks-token prod --cluster acme-prod-eks-cluster
  in a kubeconfig user:  exec: {command: geodesic-stage, args: [eks-token, prod], interactiveMode: Never}"""


def _request(args) -> list:
    """What the answer depends on besides the caches (eks.served.request): the words kubectl passes, its
    environment and the config files as they are now."""
    from geodesic_stage.eks import served

    words = [args.stage, args.cluster, args.eks_region, args.profile, args.role, args.namespace, args.region]
    return served.request(words, os.environ)


def from_cache(args) -> bool:
    """kubectl's call answered as before, before any config file is read, while nothing it depends on
    changed and its token lasts; the imports here are all a hit loads."""
    from geodesic_stage.eks import served

    text = served.answer(_request(args))
    if text is None:
        return False
    log.debug("EKS token from cache, for these words and these config files")
    sys.stdout.write(text)
    return True


def run(args, context):
    from geodesic_stage import clock
    from geodesic_stage.auth import mfa
    from geodesic_stage.creds.obtain import identity, obtain
    from geodesic_stage.eks import served
    from geodesic_stage.eks import token as tokens

    request = _request(args)
    stage = context.stage(args.stage)
    cluster = _cluster(args, context, stage)
    version = tokens.api_version(os.environ.get("KUBERNETES_EXEC_INFO"))
    whose = identity(stage)
    now = clock.now()
    token = tokens.cached(whose, cluster, now)
    if token is None:
        _refuse_an_undescribed_cluster(stage, cluster, context)
        advice = f"run 'stage use {stage.name}'"
        session = obtain(stage, context.settings(args), mfa.never(stage.profile, advice))
        token = tokens.new(stage.profile, session.credentials, cluster, now)
        tokens.keep(whose, cluster, token)
    text = tokens.exec_credential(token, version)
    served.keep(request, text, token.expiration)
    sys.stdout.write(text)
    return 0


def _cluster(args, context, stage):
    from geodesic_stage.config.resolve import namespace_of
    from geodesic_stage.eks import cluster as clusters

    if args.cluster:
        region = args.eks_region or stage.profile.region
        if not region:
            raise ConfigError(f"--cluster {args.cluster} needs --eks-region: profile {stage.profile.name} has no region")
        return clusters.checked(args.cluster, region, "--cluster and --eks-region")
    found = clusters.of_stage(stage.name, context.stages, namespace_of(context.request, context.stages), stage.profile.region)
    if found is None:
        where = context.stages.path or "~/.config/geodesic/stages.conf"
        raise ConfigError(
            f"stage {stage.name} has no EKS cluster; add eks_cluster = NAME under [[{stage.name}]] in the [stages] "
            f"of {where} (or eks_cluster_pattern at its top), then run 'stage use {stage.name}'"
        )
    return found


def _refuse_an_undescribed_cluster(stage, cluster, context) -> None:
    """`stage use` found no cluster to reach: say why, rather than sign a token for nothing."""
    from geodesic_stage.eks import describe

    found = describe.cached(stage.profile.account_id, cluster)
    if found is not None and found.problem:
        raise AwsError(
            f"stage {stage.name}: {found.problem}; check eks_cluster in {context.stages.path or 'the stages file'}, "
            f"then run 'stage use {stage.name}'"
        )
