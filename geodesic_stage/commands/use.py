import os
import sys
from types import SimpleNamespace

from geodesic_stage import render
from geodesic_stage.auth import mfa
from geodesic_stage.context import used_with
from geodesic_stage.creds.obtain import obtain
from geodesic_stage.errors import ConfigError, MfaUnavailable

HELP = "assume STAGE's role (asking for an MFA code if needed) and print the export block"
EXAMPLE = "stage use testing      (the function evals: geodesic-stage use testing)"


def run(args, context):
    if args.as_used:
        # The record's choices under this run's own (a login shell renewing the stage it inherited).
        args = SimpleNamespace(**{**vars(args), **vars(context.as_used(args))})
    stage = context.stage(args.stage)
    serving = _serving(args, context, stage.name)
    source = mfa.choose(stage.profile, token=args.mfa_token, interactive=not args.no_prompt)
    try:
        session = obtain(stage, context.settings(args), source)
    except MfaUnavailable:
        # A cache this user cannot use hides the sessions it holds: that, not MFA, is what to fix.
        from geodesic_stage.store.cli_cache import session_cache_dir
        from geodesic_stage.store.files import unwritable

        blocked = unwritable(session_cache_dir())
        if blocked:
            raise ConfigError(f"cannot write the cache: {blocked}; run 'geodesic-stage doctor' for the fix")
        raise
    tools = _tools(session, context)
    if serving:
        from geodesic_stage.serve import target

        served = target.of(stage.name, stage.profile.name, context.request.region, context.settings(args))
        sys.stdout.write(render.render_endpoint_exports(session, *serving.serve(served), used_with(args), tools))
    else:
        block = render.render_exports(session, used_with(args), tools)
        sys.stdout.write(block)
        # Watched when the `stage` function ran a plain `use STAGE` (cli.main): kept for it to replay.
        switch = sys.modules.get("geodesic_stage.switch")
        if switch:
            switch.keep(block, session.credentials.expiration)
    return 0


def _serving(args, context, stage_name: str):
    """serve.shells when this use serves, decided before any code is asked for; loaded only where
    serving is asked for, so a plain cached use stays as light as it was."""
    if not (args.serve or args.no_serve or context.stages.serve or os.environ.get("GEODESIC_STAGE_SERVE")):
        return None
    from geodesic_stage.serve import shells

    return shells if shells.wanted(args.serve, args.no_serve, context.stages, stage_name) else None


def _tools(session, context) -> dict:
    """KUBECONFIG and DOCKER_CONFIG for the stage, when the stages file gives the team clusters or registries."""
    from geodesic_stage.ecr import registries
    from geodesic_stage.eks import cluster

    tools = {}
    if cluster.configured(context.stages):
        from geodesic_stage.config.resolve import namespace_of
        from geodesic_stage.eks import kubeconfig

        tools.update(kubeconfig.exports(session, context.stages, namespace_of(context.request, context.stages)))
    profile = session.stage.profile
    found = registries.of_stage(session.stage.name, context.stages, profile.account_id, profile.region)
    if found:
        from geodesic_stage.ecr import dockerconfig

        tools.update(dockerconfig.exports(session.stage.name, profile.name, found, os.environ))
    return tools
