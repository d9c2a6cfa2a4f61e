"""`doctor` on the files and profiles: the AWS config and credentials files exist, every stage's
profile resolves, has what its topology needs, and its source holds keys (never printed)."""

import os
import re
from typing import Dict, List, Mapping, Optional, Tuple

from geodesic_stage.config import awsconfig, limits, resolve
from geodesic_stage.doctor.findings import Finding, error, from_exception, warning
from geodesic_stage.errors import ConfigError, StageError
from geodesic_stage.keys import store as keystore
from geodesic_stage.model import Profile
from geodesic_stage.record import replace


def check_files(config_path: str, environ: Mapping[str, str]) -> List[Finding]:
    findings = []
    for variable, kind in (("AWS_CONFIG_FILE", "config"), ("AWS_SHARED_CREDENTIALS_FILE", "credentials")):
        value = environ.get(variable)
        if value and not os.path.isfile(os.path.expanduser(value)):
            findings.append(error(
                f"{variable}={value} does not exist",
                f"point {variable} at your AWS {kind} file, or unset it to use ~/.aws/{kind}",
            ))
    if not environ.get("AWS_CONFIG_FILE") and not os.path.isfile(config_path):
        findings.append(error(f"no AWS config at {config_path}", "write it with 'geodesic-stage init --topology ...'"))
    return findings


def find_stages(context, environ: Mapping[str, str]) -> Tuple[Dict[str, Profile], List[Finding]]:
    """Every stage's profile; when the namespace matches nothing, the stages of any namespace."""
    findings = []
    names = context.known_stages()
    namespace = resolve.namespace_of(context.request, context.stages)
    if not names and namespace and context.profiles:
        names = resolve.known_stages(context.profiles, replace(context.stages, namespace=None), resolve.Request(role=context.request.role))
        if names:
            found = ", ".join(sorted(set(names.values())))
            source = f"NAMESPACE={namespace}" if environ.get("NAMESPACE") == namespace else f"namespace {namespace!r}"
            findings.append(error(
                f"{source} matches no profile in {context.config_path} (found {found})",
                "set NAMESPACE (or --namespace, or namespace in the stages file) to the namespace of these profiles",
            ))
            context.request = replace(context.request, namespace=None)
            context.stages = replace(context.stages, namespace=None)
    if not names:
        findings.append(error(
            f"no stage profiles in {context.config_path}",
            "write them with 'geodesic-stage init --topology organization|accounts|single ...'",
        ))
    profiles = {}
    for name in names:
        try:
            profiles[name] = resolve.resolve_profile(
                name, context.profiles, context.stages, context.request, context.config_path,
                sso_sessions=lambda: awsconfig.load_sso_sessions(context.config_path),
            )
        except StageError as e:
            findings.append(from_exception(e))
    stage = environ.get("STAGE")
    if stage and names and stage not in names:
        findings.append(error(
            f"STAGE={stage} is not a stage here (stages: {', '.join(names)})",
            "export STAGE as one of them, or add that stage with 'geodesic-stage init --stage NAME=ACCOUNT_ID'",
        ))
    return profiles, findings


def _mfa_upstream(source: str, config_profiles: Mapping[str, dict], depth: int = 0) -> bool:
    """Whether a role profile up the chain from `source` has mfa_serial (a chain's MFA can sit on any link)."""
    section = config_profiles.get(source, {})
    if "role_arn" not in section or depth > len(config_profiles):
        return False
    return "mfa_serial" in section or _mfa_upstream(section.get("source_profile", ""), config_profiles, depth + 1)


def check_profiles(stages: Mapping[str, Profile], config_profiles: Mapping[str, dict]) -> List[Finding]:
    findings = []
    for profile in stages.values():
        where = f"profile {profile.name}"
        if not re.match(limits.ROLE_ARN, profile.role_arn):
            findings.append(error(
                f"{where}: role_arn {profile.role_arn!r} is not an IAM role ARN",
                "set role_arn=arn:aws:iam::ACCOUNT_ID:role/ROLE_NAME",
            ))
        if not profile.mfa_serial:
            if not profile.source_profile or not _mfa_upstream(profile.source_profile, config_profiles):
                findings.append(error(f"{where} has no mfa_serial", "add mfa_serial=arn:aws:iam::ROOT_ACCOUNT_ID:mfa/USER"))
        elif not re.match(limits.MFA_ARN, profile.mfa_serial):
            findings.append(error(
                f"{where}: mfa_serial {profile.mfa_serial!r} is not an MFA device ARN",
                "set mfa_serial=arn:aws:iam::ROOT_ACCOUNT_ID:mfa/USER",
            ))
        if not profile.source_profile and not config_profiles.get(profile.name, {}).get("credential_source"):
            findings.append(error(f"{where} has no source_profile", "add source_profile=NAME of your long-lived keys"))
        if not profile.region:
            findings.append(warning(f"{where} has no region", "add region=REGION (e.g. us-west-2) to the profile"))
    return findings


def check_sources(stages: Mapping[str, Profile], config_profiles: Mapping[str, dict], hints: Optional[List[str]] = None) -> List[Finding]:
    """Each source profile exists and holds keys (in the key store or the credentials file); the keys
    themselves are never printed. Advice that is no finding goes to `hints`."""
    hints = [] if hints is None else hints
    try:
        credentials = awsconfig.load_credentials()
    except ConfigError as e:
        return [from_exception(e)]
    path = awsconfig.credentials_path()
    findings = []
    stored = keystore.read_index() or {}
    for source in sorted({p.source_profile for p in stages.values() if p.source_profile}):
        section = {**config_profiles.get(source, {}), **credentials.get(source, {})}
        plain = credentials.get(source, {}).get("aws_secret_access_key")
        if source in stored:
            if plain:
                findings.append(warning(
                    f"source profile {source!r} is in the key store and still in plain text in {path}",
                    f"delete aws_access_key_id and aws_secret_access_key under [{source}] in {path}",
                ))
            continue
        if plain and not section.get("aws_session_token"):
            hints.append(
                f"source profile {source!r} keeps its keys in plain text in {path}; "
                f"'geodesic-stage keys import {source}' moves them into the encrypted key store"
            )
        if not section and source not in config_profiles and source not in credentials:
            findings.append(error(
                f"source profile {source!r} is in neither {path} nor the AWS config",
                f"add [{source}] with aws_access_key_id and aws_secret_access_key to {path} "
                f"(aws configure --profile {source})",
            ))
            continue
        if "credential_process" in section or any(key.startswith("sso_") for key in section):
            continue
        missing = [key for key in ("aws_access_key_id", "aws_secret_access_key") if not section.get(key)]
        if missing:
            findings.append(error(
                f"source profile {source!r} has no {' or '.join(missing)}",
                f"add {' and '.join(missing)} under [{source}] in {path} (aws configure --profile {source})",
            ))
    return findings
