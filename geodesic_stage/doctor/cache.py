"""`doctor` on the credential cache: nobody but its owner may read it, and its owner must be able to write it."""

import os
from typing import List

from geodesic_stage.doctor.findings import Finding, error, warning
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
                f"sudo chown -R {files.me()} {aws} && chmod -R u+rwX {aws}",
            ))
            break
        try:
            mode = os.stat(directory).st_mode
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        exposed = [n for n in names if n.endswith(".json") and _open_to_others(os.path.join(directory, n))]
        # The AWS CLI v2 makes its own folders 0755; only what is in them is secret.
        listed_only = directory != cli_cache.session_cache_dir() and not mode & 0o022 and not exposed
        if mode & 0o077 and listed_only:
            findings.append(warning(
                f"others can list {directory} (mode {mode & 0o777:o}, as the AWS CLI v2 makes it): they see the "
                "file names, not the credentials (no file in it is open to others)",
                f"nothing needs doing; chmod 700 {directory} hides the names too",
            ))
        elif mode & 0o077:
            findings.append(error(
                f"{directory} is open to others (mode {mode & 0o777:o})", f"chmod 700 {directory}"
            ))
        if exposed:
            findings.append(error(
                f"{len(exposed)} cache file(s) in {directory} open to others ({', '.join(exposed[:3])}"
                f"{', ...' if len(exposed) > 3 else ''})",
                f"chmod 600 {directory}/*.json",
            ))
    return findings


def _open_to_others(path: str) -> bool:
    try:
        return bool(os.lstat(path).st_mode & 0o077)
    except OSError:
        return False
