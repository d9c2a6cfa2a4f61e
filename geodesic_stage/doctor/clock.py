"""`doctor` on the clock: STS's Date header says how far this one is off (AWS rejects signatures 5 minutes off)."""

from typing import List

from geodesic_stage import clock, model
from geodesic_stage.config import awsconfig, chain
from geodesic_stage.doctor.findings import Finding, error, from_exception, warning
from geodesic_stage.errors import AwsError, ConfigError
from geodesic_stage.keys import store as keystore
from geodesic_stage.lifetimes import MAX_CLOCK_SKEW_SECONDS
from geodesic_stage.model import Credentials, Profile


def check_clock(profile: Profile, context) -> List[Finding]:
    """Signatures fail when the clock is off by more than 5 minutes; STS's Date header says by how much.
    Signed with the stage's source keys, when its chain starts from static keys."""
    from geodesic_stage.aws import sts
    from geodesic_stage.creds import sources

    try:
        links = chain.chain_of(profile.name, context.profiles, context.credentials, context.config_path, keystore.holds)
        if links.source.kind != model.STATIC:
            return [warning(
                f"clock not checked against STS: profile {profile.name} starts from {links.source.kind}, not keys",
                "run 'aws sts get-caller-identity' to see that AWS accepts this clock",
            )]
        listed = (keystore.read_index() or {}).get(links.source.profile)
        if listed:
            # STS dates its refusals too: the clock is checked without opening the store for the secret.
            keys = Credentials(str(listed[0].get("aws_access_key_id")), "-", "", None)
        elif links.source.file == model.KEY_STORE:
            return [warning(
                f"clock not checked against STS: {keystore.index_path()} does not list {links.source.profile!r}",
                "run 'geodesic-stage keys list' (it rebuilds the index)",
            )]
        else:
            keys = sources.obtain(links.source, profile.region or sts.DEFAULT_REGION)
        before = clock.now()
        date, refused = sts.server_date(profile, keys)
        refused = None if listed else refused
    except AwsError as e:
        return [error(e.message.partition("; ")[0], "check the network or AWS_ENDPOINT_URL_STS, or pass --offline")]
    except ConfigError as e:
        return [from_exception(e)]
    local = before + (clock.now() - before) / 2
    # The Date header is cut to the second: its midpoint is the best guess of STS's time.
    skew = (date - local).total_seconds() + 0.5
    if abs(skew) > MAX_CLOCK_SKEW_SECONDS:
        direction = "behind" if skew > 0 else "ahead of"
        minutes, seconds = divmod(round(abs(skew)), 60)
        return [error(
            f"this clock is {minutes} min {seconds} s {direction} STS "
            "(AWS rejects signatures more than 5 minutes off)",
            "sync the clock (timedatectl set-ntp true; on a laptop, restart Docker Desktop)",
        )]
    if refused:
        return [error(
            f"STS refused the keys of source profile {links.source.profile!r} ({refused})",
            f"check or rotate the keys under [{links.source.profile}] in {awsconfig.credentials_path()}",
        )]
    return []
