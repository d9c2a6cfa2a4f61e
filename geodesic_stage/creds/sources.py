"""A chain's first credentials, from its source link. Only ever called on a cache miss.

Static keys come from the files through `static_keys`, the one function that reads them
(the place to plug another key store). Every other kind is botocore's own provider for
the source profile, which never prompts: process, SSO, login, web identity, and the
`credential_source` providers. The environment's keys are read only for
`credential_source = Environment`, which asks for them.
"""

import os
import shlex
from typing import Mapping, Optional

from geodesic_stage import log, model
from geodesic_stage.config import awsconfig, chain
from geodesic_stage.errors import AwsError, ConfigError, MfaUnavailable
from geodesic_stage.model import Credentials
from geodesic_stage.store import cli_cache


def obtain(source: model.Source, region: str) -> Credentials:
    """The source's credentials; one-line StageError for anything a user can fix."""
    if source.kind == model.STATIC:
        return _stored_keys(source) or static_keys(source, _section(source))
    return _from_botocore(source, region)


def static_keys(source: model.Source, section: Mapping[str, str]) -> Credentials:
    """The keys in the source profile's section of the file botocore takes them from."""
    log.debug(f"source: static keys of profile {source.profile} in the {source.file} file")
    if not section.get("aws_access_key_id") or not section.get("aws_secret_access_key"):
        # The file changed since the chain was read from it.
        raise ConfigError(f"profile {source.profile!r} no longer holds aws_access_key_id and aws_secret_access_key; add them")
    return Credentials(
        section["aws_access_key_id"], section["aws_secret_access_key"], section.get("aws_session_token") or "", None
    )


def _stored_keys(source: model.Source) -> Optional[Credentials]:
    """The keys of the encrypted key store, which wins over the files (the passphrase asked here)."""
    from geodesic_stage.keys import store as keystore

    stored = keystore.source_keys(source.profile)
    if stored:
        log.debug(f"source: key {stored.access_key_id} of profile {source.profile} from {keystore.store_path()}")
        return Credentials(stored.access_key_id, stored.secret_access_key, "", None)
    if source.file == model.KEY_STORE:
        raise ConfigError(
            f"source profile {source.profile!r} holds no keys in the AWS config, the credentials file or "
            f"{keystore.store_path()}; add them with 'geodesic-stage keys add {source.profile}'"
        )
    return None


def _section(source: model.Source) -> Mapping[str, str]:
    if source.file == "credentials":
        return awsconfig.load_credentials().get(source.profile, {})
    return awsconfig.load_profiles().get(source.profile, {})


class _BotocoreCache:
    """Our JSON file cache (0600, atomic) behind the dict interface botocore's fetchers use."""

    def __init__(self, target: cli_cache.JsonFileCache):
        self._target = target

    def __contains__(self, key):
        return self._target.get(key) is not None

    def __getitem__(self, key):
        value = self._target.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key, value):
        import json

        try:
            self._target.put(key, json.loads(json.dumps(value, default=_isoformat)))
        except OSError as e:
            log.debug(f"could not cache {key} in {self._target.directory} ({e.strerror})")


def _isoformat(value) -> str:
    """Times as botocore's own JSONFileCache writes them."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


# botocore's provider for each credential_source but Environment (its EnvProvider is built apart:
# a session with a profile named leaves it out of its resolver).
_NAMED_PROVIDERS = {"Ec2InstanceMetadata": "iam-role", "EcsContainer": "container-role"}


def _from_botocore(source: model.Source, region: str) -> Credentials:
    import botocore.credentials as bc
    import botocore.exceptions as bex
    import botocore.session

    # The profile named explicitly: AWS_PROFILE and AWS_DEFAULT_PROFILE choose nothing here.
    session = botocore.session.Session(profile=source.profile)
    what = _describe(source)
    log.debug(f"source: {what}")
    try:
        if source.kind == model.NAMED and source.credential_source == "Environment":
            found = bc.EnvProvider().load()
        elif source.kind == model.NAMED:
            method = _NAMED_PROVIDERS[source.credential_source]
            found = session.get_component("credential_provider").get_provider(method).load()
        else:
            builder = bc.ProfileProviderBuilder(session, cache=_BotocoreCache(cli_cache.role_cache()), region_name=region)
            found = bc.CredentialResolver(builder.providers(profile_name=source.profile, disable_env_vars=True)).load_credentials()
        frozen = found.get_frozen_credentials() if found is not None else None
    except (bex.SSOTokenLoadError, bex.UnauthorizedSSOTokenError):
        raise MfaUnavailable(f"{what} has no valid sign-in; sign in with 'aws sso login --profile {source.profile}', then try again")
    except bex.LoginError:
        raise MfaUnavailable(f"{what} has no valid sign-in; sign in with 'aws login --profile {source.profile}', then try again")
    except OSError as e:
        program = _program(_settings(source).get("credential_process", ""))
        raise ConfigError(f"{what} cannot run {program!r} ({e.strerror}); check the command in credential_process")
    except bex.InvalidConfigError as e:
        raise ConfigError(f"{what}: {_first_line(e)}")
    except bex.CredentialRetrievalError as e:
        raise ConfigError(f"{what} gave no credentials: {_first_line(e)}")
    except bex.BotoCoreError as e:
        raise AwsError(f"{what} gave no credentials: {_first_line(e)}")
    if frozen is None or not frozen.access_key or not frozen.secret_key:
        raise ConfigError(f"{what} gave no credentials; check the profile's settings")
    expiry = getattr(found, "_expiry_time", None)
    return Credentials(frozen.access_key, frozen.secret_key, frozen.token or "", expiry)


def _describe(source: model.Source) -> str:
    if source.kind == model.NAMED:
        return f"credential_source = {source.credential_source} of profile {source.profile!r}"
    return f"the {source.kind} source of profile {source.profile!r}"


def _settings(source: model.Source) -> Mapping[str, str]:
    profiles = chain.merged(awsconfig.load_profiles(), awsconfig.load_credentials())
    return profiles.get(source.profile, {})


def _program(command: str) -> str:
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    return os.path.basename(words[0]) if words else ""


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return "".join(c if c.isprintable() else "?" for c in (text[0] if text else type(error).__name__))[:300]
