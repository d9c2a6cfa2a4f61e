"""docker-credential-geodesic-stage: docker's credential helper for the stage this shell holds.

`get` reads a registry from stdin and prints {"ServerURL", "Username": "AWS", "Secret"} for it,
signed with the stage's own role (never other keys in the environment, never a prompt); `list`
prints the stage's registries; `store` and `erase` are refused: there is nothing to keep. Errors go
to stdout, where docker looks for them; a registry that is not the stage's is "not found", which
docker takes as a pull without credentials.
"""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace

from geodesic_stage import log
from geodesic_stage.errors import StageError

NOT_FOUND = "credentials not found in native keychain"  # the text docker takes as "no credentials here"
USAGE = "usage: docker-credential-geodesic-stage get|list|store|erase (docker runs it; see 'stage use')"


def main(argv=None) -> int:
    words = sys.argv[1:] if argv is None else argv
    verb = words[0] if len(words) == 1 else ""
    from geodesic_stage.auth import passphrase

    passphrase.take_from_environment()  # as the command line does: no process we start sees it
    log.hide_warnings()
    try:
        if verb == "get":
            return _get(sys.stdin.read())
        if verb == "list":
            return _list()
        if verb in ("store", "erase"):
            sys.stdin.read()
            print("geodesic-stage: ECR credentials come from the stage's role when docker asks; "
                  f"nothing to {verb} (inside a stage, 'docker login' and 'docker logout' are not needed for ECR)")
            return 1
        log.say(USAGE)
        return 2
    except StageError as e:
        print(f"geodesic-stage: {e.message}")
        return e.exit_code
    except KeyboardInterrupt:
        return 130


def _stage():
    from geodesic_stage.context import Context

    context = Context.from_args(SimpleNamespace())
    return context, context.current_stage()


def _registries(context, stage):
    from geodesic_stage.ecr import registries

    return registries.of_stage(stage.name, context.stages, stage.profile.account_id, stage.profile.region)


def _get(server: str) -> int:
    from geodesic_stage import clock
    from geodesic_stage.auth import mfa
    from geodesic_stage.creds.obtain import identity, obtain
    from geodesic_stage.ecr import auth, registries

    server = server.strip()
    wanted = registries.parse_host(server)
    context, stage = _stage()
    if stage is None:
        return _not_found("no stage in use in this shell; run 'stage use STAGE' first")
    known = _registries(context, stage)
    if wanted not in known:
        hosts = ", ".join(r.host for r in known) or "none"
        where = context.stages.path or "the stages file"
        return _not_found(
            f"{server or 'an empty server name'} is not an ECR registry of stage {stage.name} (its registries: {hosts}); "
            f"to use it, add its account to ecr_registries under [[{stage.name}]] in {where}, then run 'stage use {stage.name}'"
        )
    whose = identity(stage)
    now = clock.now()
    password = auth.cached(whose, wanted, now)
    if password is None:
        advice = f"run 'stage use {stage.name}'"
        session = obtain(stage, context.settings(SimpleNamespace()), mfa.never(stage.profile, advice))
        password = auth.new(stage.profile, session.credentials, wanted, now)
        auth.keep(whose, wanted, password)
    print(json.dumps({"ServerURL": server, "Username": "AWS", "Secret": password.value}))
    return 0


def _not_found(why: str) -> int:
    log.say(why)
    print(NOT_FOUND)
    return 1


def _list() -> int:
    context, stage = _stage()
    found = _registries(context, stage) if stage is not None else ()
    print(json.dumps({f"https://{r.host}": "AWS" for r in found}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
