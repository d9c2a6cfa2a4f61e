"""`doctor` on chains: each stage's chain resolves as `stage use` resolves it, and STS would take its settings."""

from typing import List, Mapping

from geodesic_stage import model
from geodesic_stage.config import chain
from geodesic_stage.doctor.findings import Finding, from_exception, unique, warning
from geodesic_stage.errors import ConfigError
from geodesic_stage.keys import store as keystore
from geodesic_stage.model import Profile


def check_chains(stages: Mapping[str, Profile], config_profiles: Mapping[str, dict], credentials: Mapping[str, dict], where: str) -> List[Finding]:
    """Each stage's chain resolves and STS would take its settings; a chain whose MFA code
    cannot buy an MFA session (temporary source keys) is said to go direct."""
    findings = []
    for profile in stages.values():
        try:
            links = chain.chain_of(profile.name, config_profiles, credentials, where, keystore.holds)
            chain.check(links)
        except ConfigError as e:
            findings.append(from_exception(e))
            continue
        if links.roles and links.roles[0].mfa_serial and links.source.kind == model.STATIC and links.source.temporary:
            findings.append(warning(
                f"profile {profile.name} starts from temporary keys in [{links.source.profile}] (aws_session_token): "
                "AWS takes GetSessionToken only from an IAM user's long-term keys, so its MFA code goes straight into "
                f"AssumeRole (direct mode) and role sessions from it last at most an hour",
                f"nothing to do; for one code across stages give [{links.source.profile}] an IAM user's access keys",
            ))
    return unique(findings)
