"""Where an MFA code comes from, chosen once per command.

A code given with --mfa-token, the output of the profile's `mfa_process`,
or the terminal prompt; without any of them, exit 3 with what to do.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from geodesic_stage import log
from geodesic_stage.errors import AwsError, ConfigError, MfaRejected, MfaUnavailable
from geodesic_stage.lifetimes import MFA_PROCESS_SECONDS
from geodesic_stage.model import Profile
from geodesic_stage.record import Record

# Six ASCII digits; spaces or dashes between them, as authenticator apps show and copy them (123 456).
_CODE = r"[0-9](?:[ \t-]*[0-9]){5}\Z"  # compiled by re when first matched: a cached use has no code to check
PROMPT_ATTEMPTS = 3


class MfaSource(Record):
    """`code(serial, notice)` returns a 6-digit code; a rejected one is asked again up to `attempts` times."""

    code: Callable[[str, str | None], str]
    attempts: int
    can_ask: bool = True
    # A person at a terminal: an Identity Center sign-in can be shown to them.
    terminal: bool = False

    def with_code(self, serial: str, call: Callable[[str], object]):
        """`call(code)` with codes from this source; one AWS rejects is asked for again, `attempts` times in all."""
        notice = None
        for attempt in range(1, self.attempts + 1):
            code = self.code(serial, notice)
            try:
                return call(code)
            except MfaRejected:
                log.debug(f"MFA code rejected, attempt {attempt} of {self.attempts}")
                notice = f"AWS rejected that code ({attempt} of {self.attempts}); enter the next code your device shows."
        raise AwsError(
            f"AWS rejected the MFA code for {serial} ({self.attempts} tries); "
            "check that the device is the one in mfa_serial and that its clock is right"
        )


def valid_code(code: str) -> bool:
    return bool(re.match(_CODE, code.strip()))


def normalize_code(code: str) -> str:
    """The six digits of a valid code, without the spaces or dashes between them."""
    return "".join(c for c in code if c in "0123456789")


def choose(profile: Profile, token: str | None = None, interactive: bool = True) -> MfaSource:
    if token is not None:
        if not valid_code(token):
            raise ConfigError("--mfa-token takes the 6 digits your MFA device shows")
        code = normalize_code(token)
        return MfaSource(lambda serial, notice: code, attempts=1)
    if profile.mfa_process:
        return MfaSource(lambda serial, notice: _run_mfa_process(profile), attempts=1)
    if interactive and _has_terminal():
        return MfaSource(_prompt, attempts=PROMPT_ATTEMPTS, terminal=True)
    return never(profile)


def never(profile: Profile, advice: str = "") -> MfaSource:
    """A source that refuses: the command must not ask (refresh, credential-process) or cannot."""

    def refuse(serial, notice):
        raise MfaUnavailable(
            f"profile {profile.name!r} needs a new MFA code for {serial}; "
            + (advice or "pass --mfa-token CODE, set mfa_process in the profile, or run 'stage use' in a terminal")
        )

    return MfaSource(refuse, attempts=1, can_ask=False)


def _has_terminal() -> bool:
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


def _prompt(serial: str, notice: str | None) -> str:
    from geodesic_stage.auth import tty

    code = tty.ask(
        f"Enter MFA code for {serial}: ", MfaUnavailable,
        "cannot open the terminal to ask for the MFA code ({reason}); pass --mfa-token CODE",
        valid=valid_code, invalid="The code is the 6 digits your MFA device shows", notice=notice,
        name="the MFA prompt", nothing_entered="no MFA code entered",
    )
    return normalize_code(code)


def _run_mfa_process(profile: Profile) -> str:
    import subprocess  # here, not at the top: a cached use never runs a process

    where = f"mfa_process of profile {profile.name!r}"
    try:
        done = subprocess.run(
            profile.mfa_process, shell=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=MFA_PROCESS_SECONDS
        )
    except subprocess.TimeoutExpired:
        raise MfaUnavailable(f"{where} did not finish within {MFA_PROCESS_SECONDS} s")
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = f": {detail[-1][:200]}" if detail else ""
        raise MfaUnavailable(f"{where} failed with exit code {done.returncode}{reason}")
    code = done.stdout.decode("utf-8", "replace").strip()
    if not valid_code(code):
        raise MfaUnavailable(f"{where} printed something other than a 6-digit code")
    return normalize_code(code)
