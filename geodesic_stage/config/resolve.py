"""Which profile a stage means, and the chain that reaches it: pure functions over the parsed config files."""

from __future__ import annotations

import re
from collections import ChainMap
from collections.abc import Callable, Mapping

from geodesic_stage import log, model
from geodesic_stage.config import chain, sso
from geodesic_stage.config.stages_file import StagesFile
from geodesic_stage.errors import ConfigError
from geodesic_stage.model import Profile, Stage
from geodesic_stage.record import Record, replace

DEFAULT_ROLE = "admin"


class Request(Record):
    """What the user asked for on the command line and in the environment."""

    namespace: str | None = None
    role: str | None = None
    profile: str | None = None
    region: str | None = None


def namespace_of(request: Request, stages: StagesFile) -> str | None:
    return request.namespace or stages.namespace


def role_of(request: Request, stages: StagesFile) -> str:
    return request.role or stages.role or DEFAULT_ROLE


def known_stages(profiles: Mapping[str, dict], stages: StagesFile, request: Request) -> dict[str, str]:
    """Every stage that can be used, by name, with its profile's name, sorted."""
    namespace = namespace_of(request, stages)
    role = role_of(request, stages)
    if namespace:
        pattern = re.compile(re.escape(namespace) + r"-(.+)-" + re.escape(role) + r"\Z")
    else:
        pattern = re.compile(r"[^-]+-(.+)-" + re.escape(role) + r"\Z")
    found = {}
    for name in profiles:
        match = pattern.match(name)
        if match and ("role_arn" in profiles[name] or sso.is_sso(profiles[name])):
            found.setdefault(match.group(1), name)
    for name, entry in stages.stages.items():
        default = f"{namespace}-{name}-{role}" if namespace else found.get(name)
        found[name] = entry.profile or default or name
    return dict(sorted(found.items()))


def profile_name_for(stage: str, profiles: Mapping[str, dict], stages: StagesFile, request: Request, config_path: str = "~/.aws/config") -> str:
    if request.profile:
        log.debug(f"stage {stage}: profile {request.profile} (--profile, or AWS_PROFILE of this shell's stage)")
        return request.profile
    entry = stages.stages.get(stage)
    if entry and entry.profile:
        log.debug(f"stage {stage}: profile {entry.profile} (its entry in {stages.path})")
        return entry.profile
    namespace = namespace_of(request, stages)
    role = role_of(request, stages)
    if namespace:
        origin = "--namespace or $NAMESPACE" if request.namespace else stages.path
        log.debug(f"stage {stage}: profile {namespace}-{stage}-{role} (namespace-stage-role; namespace from {origin})")
        return f"{namespace}-{stage}-{role}"
    # No namespace known: it is the part before the first hyphen, so `prod` never means acme-pre-prod-admin.
    suffix = f"-{stage}-{role}"
    matches = sorted(
        name for name in profiles if name.endswith(suffix) and len(name) > len(suffix) and "-" not in name[: -len(suffix)]
    )
    if len(matches) > 1:
        raise ConfigError(
            f"stage {stage!r} matches several profiles ({', '.join(matches)}); "
            "set NAMESPACE or pass --namespace to choose one"
        )
    if matches:
        log.debug(f"stage {stage}: profile {matches[0]} (no namespace known; the only profile named NAMESPACE{suffix})")
        return matches[0]
    raise _unknown(stage, profiles, stages, request, config_path)


def _unknown(stage: str, profiles, stages: StagesFile, request: Request, config_path: str) -> ConfigError:
    names = list(known_stages(profiles, stages, request))
    if not names:
        from geodesic_stage.config.awsconfig import unread  # the error's one look at the disk

        why = unread(config_path)
        if why:
            return ConfigError(
                f"unknown stage {stage!r}: {config_path} {why}, so it holds no profiles (the AWS CLI reads it as none "
                "too); point AWS_CONFIG_FILE at your AWS config"
            )
        return ConfigError(
            f"unknown stage {stage!r}: no stage profiles found; "
            "write them with 'geodesic-stage init' or set NAMESPACE"
        )
    import difflib  # only for the error message; not on the fast path

    close = difflib.get_close_matches(stage, names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"unknown stage {stage!r}; stages: {', '.join(names)}.{hint}")


def resolve_stage(
    stage: str,
    profiles: Mapping[str, dict],
    stages: StagesFile,
    request: Request,
    config_path: str = "~/.aws/config",
    credentials: Mapping[str, dict] | None = None,
    stored: Callable[[str], bool] = lambda profile: False,
    sso_sessions: Callable[[], Mapping[str, dict]] = dict,
) -> Stage:
    """The stage's profile and the chain of links that reaches it.

    `profiles` are the config's profiles (with the credentials file's sections merged in, as
    botocore sees them); `credentials` the credentials file's sections alone, for the order in
    which botocore takes keys; `stored` whether the key store may hold a source's keys; `sso_sessions`
    gives the config's [sso-session] sections, read only for an Identity Center profile."""
    profile, profiles = _profile(stage, profiles, stages, request, config_path, sso_sessions)
    if profile.sso:
        # An Identity Center stage: a chain of one SSO root and no role links.
        return Stage(name=stage, profile=profile, chain=model.Chain(model.Source(profile.name, model.SSO)))
    links = chain.chain_of(profile.name, profiles, credentials or {}, f"{config_path} or the credentials file", stored)
    mfa_process = profile.mfa_process or next(
        (profiles[r.profile]["mfa_process"] for r in links.roles if "mfa_process" in profiles[r.profile]), None
    )
    root = links.source.profile
    return Stage(
        name=stage, profile=replace(profile, mfa_process=mfa_process), chain=links,
        sso_root=sso.role_of(root, profiles[root], sso_sessions(), config_path) if links.source.kind == model.SSO else None,
    )


def resolve_profile(
    stage: str, profiles: Mapping[str, dict], stages: StagesFile, request: Request, config_path: str = "~/.aws/config",
    sso_sessions: Callable[[], Mapping[str, dict]] = dict,
) -> Profile:
    """The stage's own profile, whatever its source holds (for doctor, which reports sources itself)."""
    return _profile(stage, profiles, stages, request, config_path, sso_sessions)[0]


def _profile(stage, profiles, stages: StagesFile, request: Request, config_path: str, sso_sessions):
    """The stage's profile, gaps filled from the stages file, and the profiles with that filling."""
    name = profile_name_for(stage, profiles, stages, request, config_path)
    section = profiles.get(name)
    if section is None:
        if request.profile:
            raise ConfigError(f"profile {name!r} is not in {config_path}")
        if stage in stages.stages:
            # The stage exists (the stages file names it): what is missing is its profile.
            raise ConfigError(
                f"stage {stage!r} of {stages.path} uses profile {name!r}, which is not in {config_path}; "
                "add it, or write it with 'geodesic-stage init'"
            )
        raise _unknown(stage, profiles, stages, request, config_path)
    entry = stages.stages.get(stage)
    if sso.is_sso(section) and "role_arn" not in section:
        region = request.region or section.get("region") or (entry.region if entry else None) or stages.region
        role = sso.role_of(name, section, sso_sessions(), config_path)
        log.debug(f"stage {stage}: profile {name} signs in to Identity Center ({sso.describe(role.session)})")
        return Profile(name=name, role_arn="", region=region, sso=role), profiles
    if "role_arn" not in section and entry and entry.role_arn:
        section = dict(section, role_arn=entry.role_arn)
        profiles = ChainMap({name: section}, profiles)  # a view: a copy would read every profile
    if "role_arn" not in section:
        raise ConfigError(
            f"profile {name!r} in {config_path} has no role_arn; "
            "add role_arn = arn:aws:iam::ACCOUNT:role/NAME (or run 'geodesic-stage init')"
        )
    link = chain.role_link(name, section, config_path)
    region = request.region or section.get("region") or (entry.region if entry else None) or stages.region
    profile = Profile(
        name=name,
        role_arn=link.role_arn,
        source_profile=section.get("source_profile"),
        mfa_serial=link.mfa_serial,
        region=region,
        external_id=link.external_id,
        role_session_name=link.role_session_name,
        duration_seconds=link.duration_seconds,
        mfa_process=section.get("mfa_process"),
    )
    return profile, profiles
