"""An AWS CLI v1 plugin that caches SSO role credentials in ~/.aws/cli/cache, as the AWS CLI v2
does (its awscli/customizations/sso hands the SSO provider that JSONFileCache). PyPI has only v1;
with this plugin it reads and writes the cache entries v2 would."""

import os

from botocore.credentials import JSONFileCache


def awscli_initialize(cli):
    cli.register("session-initialized", _inject_cache, unique_id="v2_sso_json_file_cache")


def _inject_cache(session, **kwargs):
    provider = session.get_component("credential_provider").get_provider("sso")
    provider.cache = JSONFileCache(os.path.expanduser(os.path.join("~", ".aws", "cli", "cache")))
