"""Errors a user can cause, each with the exit code the spec gives it.

The command-line entry point turns them into one line on stderr and the code;
anything else is a bug and keeps its traceback.
"""


class StageError(Exception):
    exit_code = 2

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ConfigError(StageError):
    """Usage or configuration error: exit 2."""

    exit_code = 2


class AwsError(StageError):
    """AWS refused or could not be reached: exit 1."""

    exit_code = 1


class MfaRejected(AwsError):
    """STS refused the MFA code itself; the code may be asked for again."""


class MfaUnavailable(StageError):
    """An MFA code is needed and there is no way to ask for one: exit 3."""

    exit_code = 3


class LockTimeout(StageError):
    """Another shell has held a lock for too long (an MFA prompt, a sign-in, the key store): exit 3,
    as for MFA, since only the person at that other shell can finish what holds it."""

    exit_code = 3


class Interrupted(StageError):
    """The user pressed Ctrl-C."""

    exit_code = 130


class PassphraseUnavailable(StageError):
    """The key store's passphrase is needed and there is no way to ask for it: exit 3, as for MFA."""

    exit_code = 3
