"""Which ECR registries a stage's credentials serve: `ecr = true` (the stage's own account and
region) and `ecr_registries` (ACCOUNT, ACCOUNT:REGION or a registry host, comma-separated).

Pure: the stages file in, registries out; no network, no boto3.
"""

from __future__ import annotations

import re

from geodesic_stage.config.stages_file import StagesFile
from geodesic_stage.errors import ConfigError
from geodesic_stage.record import Record

# Patterns made (and compiled by re) when first matched, not at every cached use of a stage without registries.
_HOST = r"(\d{{12}})\.dkr\.ecr(-fips)?\.({region})\.amazonaws\.com(\.cn)?\Z"
_ENTRY = r"(\d{{12}})(?::({region}))?\Z"
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


class Registry(Record):
    account_id: str
    region: str

    @property
    def host(self) -> str:
        suffix = ".amazonaws.com.cn" if self.region.startswith("cn-") else ".amazonaws.com"
        return f"{self.account_id}.dkr.ecr.{self.region}{suffix}"


def of_stage(stage: str, stages: StagesFile, account_id: str, region: str | None) -> tuple[Registry, ...]:
    """The stage's registries, its own first when `ecr = true`; a registry without a region is in the stage's."""
    entry = stages.stages.get(stage)
    if entry is None or (entry.ecr is None and not entry.ecr_registries):
        return ()
    where = f"{stages.path}: [stages][[{stage}]]"
    found = []
    if entry.ecr is not None:
        flag = entry.ecr.lower()
        if flag not in _TRUE + _FALSE:
            raise ConfigError(f"{where} ecr = {entry.ecr!r}; use ecr = true (or list registries in ecr_registries)")
        if flag in _TRUE:
            found.append(_registry(account_id, region, stage, where))
    for word in re.split(r"[\s,]+", entry.ecr_registries or ""):
        if not word:
            continue
        registry = parse_host(word)
        if registry is None:
            match = re.match(_pattern(_ENTRY), word)
            if not match:
                raise ConfigError(
                    f"{where} ecr_registries has {word!r}; give ACCOUNT_ID, ACCOUNT_ID:REGION or the registry host, "
                    "e.g. ecr_registries = 123456789012:us-west-2"
                )
            registry = _registry(match.group(1), match.group(2) or region, stage, where)
        found.append(registry)
    return tuple(dict.fromkeys(found))


def _registry(account_id: str, region: str | None, stage: str, where: str) -> Registry:
    if not region:
        raise ConfigError(f"{where}: stage {stage!r} has no region for its ECR registry; give ecr_registries = {account_id}:REGION")
    return Registry(account_id=account_id, region=region)


def _pattern(shape: str) -> str:
    from geodesic_stage.config.limits import AWS_REGION_NAME

    return shape.format(region=AWS_REGION_NAME)


def parse_host(server: str) -> Registry | None:
    """The registry docker names (a host, with or without https:// and a path), if it is an ECR registry."""
    text = server.strip()
    text = text.split("://", 1)[1] if "://" in text else text
    host = text.split("/", 1)[0].rsplit(":", 1)[0] if text else ""
    match = re.match(_pattern(_HOST), host.lower())
    return Registry(account_id=match.group(1), region=match.group(3)) if match else None
