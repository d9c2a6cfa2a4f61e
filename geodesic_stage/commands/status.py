import os
import sys

from geodesic_stage import clock
from geodesic_stage.context import served_profile, stage_in_use
from geodesic_stage.errors import StageError

HELP = "show the stage this shell holds: profile, account, role, minutes left (no network unless --verify)"
EXAMPLE = "stage status --verify"


def _left(variable: str, now) -> str:
    value = os.environ.get(variable)
    if not value:
        return "unknown"
    try:
        expiration = clock.parse_timestamp(value)
    except ValueError:
        return f"unreadable ({variable})"
    if expiration <= now:
        return f"{clock.rfc3339(expiration)} (expired)"
    return f"{clock.rfc3339(expiration)} ({clock.minutes_left(expiration, now)} min left)"


def run(args, context):
    stage_name = stage_in_use()
    if not stage_name:
        stages = ", ".join(_known(context)) or "none found"
        print(f"no stage in use; run 'stage use STAGE' (stages: {stages})")
        return 0
    try:
        stage = context.current_stage()
        profile = stage.profile
        account, role = profile.account_id, profile.role_name
    except StageError:
        profile, account, role = None, "?", "?"
    now = clock.now()
    rows = [
        ("stage", stage_name),
        ("profile", served_profile() or os.environ.get("AWS_PROFILE", "")),
        ("account", account),
        ("role", role),
        ("region", os.environ.get("AWS_REGION", "")),
        ("expires", _left("AWS_CREDENTIAL_EXPIRATION", now)),
        ("session", _left("AWS_SESSION_EXPIRATION", now)),
    ]
    if profile is not None and profile.sso:
        from geodesic_stage.sso import token

        # The sign-in, not an MFA session, is what renews an Identity Center stage.
        rows[-1] = ("sign-in", token.describe_sign_in(profile.sso.session, now))
    if served_profile():
        # Where the shell's SDKs and CLIs get these credentials, renewed as they ask.
        rows.append(("served", os.environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI", "")))
    if args.verify and profile is not None:
        rows.append(("identity", _verify(profile)))
    sys.stdout.write("".join(f"{k:<9}{v}\n" for k, v in rows))
    return 0


def _known(context):
    try:
        return list(context.known_stages())
    except StageError:
        return []


def _verify(profile) -> str:
    from geodesic_stage.aws import sts
    from geodesic_stage.model import Credentials

    if served_profile():
        from geodesic_stage.serve import endpoint

        return sts.caller_identity(profile, endpoint.served_credentials()).get("Arn") or "?"
    creds = Credentials(
        os.environ["AWS_ACCESS_KEY_ID"],
        os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
        os.environ.get("AWS_SESSION_TOKEN", ""),
        clock.now(),
    )
    return sts.caller_identity(profile, creds).get("Arn") or "?"
