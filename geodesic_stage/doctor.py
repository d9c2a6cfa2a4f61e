"""The checks behind `doctor`: each returns findings, one line each, with the fix.

Everything but the clock check reads files only; STS is imported when the
clock check runs.
"""

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Tuple

from geodesic_stage import awsconfig, cache, chain, clock, keystore, resolve, topology
from geodesic_stage.errors import AwsError, ConfigError, StageError
from geodesic_stage.model import Credentials, Profile
from geodesic_stage.record import replace

ROLE_ARN = re.compile(r"arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]+\Z")
MFA_ARN = re.compile(r"arn:aws[\w-]*:iam::\d{12}:mfa/[\w+=,.@/-]+\Z")
MAX_SKEW_SECONDS = 300


@dataclass(frozen=True)
class Finding:
    level: str  # "error" or "warning"
    message: str
    fix: str

    def line(self) -> str:
        return f"{self.level}: {self.message}; fix: {self.fix}"


def error(message: str, fix: str) -> Finding:
    return Finding("error", message, fix)


def warning(message: str, fix: str) -> Finding:
    return Finding("warning", message, fix)


def from_exception(e: StageError) -> Finding:
    """Our messages read "what went wrong; what to do": the second half is the fix."""
    message, _, fix = e.message.partition("; ")
    return error(message, fix or "see the message above")


@dataclass
class Report:
    findings: List[Finding] = field(default_factory=list)
    # Facts worth a line though nothing is wrong (each Identity Center sign-in and its state).
    notes: List[str] = field(default_factory=list)
    stages: Dict[str, Profile] = field(default_factory=dict)
    topology: Optional[str] = None
    topology_source: str = "inferred from the profiles"
    hints: List[str] = field(default_factory=list)  # advice, not problems: shown on stderr

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.level == "error")


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
        if not ROLE_ARN.match(profile.role_arn):
            findings.append(error(
                f"{where}: role_arn {profile.role_arn!r} is not an IAM role ARN",
                "set role_arn=arn:aws:iam::ACCOUNT_ID:role/ROLE_NAME",
            ))
        if not profile.mfa_serial:
            if not profile.source_profile or not _mfa_upstream(profile.source_profile, config_profiles):
                findings.append(error(f"{where} has no mfa_serial", "add mfa_serial=arn:aws:iam::ROOT_ACCOUNT_ID:mfa/USER"))
        elif not MFA_ARN.match(profile.mfa_serial):
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


def check_chains(stages: Mapping[str, Profile], config_profiles: Mapping[str, dict], credentials: Mapping[str, dict], where: str) -> List[Finding]:
    """Each stage's chain resolves and STS would take its settings; a chain whose MFA code
    cannot buy an MFA session (temporary source keys) is said to go direct."""
    findings = []
    for profile in stages.values():
        try:
            links = chain.resolve(profile.name, config_profiles, credentials, where, keystore.holds)
            chain.check(links)
        except ConfigError as e:
            findings.append(from_exception(e))
            continue
        if links.roles and links.roles[0].mfa_serial and links.source.kind == chain.STATIC and links.source.temporary:
            findings.append(warning(
                f"profile {profile.name} starts from temporary keys in [{links.source.profile}] (aws_session_token): "
                "AWS takes GetSessionToken only from an IAM user's long-term keys, so its MFA code goes straight into "
                f"AssumeRole (direct mode) and role sessions from it last at most an hour",
                f"nothing to do; for one code across stages give [{links.source.profile}] an IAM user's access keys",
            ))
    unique = []
    for finding in findings:
        if finding not in unique:
            unique.append(finding)
    return unique


def check_topology(name: str, stages: Mapping[str, Profile], root_account: Optional[str]) -> List[Finding]:
    well_formed = {s: p for s, p in stages.items() if ROLE_ARN.match(p.role_arn)}
    findings = _mfa_in_root(well_formed, root_account)
    if name == "single":
        return findings + _single(well_formed)
    if name == "organization":
        findings += _organization(well_formed, root_account)
    else:
        findings += [
            error(
                f"profile {p.name} assumes {topology.ORGANIZATION_ROLE}, which trusts a management account "
                "the accounts topology does not hold",
                f"set role_arn={topology.role_arn(p.account_id, p.name)}",
            )
            for p in well_formed.values() if p.role_name == topology.ORGANIZATION_ROLE
        ]
    return findings + _own_accounts(well_formed, root_account, name)


def _mfa_in_root(stages: Mapping[str, Profile], root_account: Optional[str]) -> List[Finding]:
    findings = []
    for profile in stages.values():
        if root_account and profile.mfa_serial and MFA_ARN.match(profile.mfa_serial):
            account = profile.mfa_serial.split(":")[4]
            if account != root_account:
                device = profile.mfa_serial.split(":", 5)[5]
                findings.append(error(
                    f"profile {profile.name}: mfa_serial is in account {account}, not the root account {root_account}",
                    f"set mfa_serial=arn:aws:iam::{root_account}:{device}",
                ))
    return findings


def _single(stages: Mapping[str, Profile]) -> List[Finding]:
    """One account, one role: the root stage's, else the one most profiles use."""
    root = stages.get(topology.ROOT_STAGE)
    if root and root.role_name != topology.ORGANIZATION_ROLE:
        expected = root.role_arn
    else:
        usual = Counter(p.role_arn for p in stages.values() if p.role_name != topology.ORGANIZATION_ROLE).most_common(1)
        if not usual:
            return [error(
                f"every stage assumes {topology.ORGANIZATION_ROLE}, which a single account does not have",
                "set role_arn=arn:aws:iam::ACCOUNT_ID:role/NAMESPACE-root-admin in each profile",
            )]
        expected = usual[0][0]
    return [
        error(
            f"profile {p.name} assumes {p.role_arn}; in the single topology every stage assumes {expected}",
            f"set role_arn={expected}",
        )
        for p in stages.values() if p.role_arn != expected
    ]


def _organization(stages: Mapping[str, Profile], root_account: Optional[str]) -> List[Finding]:
    findings = []
    for stage, profile in stages.items():
        if stage == topology.ROOT_STAGE:
            if profile.role_name == topology.ORGANIZATION_ROLE:
                findings.append(error(
                    f"profile {profile.name} (the root stage) assumes {topology.ORGANIZATION_ROLE}",
                    f"set role_arn={topology.role_arn(profile.account_id, profile.name)}",
                ))
        elif profile.role_name != topology.ORGANIZATION_ROLE:
            findings.append(error(
                f"profile {profile.name} assumes {profile.role_arn}; in an organization each member stage "
                f"assumes {topology.ORGANIZATION_ROLE}",
                f"set role_arn={topology.role_arn(profile.account_id, topology.ORGANIZATION_ROLE)}",
            ))
    return findings


def _own_accounts(stages: Mapping[str, Profile], root_account: Optional[str], name: str) -> List[Finding]:
    findings = []
    owners = {root_account: topology.ROOT_STAGE} if root_account else {}
    for stage, profile in stages.items():
        if stage == topology.ROOT_STAGE:
            continue
        owner = owners.setdefault(profile.account_id, stage)
        if owner != stage:
            findings.append(error(
                f"profile {profile.name} is in account {profile.account_id}, which stage {owner!r} already uses; "
                f"in the {name} topology each stage has an account of its own",
                "set role_arn to a role in this stage's own account (one account for all is the single topology)",
            ))
    return findings


def check_cache() -> List[Finding]:
    """Cached credentials are secrets: nobody but the owner may read them. A cache the user
    cannot write (a root-owned one after `sudo -E`) shares no session and saves no code."""
    findings = []
    from geodesic_stage import sso

    aws = os.path.dirname(os.path.dirname(cache.cli_cache_dir()))
    for directory in (cache.cli_cache_dir(), cache.session_cache_dir(), sso.token_dir()):
        problem = cache.unwritable(directory)
        if problem:
            findings.append(error(
                f"cannot write the credential cache: {problem}",
                f"sudo chown -R {_me()} {aws} && chmod -R u+rwX {aws}",
            ))
            break
        try:
            mode = os.stat(directory).st_mode
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        if mode & 0o077:
            findings.append(error(
                f"{directory} is open to others (mode {mode & 0o777:o})", f"chmod 700 {directory}"
            ))
        exposed = [n for n in names if n.endswith(".json") and _open_to_others(os.path.join(directory, n))]
        if exposed:
            findings.append(error(
                f"{len(exposed)} cache file(s) in {directory} open to others ({', '.join(exposed[:3])}"
                f"{', ...' if len(exposed) > 3 else ''})",
                f"chmod 600 {directory}/*.json",
            ))
    return findings


def _me() -> str:
    """The user's login name for a chown command (a uid where there is none)."""
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def _open_to_others(path: str) -> bool:
    try:
        return bool(os.lstat(path).st_mode & 0o077)
    except OSError:
        return False


def check_clock(profile: Profile, context) -> List[Finding]:
    """Signatures fail when the clock is off by more than 5 minutes; STS's Date header says by how much.
    Signed with the stage's source keys, when its chain starts from static keys."""
    from geodesic_stage import sources, sts

    try:
        links = chain.resolve(profile.name, context.profiles, context.credentials, context.config_path, keystore.holds)
        if links.source.kind != chain.STATIC:
            return [warning(
                f"clock not checked against STS: profile {profile.name} starts from {links.source.kind}, not keys",
                "run 'aws sts get-caller-identity' to see that AWS accepts this clock",
            )]
        listed = (keystore.read_index() or {}).get(links.source.profile)
        if listed:
            # STS dates its refusals too: the clock is checked without opening the store for the secret.
            keys = Credentials(str(listed[0].get("aws_access_key_id")), "-", "", None)
        elif links.source.file == chain.KEY_STORE:
            return [warning(
                f"clock not checked against STS: {keystore.index_path()} does not list {links.source.profile!r}",
                "run 'geodesic-stage keys list' (it rebuilds the index)",
            )]
        else:
            keys = sources.obtain(links.source, profile.region or sts.DEFAULT_REGION)
        before = clock.now()
        date, refused = sts.server_date(profile, keys)
        refused = None if listed else refused
    except AwsError as e:
        return [error(e.message.partition("; ")[0], "check the network or AWS_ENDPOINT_URL_STS, or pass --offline")]
    except ConfigError as e:
        return [from_exception(e)]
    local = before + (clock.now() - before) / 2
    # The Date header is cut to the second: its midpoint is the best guess of STS's time.
    skew = (date - local).total_seconds() + 0.5
    if abs(skew) > MAX_SKEW_SECONDS:
        direction = "behind" if skew > 0 else "ahead of"
        minutes, seconds = divmod(round(abs(skew)), 60)
        return [error(
            f"this clock is {minutes} min {seconds} s {direction} STS "
            "(AWS rejects signatures more than 5 minutes off)",
            "sync the clock (timedatectl set-ntp true; on a laptop, restart Docker Desktop)",
        )]
    if refused:
        return [error(
            f"STS refused the keys of source profile {links.source.profile!r} ({refused})",
            f"check or rotate the keys under [{links.source.profile}] in {awsconfig.credentials_path()}",
        )]
    return []


def examine(context, environ: Mapping[str, str], declared_topology: Optional[str] = None, offline: bool = False,
            max_time: Optional[float] = None) -> Report:
    from geodesic_stage import sso_doctor

    report = Report(findings=check_files(context.config_path, environ))
    if os.path.isfile(context.config_path):
        try:
            report.stages, findings = find_stages(context, environ)
            report.findings += findings
            report.findings += sso_doctor.check_mixed(context.profiles)
        except StageError as e:
            report.findings.append(from_exception(e))
    sso_stages = {s: p for s, p in report.stages.items() if p.sso}
    if sso_stages:
        notes, findings = sso_doctor.check(sso_stages, offline, max_time or sso_doctor.CHECK_SECONDS)
        report.notes += notes
        report.findings += findings
    # The checks below are for role profiles; an Identity Center stage has none of their settings.
    stages = {s: p for s, p in report.stages.items() if not p.sso}
    if sso_stages and not stages:
        report.topology, report.topology_source = "sso", "every stage signs in to Identity Center"
    report.findings += check_profiles(stages, context.profiles)
    source_findings = check_sources(stages, context.profiles, report.hints) if stages else []
    report.findings += source_findings
    if not source_findings:
        report.findings += check_chains(stages, context.profiles, context.credentials, context.config_path)
    if stages:
        declared = declared_topology or context.stages.topology
        report.topology = declared or topology.infer(stages)
        if declared:
            report.topology_source = "from --topology" if declared_topology else f"from {context.stages.path}"
        root = topology.root_account(stages, context.stages.root_account_id)
        report.findings += check_topology(report.topology, stages, root)
    report.findings += check_cache()
    signer = next((p for p in stages.values() if p.source_profile), None)
    if not offline and signer and not source_findings:
        report.findings += check_clock(signer, context)
    elif not offline and stages:
        report.findings.append(warning(
            "clock not checked against STS: no usable source keys to sign the call", "fix the source profile first"
        ))
    return report
