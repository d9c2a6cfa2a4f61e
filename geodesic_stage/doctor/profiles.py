"""`doctor` on the files and profiles: the AWS config and credentials files exist, every stage's
profile resolves, has what its topology needs, and its source holds keys (never printed)."""

import os
import re
from typing import Dict, List, Mapping, Optional, Tuple

from geodesic_stage import model
from geodesic_stage.config import awsconfig, chain, limits, resolve
from geodesic_stage.doctor.findings import Finding, error, from_exception, unique, warning
from geodesic_stage.errors import ConfigError, StageError
from geodesic_stage.keys import store as keystore
from geodesic_stage.model import Profile
from geodesic_stage.record import replace
from geodesic_stage.store import files


def check_files(config_path: str, environ: Mapping[str, str]) -> List[Finding]:
    """The AWS files as botocore finds them. What it cannot read it takes as no file, and the
    AWS CLI goes on without it: a warning (the stages doctor finds or misses say the rest)."""
    findings = []
    for variable, kind, path in (
        ("AWS_CONFIG_FILE", "config", config_path), ("AWS_SHARED_CREDENTIALS_FILE", "credentials", awsconfig.credentials_path()),
    ):
        value = environ.get(variable)
        unread = awsconfig.unread(path)
        if unread:
            findings.append(warning(
                f"{path} {unread}: the AWS CLI and geodesic-stage take it as no {kind} file",
                f"rmdir {path} and put your {kind} file there (Docker makes a directory where it mounts a file "
                "that does not exist)" if os.path.isdir(path) else f"sudo chown {files.me()} {path} && chmod 600 {path}",
            ))
        elif value and not os.path.isfile(path):
            findings.append(error(
                f"{variable}={value}{'' if path == value else f' ({path})'} does not exist",
                f"point {variable} at your AWS {kind} file, or unset it to use ~/.aws/{kind}",
            ))
        elif kind == "config" and not os.path.isfile(path):
            findings.append(error(f"no AWS config at {path}", "write it with 'geodesic-stage init --topology ...'"))
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
                sso_sessions=lambda: context.sso_sessions,
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


def stage_chains(stages: Mapping[str, Profile], context) -> Tuple[Dict[str, model.Chain], List[Finding]]:
    """Each stage's chain as `stage use` walks it, to the profile it takes credentials from: the
    walk is told the key store may hold any profile's keys, so it ends there whatever that profile
    holds (check_sources says whether it holds them). A chain that cannot be walked is a finding."""
    chains, findings = {}, []
    for stage, profile in stages.items():
        try:
            chains[stage] = chain.chain_of(profile.name, context.profiles, context.credentials, context.config_path, lambda _: True)
        except ConfigError as e:
            findings.append(from_exception(e))
    return chains, unique(findings)


def check_profiles(stages: Mapping[str, Profile], config_profiles: Mapping[str, dict], chains: Mapping[str, model.Chain]) -> List[Finding]:
    findings = []
    for stage, profile in stages.items():
        where = f"profile {profile.name}"
        if not re.match(limits.ROLE_ARN, profile.role_arn):
            findings.append(error(
                f"{where}: role_arn {profile.role_arn!r} is not an IAM role ARN",
                "set role_arn=arn:aws:iam::ACCOUNT_ID:role/ROLE_NAME",
            ))
        links = chains.get(stage)
        if not profile.mfa_serial:
            # A device guards an IAM user's long-term keys: a chain from a sign-in (Identity Center) needs none.
            if links and links.source.may_be_long_term and not any(link.mfa_serial for link in links.roles):
                findings.append(error(f"{where} has no mfa_serial", "add mfa_serial=arn:aws:iam::ROOT_ACCOUNT_ID:mfa/USER"))
        elif not re.match(limits.MFA_SERIAL, profile.mfa_serial):
            findings.append(error(
                f"{where}: mfa_serial {profile.mfa_serial!r} is not an MFA device",
                "set mfa_serial=arn:aws:iam::ROOT_ACCOUNT_ID:mfa/USER (or a hardware token's serial number)",
            ))
        if not profile.source_profile and not config_profiles.get(profile.name, {}).get("credential_source"):
            findings.append(error(f"{where} has no source_profile", "add source_profile=NAME of your long-lived keys"))
        if not profile.region:
            findings.append(warning(f"{where} has no region", "add region=REGION (e.g. us-west-2) to the profile"))
    return findings


def check_sources(chains: Mapping[str, model.Chain], profiles: Mapping[str, dict], hints: Optional[List[str]] = None) -> List[Finding]:
    """The profile each chain takes keys from (its root, as `stage use` finds it) holds them, in
    the key store or the files; the keys themselves are never printed. A root that signs in or runs a
    process is asked when used. Advice that is no finding goes to `hints`."""
    hints = [] if hints is None else hints
    path = awsconfig.credentials_path()
    findings = []
    stored = keystore.read_index() or {}
    roots = {links.source.profile: links.source for links in chains.values() if links.source.kind == model.STATIC}
    for source, root in sorted(roots.items()):
        if source in stored:
            if root.file == "credentials":
                findings.append(warning(
                    f"source profile {source!r} is in the key store and still in plain text in {path}",
                    f"delete aws_access_key_id and aws_secret_access_key under [{source}] in {path}",
                ))
            continue
        if root.file == "credentials" and not root.temporary:
            hints.append(
                f"source profile {source!r} keeps its keys in plain text in {path}; "
                f"'geodesic-stage keys import {source}' moves them into the encrypted key store"
            )
        if root.file != model.KEY_STORE:
            continue
        # The files give this profile no credentials, and the key store does not list it.
        if source not in profiles:
            findings.append(error(
                f"source profile {source!r} is in neither {path} nor the AWS config",
                f"add [{source}] with aws_access_key_id and aws_secret_access_key to {path} "
                f"(aws configure --profile {source})",
            ))
        else:
            findings.append(error(
                f"source profile {source!r} has no aws_access_key_id or aws_secret_access_key",
                f"add aws_access_key_id and aws_secret_access_key under [{source}] in {path} (aws configure --profile {source})",
            ))
    return findings
