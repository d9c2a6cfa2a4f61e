import json
import sys

from geodesic_stage import clock
from geodesic_stage.creds.obtain import obtain
from geodesic_stage.auth import mfa

HELP = "print credential_process JSON for STAGE from the cached MFA session; never asks for a code"
EXAMPLE = """geodesic-stage credential-process testing
  in ~/.aws/config:  credential_process = geodesic-stage credential-process testing"""


def run(args, context):
    stage = context.stage(args.stage)
    advice = f"run 'stage use {stage.name}' in a terminal first"
    session = obtain(stage, context.settings(args), mfa.never(stage.profile, advice))
    creds = session.credentials
    document = {
        "Version": 1,
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key,
        "SessionToken": creds.session_token,
        "Expiration": clock.rfc3339(creds.expiration),
    }
    sys.stdout.write(json.dumps(document) + "\n")
    return 0
