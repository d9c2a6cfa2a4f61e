import json
import os
import shlex
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

from geodesic_stage import credentials, mfa
from geodesic_stage.errors import AwsError, ConfigError
from geodesic_stage.model import Credentials

HELP = "print (or --open) an AWS console sign-in URL for the current or given stage's credentials"
EXAMPLE = "stage console testing --open"
FEDERATION_URL = "https://signin.aws.amazon.com/federation"
CONSOLE_URL = "https://console.aws.amazon.com/"


def add_arguments(parser):
    parser.add_argument("stage", nargs="?", help="default: the stage this shell holds")
    parser.add_argument("--open", action="store_true", help="open the URL with $BROWSER instead of printing it")


def run(args, context):
    if args.stage:
        stage = context.stage(args.stage)
        creds = credentials.obtain(stage, context.settings(args), mfa.choose(stage.profile, args.mfa_token)).credentials
    else:
        creds = _from_environment()
    url = sign_in_url(creds, os.environ.get("GEODESIC_STAGE_FEDERATION_URL") or FEDERATION_URL)
    browser = os.environ.get("BROWSER")
    if args.open and browser:
        subprocess.Popen([*shlex.split(browser), url], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return 0
    if args.open:
        print("geodesic-stage: BROWSER is not set; open this URL yourself:", file=sys.stderr)
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
