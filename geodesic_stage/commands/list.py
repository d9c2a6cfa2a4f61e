import json
import os
import sys

from geodesic_stage import clock
from geodesic_stage.creds.obtain import entry_of
from geodesic_stage.context import stage_in_use
from geodesic_stage.errors import StageError

HELP = "list every stage: profile, account, role, region and cached minutes left"
EXAMPLE = "stage list --json"
COLUMNS = ("stage", "profile", "account", "role", "region", "left")


def _row(context, stage_name: str, now, sign_ins: dict) -> dict:
    try:
        stage = context.stage(stage_name)
        profile = stage.profile
    except StageError as e:
        return {"stage": stage_name, "profile": "", "account": "", "role": "", "region": "", "left": None, "error": e.message}
    entry = entry_of(stage)
    # Every minute left counts here: a list shows what the cache holds, not what `use` would serve.
    creds = entry.get(now, window=0) if entry else None
    row = {
        "stage": stage_name,
        "profile": profile.name,
        "account": profile.account_id,
        "role": profile.role_name,
        "region": profile.region or "",
        "left": clock.minutes_left(creds.expiration, now) if creds else None,
    }
    if profile.sso:
        # The Identity Center sign-in behind the role: None when signed out; read once for all its stages.
        from geodesic_stage.sso import token

        session = profile.sso.session
        if session not in sign_ins:
            sign_ins[session] = token.minutes_left(session, now)
        row["token_left"] = sign_ins[session]
    return row


def run(args, context):
    now = clock.now()
    current = stage_in_use()
    sign_ins = {}
    rows = [_row(context, name, now, sign_ins) for name in context.known_stages()]
    for row in rows:
        row["current"] = row["stage"] == current
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    if not rows:
        print("no stages found; write profiles with 'geodesic-stage init' or set NAMESPACE", file=sys.stderr)
        return 0
    table = [("", *(c.upper() for c in COLUMNS))]
    for row in rows:
        left = f"{row['left']} min" if row["left"] is not None else "-"
        if "token_left" in row:
            token = row["token_left"]
            left += " (signed out)" if token is None else f" (sign-in {token} min)" if token else " (sign-in expired)"
        table.append(("*" if row["current"] else "", row["stage"], row["profile"], row["account"], row["role"], row["region"], left))
    widths = [max(len(str(r[i])) for r in table) for i in range(len(table[0]))]
    paint = _painter()
    for r, row in zip(table, [None, *rows]):
        line = "  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip()
        sys.stdout.write(paint(line, row) + "\n")
    sys.stdout.flush()
    for row in rows:
        if "error" in row:
            print(f"geodesic-stage: {row['stage']}: {row['error']}", file=sys.stderr)
    return 0


def _painter():
    """Colour only for a person at a terminal who has not asked for none (https://no-color.org)."""
    if not sys.stdout.isatty() or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return lambda line, row: line

    def paint(line, row):
        if row is None:
            return f"\x1b[1m{line}\x1b[0m"
        if row["current"]:
            return f"\x1b[1;32m{line}\x1b[0m"
        if row["left"] is None:
            return f"\x1b[2m{line}\x1b[0m"
        return line

    return paint
