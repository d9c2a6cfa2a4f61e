"""A profile as the AWS CLI reads it: a source, then the roles assumed from it, in order.

Pure: resolving reads the parsed config and credentials files (dicts), nothing else.
The rules are botocore's (AssumeRoleProvider and ProfileProviderBuilder): a profile
with `role_arn` is a role link whose credentials come from `credential_source` or from
`source_profile`; a source profile holding keys, or no `role_arn`, is the chain's root,
its kind chosen in botocore's provider order; otherwise it is one more role link.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from geodesic_stage.errors import ConfigError
from geodesic_stage.model import KEY_STORE, LOGIN, NAMED, PROCESS, SSO, STATIC, WEB_IDENTITY, Chain, RoleLink, Source

# What botocore's AssumeRoleProvider accepts as credential_source.
CREDENTIAL_SOURCES = ("Environment", "Ec2InstanceMetadata", "EcsContainer")


def merged(config: Mapping[str, Mapping[str, str]], credentials: Mapping[str, Mapping[str, str]]) -> Mapping:
    """Profiles as botocore's session sees them: the credentials file's sections added to the
    config's profiles, its values winning. Each profile is merged when it is read: a chain reads
    a few of thousands."""
    return _Merged(config, credentials)


def chain_of(
    name: str,
    config: Mapping[str, Mapping[str, str]],
    credentials: Mapping[str, Mapping[str, str]],
    where: str = "the AWS config or credentials file",  # named in messages
    stored: Callable[[str], bool] = lambda profile: False,
) -> Chain:
    """The chain of profile `name`; ConfigError (one line) for a missing link or a cycle.
    `stored(profile)`, asked only of a source profile the files give no credentials, says
    whether the encrypted key store may hold its keys (checked when they are used)."""
    profiles = _Merged(config, credentials)
    if name not in profiles:
        raise ConfigError(f"profile {name!r} is not in {where}")
    roles = []
    visited = [name]
    current = name
    while True:
        section = profiles[current]
        if not _is_role(section):
            source = _root(current, config.get(current, {}), credentials.get(current, {}), section) or _in_store(current, stored)
            if source is None:
                raise ConfigError(_no_credentials(current, roles, where))
            break
        roles.append(role_link(current, section, where))
        credential_source = section.get("credential_source")
        source_profile = section.get("source_profile")
        if credential_source is not None and source_profile is not None:
            raise ConfigError(
                f"profile {current!r} has both source_profile and credential_source; keep one of them"
            )
        if credential_source is not None:
            if credential_source not in CREDENTIAL_SOURCES:
                raise ConfigError(
                    f"profile {current!r}: credential_source = {credential_source!r} is not one of "
                    f"{', '.join(CREDENTIAL_SOURCES)}"
                )
            source = Source(current, NAMED, credential_source=credential_source)
            break
        if source_profile is None:
            raise ConfigError(
                f"profile {current!r} has role_arn but neither source_profile nor credential_source; "
                "add source_profile = NAME of the profile holding your keys"
            )
        if source_profile not in profiles:
            source = _in_store(source_profile, stored)
            if source:
                break
            raise ConfigError(
                f"source_profile {source_profile!r} of profile {current!r} is not in {where}; add [{source_profile}] "
                f"with aws_access_key_id and aws_secret_access_key (aws configure --profile {source_profile})"
            )
        source_section = profiles[source_profile]
        if source_profile in visited and not (source_profile == current and _has_static(source_section)):
            cycle = " -> ".join([*visited, source_profile])
            raise ConfigError(f"profiles {cycle} form a cycle of source_profile; point the last one at your keys")
        visited.append(source_profile)
        if _has_static(source_section) or not _is_role(source_section):
            source = _root(source_profile, config.get(source_profile, {}), credentials.get(source_profile, {}), source_section)
            source = source or _in_store(source_profile, stored)
            if source is None:
                raise ConfigError(_no_credentials(source_profile, roles, where))
            break
        current = source_profile
    return Chain(source, tuple(reversed(roles)))


def _in_store(name: str, stored: Callable[[str], bool]) -> Source | None:
    return Source(name, STATIC, file=KEY_STORE) if stored(name) else None


class _Merged(Mapping):
    """merged(config, credentials): the config's profiles in their order, then the credentials file's others."""

    __slots__ = ("_config", "_credentials")

    def __init__(self, config, credentials):
        self._config, self._credentials = config, credentials

    def __contains__(self, name) -> bool:
        return name in self._config or name in self._credentials

    def __getitem__(self, name) -> dict:
        if name not in self._credentials:
            return self._config[name]
        return {**self._config.get(name, {}), **self._credentials[name]}

    def __iter__(self):
        yield from self._config
        yield from (name for name in self._credentials if name not in self._config)

    def __len__(self) -> int:
        return len(self._config) + sum(name not in self._config for name in self._credentials)


def _is_role(section: Mapping[str, str]) -> bool:
    return "role_arn" in section and "web_identity_token_file" not in section


def _has_static(section: Mapping[str, str]) -> bool:
    return "aws_access_key_id" in section or "aws_secret_access_key" in section


def _root(name: str, config: Mapping[str, str], credentials: Mapping[str, str], section: Mapping[str, str]) -> Source | None:
    """The provider botocore's ProfileProviderBuilder would take the profile's credentials from."""
    if "web_identity_token_file" in section and "role_arn" in section:
        return Source(name, WEB_IDENTITY)
    if "sso_role_name" in section or "sso_account_id" in section:
        return Source(name, SSO)
    if "aws_access_key_id" in credentials:
        return _static(name, credentials, "credentials")
    if "login_session" in section:
        return Source(name, LOGIN)
    if "credential_process" in section:
        return Source(name, PROCESS)
    if "aws_access_key_id" in config:
        return _static(name, config, "config")
    if "aws_secret_access_key" in section:
        raise ConfigError(f"profile {name!r} has aws_secret_access_key but no aws_access_key_id; add it")
    return None


def _static(name: str, section: Mapping[str, str], file: str) -> Source:
    if not section.get("aws_secret_access_key"):
        raise ConfigError(
            f"profile {name!r} in the {file} file has aws_access_key_id but no aws_secret_access_key; "
            f"add aws_secret_access_key to it (aws configure --profile {name})"
        )
    return Source(name, STATIC, temporary=bool(section.get("aws_session_token")), file=file)


def role_link(name: str, section: Mapping[str, str], where: str) -> RoleLink:
    """The AssumeRole settings of a profile with role_arn."""
    duration = section.get("duration_seconds")
    try:
        duration_seconds = int(duration) if duration is not None else None
    except ValueError:
        raise ConfigError(f"profile {name!r} in {where}: duration_seconds = {duration!r} is not a number of seconds")
    return RoleLink(
        profile=name,
        role_arn=section["role_arn"],
        mfa_serial=section.get("mfa_serial"),
        external_id=section.get("external_id"),
        role_session_name=section.get("role_session_name"),
        duration_seconds=duration_seconds,
    )


def _no_credentials(name: str, roles, where: str) -> str:
    used_by = f" (source of {roles[-1].profile!r})" if roles else ""
    return (
        f"profile {name!r}{used_by} holds no credentials in {where}; add aws_access_key_id and "
        "aws_secret_access_key, credential_process, or sso_session to it"
    )


def check(chain: Chain, region: str | None = None, role_seconds: int | None = None, session_seconds: int | None = None) -> None:
    """ConfigError for any setting STS would refuse, so that no MFA code is spent on it.
    `role_seconds` (--duration) applies to the final role."""
    from geodesic_stage.config import limits  # a walk's, not a cached use's

    if region is not None and not re.match(limits.REGION, region):
        raise ConfigError(f"profile {chain.profile!r}: region {region!r} is not an AWS region name (e.g. us-west-2)")
    for link in chain.roles:
        where = f"profile {link.profile!r}"
        if not re.match(limits.ROLE_ARN, link.role_arn):
            raise ConfigError(f"{where}: role_arn {link.role_arn!r} is not an IAM role ARN; set arn:aws:iam::ACCOUNT_ID:role/NAME")
        if link.mfa_serial is not None and not re.match(limits.MFA_SERIAL, link.mfa_serial):
            raise ConfigError(f"{where}: mfa_serial {link.mfa_serial!r} is not an MFA device; set arn:aws:iam::ACCOUNT_ID:mfa/NAME")
        if link.external_id is not None and not re.match(limits.EXTERNAL_ID, link.external_id):
            raise ConfigError(f"{where}: external_id must be 2 to 1224 letters, digits or +=,.@:/-")
        if link.role_session_name is not None and not re.match(limits.SESSION_NAME, link.role_session_name):
            raise ConfigError(f"{where}: role_session_name must be 2 to 64 letters, digits or +=,.@-")
        if link.duration_seconds is not None:
            _in_range(f"{where}: duration_seconds", link.duration_seconds, limits.ROLE_SECONDS)
    if role_seconds is not None:
        _in_range("--duration", role_seconds, limits.ROLE_SECONDS)
    if session_seconds is not None:
        _in_range("the MFA session duration", session_seconds, limits.MFA_SESSION_SECONDS)


def _in_range(what: str, seconds: int, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if not low <= seconds <= high:
        raise ConfigError(f"{what} = {seconds} is outside what AWS accepts ({low} to {high} seconds)")
