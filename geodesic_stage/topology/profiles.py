"""The profiles each account topology calls for, and which topology profiles follow.

Pure functions: `init` renders what `profiles` returns, `doctor` checks a
config against `infer` when no stages file names the topology.
"""

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from geodesic_stage.config.edit import ROLE_PROFILE_KEYS
from geodesic_stage.config.stages_file import StageEntry
from geodesic_stage.errors import ConfigError
from geodesic_stage.model import Profile

ORGANIZATION_ROLE = "OrganizationAccountAccessRole"
ROOT_STAGE = "root"
ACCOUNT_ID = re.compile(r"\d{12}\Z")


@dataclass(frozen=True)
class StageInput:
    name: str
    account_id: Optional[str] = None
    role_arn: Optional[str] = None
    region: Optional[str] = None
    profile: Optional[str] = None

    @classmethod
    def of(cls, name: str, entry: StageEntry, account_id: Optional[str] = None) -> "StageInput":
        """The stages file's entry for `name`, with an account id given on the command line winning."""
        return cls(name, account_id or entry.account_id, entry.role_arn, entry.region, entry.profile)


@dataclass(frozen=True)
class Inputs:
    topology: str
    namespace: str
    role: str
    region: str
    root_account_id: str
    mfa_serial: str
    source_profile: str
    stages: Tuple[StageInput, ...]


def role_arn(account_id: str, role_name: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{role_name}"


def mfa_serial_of(account_id: str, user: str) -> str:
    return f"arn:aws:iam::{account_id}:mfa/{user}"


def profiles(inputs: Inputs) -> List[Profile]:
    """One profile per stage, the root stage first (added when not listed)."""
    _check_account(inputs.root_account_id, "the root account", "--root-account-id")
    stages = list(inputs.stages)
    if not any(s.name == ROOT_STAGE for s in stages):
        stages.insert(0, StageInput(ROOT_STAGE))
    _check_own_accounts(inputs, stages)
    return [
        Profile(
            name=stage.profile or f"{inputs.namespace}-{stage.name}-{inputs.role}",
            role_arn=_role_arn_of(inputs, stage),
            source_profile=inputs.source_profile,
            mfa_serial=inputs.mfa_serial,
            region=stage.region or inputs.region,
        )
        for stage in stages
    ]


def _role_arn_of(inputs: Inputs, stage: StageInput) -> str:
    root_role = role_arn(inputs.root_account_id, f"{inputs.namespace}-root-{inputs.role}")
    if inputs.topology == "single":
        if (stage.account_id and stage.account_id != inputs.root_account_id) or stage.role_arn:
            raise ConfigError(
                f"stage {stage.name!r} names its own account or role, but a single topology has one account "
                f"and one role; drop it (--stage {stage.name}) or use --topology accounts"
            )
        return root_role
    if stage.name == ROOT_STAGE:
        if stage.account_id and stage.account_id != inputs.root_account_id:
            raise ConfigError(
                f"stage root is in account {stage.account_id} but --root-account-id is {inputs.root_account_id}; "
                "make them the same"
            )
        return stage.role_arn or root_role
    if stage.role_arn:
        return stage.role_arn
    if not stage.account_id:
        raise ConfigError(
            f"stage {stage.name!r} has no account id; add --stage {stage.name}=ACCOUNT_ID "
            f"(or account_id under [stages] [[{stage.name}]] in the stages file)"
        )
    _check_account(stage.account_id, f"stage {stage.name!r}", f"--stage {stage.name}=ACCOUNT_ID")
    if inputs.topology == "organization":
        return role_arn(stage.account_id, ORGANIZATION_ROLE)
    return role_arn(stage.account_id, f"{inputs.namespace}-{stage.name}-{inputs.role}")


def _check_account(account_id: str, what: str, flag: str) -> None:
    if not ACCOUNT_ID.match(account_id or ""):
        raise ConfigError(f"{what}: {account_id!r} is not a 12-digit AWS account id; fix {flag}")


def _check_own_accounts(inputs: Inputs, stages: Sequence[StageInput]) -> None:
    """organization and accounts: every member stage is an account of its own."""
    if inputs.topology == "single":
        return
    owner = {inputs.root_account_id: ROOT_STAGE}
    for stage in stages:
        if stage.name == ROOT_STAGE or not stage.account_id:
            continue
        other = owner.setdefault(stage.account_id, stage.name)
        if other != stage.name:
            raise ConfigError(
                f"stages {other!r} and {stage.name!r} share account {stage.account_id}; in the {inputs.topology} "
                "topology each stage has an account of its own (one account for all is --topology single)"
            )


def render_profile(profile: Profile) -> str:
    values = {"region": profile.region, "role_arn": profile.role_arn, "mfa_serial": profile.mfa_serial,
              "source_profile": profile.source_profile}
    lines = [f"[profile {profile.name}]"] + [f"{key}={values[key]}" for key in ROLE_PROFILE_KEYS if values[key]]
    return "\n".join(lines) + "\n"


def render(profiles_: Sequence[Profile]) -> str:
    """The profiles as `init` writes them: one blank line between, as in the spec."""
    return "\n".join(render_profile(p) for p in profiles_)


def infer(stage_profiles: Dict[str, Profile]) -> str:
    """The topology these stages' profiles follow."""
    arns = {p.role_arn for p in stage_profiles.values()}
    if any(p.role_name == ORGANIZATION_ROLE for p in stage_profiles.values()):
        return "organization"
    if len(arns) <= 1:
        return "single"
    return "accounts"


def root_account(stage_profiles: Dict[str, Profile], declared: Optional[str] = None) -> Optional[str]:
    """The root account: declared in the stages file, else the root stage's, else the MFA device's."""
    if declared:
        return declared
    root = stage_profiles.get(ROOT_STAGE)
    if root and root.account_id:
        return root.account_id
    serials = {p.mfa_serial.split(":")[4] for p in stage_profiles.values() if p.mfa_serial and p.mfa_serial.count(":") >= 5}
    return serials.pop() if len(serials) == 1 else None
