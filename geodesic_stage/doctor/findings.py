"""What `doctor` finds: one line each, with the fix; an error makes it exit 1."""

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from geodesic_stage.errors import StageError
from geodesic_stage.model import Profile


@dataclass(frozen=True)
class Finding:
    level: str  # "error" or "warning"
    message: str
    fix: str

    def line(self) -> str:
        return f"{self.level}: {self.message}; fix: {self.fix}"


def error(message: str, fix: str) -> Finding:
    return Finding("error", message, fix)


def warning(message: str, fix: str) -> Finding:
    return Finding("warning", message, fix)


def from_exception(e: StageError) -> Finding:
    """Our messages read "what went wrong; what to do": the second half is the fix."""
    message, _, fix = e.message.partition("; ")
    return error(message, fix or "see the message above")


@dataclass
class Report:
    findings: List[Finding] = field(default_factory=list)
    # Facts worth a line though nothing is wrong (each Identity Center sign-in and its state).
    notes: List[str] = field(default_factory=list)
    stages: Dict[str, Profile] = field(default_factory=dict)
    topology: Optional[str] = None
    topology_source: str = "inferred from the profiles"
    hints: List[str] = field(default_factory=list)  # advice, not problems: shown on stderr

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.level == "error")


def unique(findings: List[Finding]) -> List[Finding]:
    """The findings in order, each once (stages that share a link share its findings)."""
    return list(dict.fromkeys(findings))
