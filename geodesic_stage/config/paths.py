"""Where the AWS CLI's files are, as botocore finds them. A module of its own, light to import:
kubectl's cached token (eks.served) stamps these files without reading them."""

import os


def config_path() -> str:
    return _expanded(os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config")


def credentials_path() -> str:
    return _expanded(os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials")


def _expanded(path: str) -> str:
    """The path as botocore expands it: variables ($HOME, ${X}), then `~`."""
    return os.path.expanduser(os.path.expandvars(path))
