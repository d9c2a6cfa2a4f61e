import json
import os
import urllib.error
import urllib.parse
import urllib.request

from geodesic_stage import log
from geodesic_stage.auth import browser, mfa
from geodesic_stage.creds.obtain import obtain
from geodesic_stage.errors import AwsError, ConfigError
from geodesic_stage.model import Credentials

HELP = "print (or --open) an AWS console sign-in URL for the current or given stage's credentials"
EXAMPLE = "stage console testing --open"
FEDERATION_URL = "https://signin.aws.amazon.com/federation"
CONSOLE_URL = "https://console.aws.amazon.com/"


def run(args, context):
    if args.stage:
        stage = context.stage(args.stage)
        creds = obtain(stage, context.settings(args), mfa.choose(stage.profile, args.mfa_token)).credentials
    else:
        creds = _from_environment()
    url = sign_in_url(creds, os.environ.get("GEODESIC_STAGE_FEDERATION_URL") or FEDERATION_URL)
    if args.open:
        why = browser.open_url(url)
        if why is None:
            return 0
        log.say(f"{why}; open this URL yourself:")
    print(url)
    return 0


def _from_environment() -> Credentials:
    from geodesic_stage import clock
    from geodesic_stage.context import served_profile, stage_in_use

    stage = stage_in_use()
    if not stage:
        raise ConfigError("no stage in use in this shell; run 'stage use STAGE' or name one: stage console STAGE")
    if served_profile():
        from geodesic_stage.serve import endpoint

        return endpoint.served_credentials()
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    missing = [n for n in names if not os.environ.get(n)]
    if missing:
        raise ConfigError(f"this shell holds {stage} without {', '.join(missing)}; run 'stage use {stage}' again")
    return Credentials(*(os.environ[n] for n in names), clock.now())


def sign_in_url(creds: Credentials, federation: str) -> str:
    """Trade the session for a sign-in token at the federation endpoint, then build the login URL."""
    session = json.dumps(
        {"sessionId": creds.access_key_id, "sessionKey": creds.secret_access_key, "sessionToken": creds.session_token}
    )
    query = urllib.parse.urlencode({"Action": "getSigninToken", "Session": session})
    try:
        with urllib.request.urlopen(f"{federation}?{query}", timeout=10) as response:
            token = json.load(response)["SigninToken"]
    except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError) as e:
        reason = getattr(e, "reason", None) or getattr(e, "code", None) or type(e).__name__
        raise AwsError(f"the federation endpoint {federation} gave no sign-in token ({reason})")
    login = urllib.parse.urlencode(
        {"Action": "login", "Issuer": "geodesic-stage", "Destination": CONSOLE_URL, "SigninToken": token}
    )
    return f"{federation}?{login}"
