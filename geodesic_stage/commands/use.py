import sys

from geodesic_stage import credentials, mfa, shell

HELP = "assume STAGE's role (asking for an MFA code if needed) and print the export block"
EXAMPLE = "stage use testing      (the function evals: geodesic-stage use testing)"


def add_arguments(parser):
    parser.add_argument("stage")
    parser.add_argument("--no-prompt", action="store_true", help="use cached sessions only; exit 3 if a code is needed")


def run(args, context):
    stage = context.stage(args.stage)
    source = mfa.choose(stage.profile, token=args.mfa_token, interactive=not args.no_prompt)
    session = credentials.obtain(stage, context.settings(args), source)
    sys.stdout.write(shell.render_exports(session))
    return 0
