"""`doctor` on the credential cache: nobody but its owner may read it, and its owner must be able to write it."""

import os
from typing import List

from geodesic_stage.doctor.findings import Finding, error
from geodesic_stage.store import cli_cache, files


def check_cache() -> List[Finding]:
    """Cached credentials are secrets: nobody but the owner may read them. A cache the user
    cannot write (a root-owned one after `sudo -E`) shares no session and saves no code."""
    findings = []
    aws = os.path.dirname(os.path.dirname(cli_cache.cli_cache_dir()))
    for directory in (cli_cache.cli_cache_dir(), cli_cache.session_cache_dir(), cli_cache.token_dir()):
        problem = files.unwritable(directory)
        if problem:
            findings.append(error(
                f"cannot write the credential cache: {problem}",
                f"sudo chown -R {_me()} {aws} && chmod -R u+rwX {aws}",
            ))
            break
        try:
            mode = os.stat(directory).st_mode
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        if mode & 0o077:
            findings.append(error(
                f"{directory} is open to others (mode {mode & 0o777:o})", f"chmod 700 {directory}"
            ))
        exposed = [n for n in names if n.endswith(".json") and _open_to_others(os.path.join(directory, n))]
        if exposed:
            findings.append(error(
                f"{len(exposed)} cache file(s) in {directory} open to others ({', '.join(exposed[:3])}"
                f"{', ...' if len(exposed) > 3 else ''})",
                f"chmod 600 {directory}/*.json",
            ))
    return findings


def _me() -> str:
    """The user's login name for a chown command (a uid where there is none)."""
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def _open_to_others(path: str) -> bool:
    try:
        return bool(os.lstat(path).st_mode & 0o077)
    except OSError:
        return False
