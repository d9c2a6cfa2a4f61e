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
                "that does not exist)" if os.path.isdir(path) else f"sudo chown {_me()} {path} && chmod 600 {path}",
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


def stage_chains(stages: Mapping[str, Profile], context) -> Tuple[Dict[str, chain.Chain], List[Finding]]:
    """Each stage's chain as `stage use` walks it, to the profile it takes credentials from: the
    walk is told the key store may hold any profile's keys, so it ends there whatever that profile
    holds (check_sources says whether it holds them). A chain that cannot be walked is a finding."""
    chains, findings = {}, []
    for stage, profile in stages.items():
        try:
            chains[stage] = chain.resolve(profile.name, context.profiles, context.credentials, context.config_path, lambda _: True)
        except ConfigError as e:
            findings.append(from_exception(e))
    return chains, _unique(findings)


def check_profiles(stages: Mapping[str, Profile], config_profiles: Mapping[str, dict], chains: Mapping[str, chain.Chain]) -> List[Finding]:
    findings = []
    for stage, profile in stages.items():
        where = f"profile {profile.name}"
        if not re.match(chain.ROLE_ARN, profile.role_arn):
            findings.append(error(
                f"{where}: role_arn {profile.role_arn!r} is not an IAM role ARN",
                "set role_arn=arn:aws:iam::ACCOUNT_ID:role/ROLE_NAME",
            ))
        links = chains.get(stage)
        if not profile.mfa_serial:
            # A device guards an IAM user's long-term keys: a chain from a sign-in (Identity Center) needs none.
            if links and links.source.may_be_long_term and not any(link.mfa_serial for link in links.roles):
                findings.append(error(f"{where} has no mfa_serial", "add mfa_serial=arn:aws:iam::ROOT_ACCOUNT_ID:mfa/USER"))
        elif not re.match(chain.MFA_SERIAL, profile.mfa_serial):
            findings.append(error(
                f"{where}: mfa_serial {profile.mfa_serial!r} is not an MFA device",
                "set mfa_serial=arn:aws:iam::ROOT_ACCOUNT_ID:mfa/USER (or a hardware token's serial number)",
            ))
        if not profile.source_profile and not config_profiles.get(profile.name, {}).get("credential_source"):
            findings.append(error(f"{where} has no source_profile", "add source_profile=NAME of your long-lived keys"))
        if not profile.region:
            findings.append(warning(f"{where} has no region", "add region=REGION (e.g. us-west-2) to the profile"))
    return findings


def check_sources(chains: Mapping[str, chain.Chain], profiles: Mapping[str, dict], hints: Optional[List[str]] = None) -> List[Finding]:
    """The profile each chain takes keys from (its root, as `stage use` finds it) holds them, in
    the key store or the files; the keys themselves are never printed. A root that signs in or runs a
    process is asked when used. Advice that is no finding goes to `hints`."""
    hints = [] if hints is None else hints
    path = awsconfig.credentials_path()
    findings = []
    stored = keystore.read_index() or {}
    roots = {links.source.profile: links.source for links in chains.values() if links.source.kind == chain.STATIC}
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
        if root.file != chain.KEY_STORE:
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
    return _unique(findings)


def _unique(findings: List[Finding]) -> List[Finding]:
    """The findings in order, each once (stages that share a link share its findings)."""
    return list(dict.fromkeys(findings))


def check_topology(name: str, stages: Mapping[str, Profile], root_account: Optional[str]) -> List[Finding]:
    well_formed = {s: p for s, p in stages.items() if re.match(chain.ROLE_ARN, p.role_arn)}
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
        # A virtual device's ARN names its account; a hardware token's serial number does not.
        if root_account and profile.mfa_serial and profile.mfa_serial.startswith("arn:") and profile.mfa_serial.count(":") >= 5:
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
        exposed = [n for n in names if n.endswith(".json") and _open_to_others(os.path.join(directory, n))]
        # The AWS CLI v2 makes its own folders 0755; only what is in them is secret.
        listed_only = directory != cache.session_cache_dir() and not mode & 0o022 and not exposed
        if mode & 0o077 and listed_only:
            findings.append(warning(
                f"others can list {directory} (mode {mode & 0o777:o}, as the AWS CLI v2 makes it): they see the "
                "file names, not the credentials (no file in it is open to others)",
                f"nothing needs doing; chmod 700 {directory} hides the names too",
            ))
        elif mode & 0o077:
            findings.append(error(
                f"{directory} is open to others (mode {mode & 0o777:o})", f"chmod 700 {directory}"
            ))
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


def examine(context, environ: Mapping[str, str], declared_topology: Optional[str] = None, offline: bool = False) -> Report:
    from geodesic_stage import sso_doctor

    report = Report(findings=check_files(context.config_path, environ))
    if os.path.exists(context.config_path):
        try:
            report.stages, findings = find_stages(context, environ)
            report.findings += findings
            report.findings += sso_doctor.check_mixed(context.profiles)
        except StageError as e:
            report.findings.append(from_exception(e))
    sso_stages = {s: p for s, p in report.stages.items() if p.sso}
    if sso_stages:
        notes, findings = sso_doctor.check(sso_stages, offline)
        report.notes += notes
        report.findings += findings
    # The checks below are for role profiles; an Identity Center stage has none of their settings.
    stages = {s: p for s, p in report.stages.items() if not p.sso}
    if sso_stages and not stages:
        report.topology, report.topology_source = "sso", "every stage signs in to Identity Center"
    chains, source_findings = stage_chains(stages, context)
    report.findings += check_profiles(stages, context.profiles, chains)
    source_findings += check_sources(chains, context.profiles, report.hints)
    report.findings += source_findings
    if not source_findings:
        report.findings += check_chains(stages, context.profiles, context.credentials, context.config_path)
    declared = declared_topology or context.stages.topology
    # The three topologies assume each stage's role straight from the user's keys. Through an identity
    # account's role, the users and their MFA devices live in that account: the chains say it all.
    via = sorted({link.profile for links in chains.values() for link in links.roles[:-1]})
    if via and not declared:
        report.topology, report.topology_source = "chained", f"through {', '.join(via)}; checked link by link"
    elif stages:
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
