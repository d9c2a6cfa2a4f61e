"""The optional stages file: team-wide settings and one entry per stage.

`$GEODESIC_STAGE_CONFIG`, else `~/.config/geodesic/stages.conf`, else
`/etc/geodesic/stages.conf`; INI read with configobj.
"""

from __future__ import annotations

import os
from types import MappingProxyType

from geodesic_stage.config.textfile import read_text
from geodesic_stage.errors import ConfigError
from geodesic_stage.lifetimes import DEFAULT_SESSION_SECONDS
from geodesic_stage.record import Record

TOPOLOGIES = ("organization", "accounts", "single")
MFA_MODES = ("session", "direct")


class StageEntry(Record):
    account_id: str | None = None
    profile: str | None = None
    role_arn: str | None = None
    region: str | None = None
    # Kubernetes and ECR (geodesic_stage/eks, geodesic_stage/ecr read them): the stage's EKS cluster
    # and its region, `ecr = true` for the stage's own registry, or `ecr_registries` (ACCOUNT[:REGION], ...).
    eks_cluster: str | None = None
    eks_region: str | None = None
    environment: str | None = None
    ecr: str | None = None
    ecr_registries: str | None = None


class StagesFile(Record):
    path: str | None = None
    namespace: str | None = None
    role: str | None = None
    region: str | None = None
    topology: str | None = None
    root_account_id: str | None = None
    mfa_serial: str | None = None
    source_profile: str | None = None
    mfa_mode: str = "session"
    session_duration: int = DEFAULT_SESSION_SECONDS
    # Every stage's EKS cluster name, e.g. {namespace}-{environment}-{stage}-eks-cluster (eks/cluster.py).
    eks_cluster_pattern: str | None = None
    environment: str | None = None
    # `stage use` exports the credential endpoint instead of the keys (GEODESIC_STAGE_SERVE overrides it).
    serve: bool = False
    stages: dict[str, StageEntry] = MappingProxyType({})  # an empty default nobody can fill


def stages_path() -> str | None:
    explicit = os.environ.get("GEODESIC_STAGE_CONFIG")
    if explicit:
        return os.path.expanduser(explicit)
    for candidate in stages_candidates():
        if os.path.exists(candidate):
            return candidate
    return None


def stages_candidates() -> list[str]:
    """Every place stages_path looks, in its order."""
    explicit = os.environ.get("GEODESIC_STAGE_CONFIG")
    if explicit:
        return [os.path.expanduser(explicit)]
    return [os.path.expanduser(c) for c in ("~/.config/geodesic/stages.conf", "/etc/geodesic/stages.conf")]


def load_stages(path: str | None = None) -> StagesFile:
    path = path if path is not None else stages_path()
    if not path:
        return StagesFile()
    if not os.path.exists(path) and os.environ.get("GEODESIC_STAGE_CONFIG"):
        raise ConfigError(f"{path}: no such stages file (GEODESIC_STAGE_CONFIG points at it)")
    lines = read_text(path, "a stages file").splitlines()
    from configobj import ConfigObj, ConfigObjError

    try:
        raw = ConfigObj(lines, file_error=False, list_values=False, interpolation=False)
    except ConfigObjError as e:
        e = (getattr(e, "errors", None) or [e])[0]  # configobj wraps several errors in one without a line
        line = getattr(e, "line_number", None)
        where = f"{path}:{line}" if line else path
        raise ConfigError(f"{where}: {str(e).split(' at line')[0].rstrip('.')}; fix the stages file")
    return _build(path, raw)


def _text(path, section, key, where="") -> str | None:
    value = section.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{path}: {where}{key} must be a single value, not a section")
    return value.strip() or None


def _build(path: str, raw) -> StagesFile:
    def get(key):
        return _text(path, raw, key)

    topology = get("topology")
    if topology is not None and topology not in TOPOLOGIES:
        raise ConfigError(f"{path}: topology = {topology!r}; use one of {', '.join(TOPOLOGIES)}")
    mfa_mode = get("mfa_mode") or "session"
    if mfa_mode not in MFA_MODES:
        raise ConfigError(f"{path}: mfa_mode = {mfa_mode!r}; use session or direct")
    session_duration = get("session_duration")
    try:
        seconds = int(session_duration) if session_duration else DEFAULT_SESSION_SECONDS
    except ValueError:
        raise ConfigError(f"{path}: session_duration = {session_duration!r}; give it in seconds, e.g. 43200")

    serve = (get("serve") or "false").lower()
    if serve not in ("true", "false"):
        raise ConfigError(f"{path}: serve = {serve!r}; use true or false")

    stages_section = raw.get("stages", {})
    if not isinstance(stages_section, dict):
        raise ConfigError(f"{path}: 'stages' must be a [stages] section")
    stages = {}
    for name in getattr(stages_section, "sections", ()):
        entry = stages_section[name]
        stages[name] = StageEntry(**{
            key: _text(path, entry, key, f"[stages][[{name}]] ")
            for key in StageEntry._fields
        })
    return StagesFile(
        path=path,
        namespace=get("namespace"),
        role=get("role"),
        region=get("region"),
        topology=topology,
        root_account_id=get("root_account_id"),
        mfa_serial=get("mfa_serial"),
        source_profile=get("source_profile"),
        mfa_mode=mfa_mode,
        session_duration=seconds,
        eks_cluster_pattern=get("eks_cluster_pattern"),
        environment=get("environment"),
        serve=serve == "true",
        stages=stages,
    )
