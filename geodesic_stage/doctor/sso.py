"""`doctor`'s Identity Center checks: each sign-in's start URL, region and token state; online,
whether each stage's account and permission set are among what the token can see; profiles
that mix sso_* settings with role_arn."""

from typing import Dict, List, Mapping, Tuple

from geodesic_stage import clock
from geodesic_stage.config.sso import describe, is_sso
from geodesic_stage.doctor.findings import error, from_exception, warning
from geodesic_stage.errors import AwsError, StageError
from geodesic_stage.model import Profile, SsoSession
from geodesic_stage.sso import token


def check_mixed(profiles: Mapping[str, Mapping[str, str]]) -> list:
    return [
        warning(
            f"profile {name} has role_arn and {', '.join(k for k in ('sso_account_id', 'sso_role_name') if k in section)}; "
            "the AWS CLI assumes role_arn and ignores the sso_ settings",
            "move the sso_ settings into a profile of their own and name it in source_profile",
        )
        for name, section in sorted(profiles.items())
        if "role_arn" in section and is_sso(section)
    ]


def check(stages: Mapping[str, Profile], offline: bool, max_time: float) -> Tuple[List[str], list]:
    """Notes and findings of each sign-in; online, its permission sets are checked for `max_time` seconds at most."""
    now = clock.now()
    notes, findings = [], []
    by_session: Dict[SsoSession, List[Profile]] = {}
    for profile in stages.values():
        by_session.setdefault(profile.sso.session, []).append(profile)
    first_stage = {p.sso.session: s for s, p in sorted(stages.items(), reverse=True)}
    for session, profiles in by_session.items():
        state = token.state(session, now)
        where, _, detail = token.describe_sign_in(session, now).partition(": ")
        notes.append(f"identity center: {where} at {session.start_url} in {session.region}: {detail}")
        if state == "signed out":
            findings.append(warning(
                f"not signed in to Identity Center ({describe(session)})",
                f"run 'stage use {first_stage[session]}' in a terminal to sign in",
            ))
        elif not offline:
            findings += _assignments(session, profiles, max_time)
    return notes, findings


def _assignments(session: SsoSession, profiles: List[Profile], max_time: float) -> list:
    """Each profile's account and permission set, against what the token can see (one ListAccountRoles an account)."""
    from geodesic_stage.aws import sso_api
    from geodesic_stage.progress import StatusLine

    patience = sso_api.Patience(max_time)
    try:
        live = token.access_token(session, False, "sign in first")
        accounts = {a["accountId"]: a.get("accountName", "") for a in sso_api.accounts(session.region, live, patience)}
        findings, roles_of = [], {}
        with StatusLine() as line:
            for checked, profile in enumerate(profiles):
                role = profile.sso
                if role.account_id not in accounts:
                    findings.append(error(
                        f"profile {profile.name}: account {role.account_id} is not among the {len(accounts)} accounts your sign-in sees",
                        "fix sso_account_id, or ask your Identity Center administrator for an assignment",
                    ))
                    continue
                if role.account_id not in roles_of:
                    line.show(f"Identity Center: checking permission sets: {checked:,} of {len(profiles):,} profiles")
                    try:
                        roles_of[role.account_id] = sorted(
                            r["roleName"] for r in sso_api.account_roles(session.region, live, role.account_id, patience))
                    except sso_api.OutOfTime:
                        findings.append(warning(
                            f"checked the permission sets of {checked:,} of {len(profiles):,} profiles of {describe(session)} "
                            f"in {max_time:g} s (--max-time); the rest are not checked",
                            "give doctor a longer --max-time, or compare them all with 'geodesic-stage init --topology sso --dry-run'",
                        ))
                        break
                roles = roles_of[role.account_id]
                if role.role_name not in roles:
                    findings.append(error(
                        f"profile {profile.name}: permission set {role.role_name} is not yours in account {role.account_id} "
                        f"({accounts[role.account_id]}); yours there: {', '.join(roles) or 'none'}",
                        "set sso_role_name to one of them, or ask your Identity Center administrator",
                    ))
        return findings
    except sso_api.OutOfTime:
        return [warning(
            f"the Identity Center portal did not list the accounts of {describe(session)} within {max_time:g} s (--max-time); "
            "permission sets not checked", "run doctor again later, or with a longer --max-time",
        )]
    except (AwsError, StageError) as e:
        return [from_exception(e)]
