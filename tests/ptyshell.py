"""A real bash in a pseudo-terminal with stage.sh sourced, driven as a person would."""

import re
from pathlib import Path

import pexpect

ROOT = Path(__file__).resolve().parent.parent
STAGE_SH = ROOT / "rootfs" / "etc" / "profile.d" / "stage.sh"
PS1 = "PROMPT$ "
# What prompt_toolkit and bash draw around the text: colour, cursor moves, modes.
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r")
MFA_PROMPT = "Enter MFA code for arn:aws:iam::323330167063:mfa/admin@cloudposse.co:"


def plain(text: str) -> str:
    return _ESCAPES.sub("", text)


class Shell:
    """`bash -i` (or `bash -l -i`) on a pty; `PROMPT$ ` ends every prompt line.
    `options` go to bash first, e.g. ["--posix"]."""

    def __init__(self, env: dict, login: bool = False, source: bool = True, timeout: float = 30, options=()):
        env = dict(env, PS1=PS1, TERM="xterm")
        args = [*options, *(["-l", "-i"] if login else ["--noprofile", "--norc", "-i"])]
        self.child = pexpect.spawn("bash", args, env=env, encoding="utf-8", timeout=timeout, dimensions=(40, 200))
        self.transcript = []
        if not login:
            self.prompt()
            if source:
                self.run(f"source {STAGE_SH}")

    def expect(self, pattern, timeout=None) -> str:
        """Wait for a regex in the escape-free output; returns everything before it."""
        # pexpect waits forever on None; -1 is its own default (the Shell's timeout).
        self.child.expect(pattern, timeout=-1 if timeout is None else timeout)
        seen = plain(self.child.before or "")
        self.transcript.append(seen + plain(self.child.after if isinstance(self.child.after, str) else ""))
        return seen

    def prompt(self, timeout=None) -> str:
        """Wait for the next prompt; returns its whole line (the stage label included)."""
        self.expect(re.escape(PS1), timeout)
        return self.last_prompt_line()

    def last_prompt_line(self) -> str:
        line = self.transcript[-1].rsplit("\n", 1)[-1]
        return line

    def run(self, command: str, timeout=None) -> str:
        """Type a command, wait for the next prompt, return what it printed."""
        self.child.sendline(command)
        output = self.expect(re.escape(PS1), timeout)
        lines = output.split("\n")
        return "\n".join(lines[1:-1]) if len(lines) > 1 else ""

    def send(self, text: str) -> None:
        self.child.send(text)

    def answer_mfa(self, code: str, timeout=None) -> None:
        self.expect(re.escape(MFA_PROMPT), timeout)
        self.child.send(code + "\r")

    def close(self) -> None:
        if self.child.isalive():
            self.child.sendline("exit")
            try:
                self.child.expect(pexpect.EOF, timeout=5)
            except pexpect.TIMEOUT:
                pass
        self.child.close(force=True)
