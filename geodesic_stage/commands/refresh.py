import os
import signal
import sys

from geodesic_stage import render
from geodesic_stage.auth import mfa
from geodesic_stage.context import served_profile, stage_in_use, used_with
from geodesic_stage.creds.obtain import obtain
from geodesic_stage.lifetimes import PROMPT_RENEW_TIMEOUT
from geodesic_stage.errors import AwsError, ConfigError

HELP = "renew the current stage's credentials from the cached MFA session, as it was used (region, role, duration); never asks for a code"
EXAMPLE = "stage refresh"


class _OutOfTime(BaseException):
    """Raised by the alarm; a BaseException so that no library's `except Exception` swallows it."""


def _out_of_time(signum, frame):
    raise _OutOfTime()


def run(args, context):
    if stage_in_use() is None:
        raise ConfigError("no stage in use in this shell (STAGE and its keys are not set); run 'stage use STAGE'")
    chosen = context.as_used(args)
    stage = context.current_stage()
    again = " ".join(filter(None, (stage.name, used_with(chosen))))
    # --direct puts every code into AssumeRole: there is no MFA session to renew from.
    advice = f"{'' if chosen.direct else 'the MFA session has expired: '}run 'stage use {again}'"
    if args.bounded:
        signal.signal(signal.SIGALRM, _out_of_time)
        # Part of the bound went on starting up; the alarm gets what is left of it.
        signal.setitimer(signal.ITIMER_REAL, max(PROMPT_RENEW_TIMEOUT - _running_for(), 0.5))
    try:
        session = obtain(stage, context.settings(chosen), mfa.never(stage.profile, advice))
    except _OutOfTime:
        raise AwsError(
            f"no answer from STS within {PROMPT_RENEW_TIMEOUT} s; {stage.name} keeps its credentials "
            "and the prompt tries again in a minute ('stage refresh' waits longer)"
        )
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    if served_profile():
        # The shell's endpoint serves the renewed credentials from the cache already; the block carries
        # the new expirations to the label (and starts the endpoint again if it was killed).
        from geodesic_stage.serve import shells, target

        served = target.of(stage.name, stage.profile.name, context.request.region, context.settings(chosen))
        sys.stdout.write(render.render_endpoint_exports(session, *shells.serve(served, replace=False), used_with(chosen)))
        return 0
    sys.stdout.write(render.render_exports(session, used_with(chosen)))
    return 0


def _running_for() -> float:
    """Seconds since this process started, from /proc where there is one."""
    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return max(uptime - ticks / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError):
        return 0.0
