"""`doctor` on the topology: the stages' roles and accounts are what organization, accounts or single calls for."""

import re
from collections import Counter
from typing import List, Mapping, Optional

from geodesic_stage.config import limits
from geodesic_stage.doctor.findings import Finding, error
from geodesic_stage.model import Profile
from geodesic_stage.topology import profiles as topology


def check_topology(name: str, stages: Mapping[str, Profile], root_account: Optional[str]) -> List[Finding]:
    well_formed = {s: p for s, p in stages.items() if re.match(limits.ROLE_ARN, p.role_arn)}
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
