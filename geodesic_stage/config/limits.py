"""What AWS accepts (STS API reference, IAM's ARN formats), checked before a code is typed for a call
that would fail, and by `doctor` (one pattern for both). Patterns as text: re compiles (and keeps) them when first matched,
not on every cached use."""

ROLE_SECONDS = (900, 43200)
MFA_SESSION_SECONDS = (900, 129600)
ROLE_ARN = r"(?a)arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}\Z"
# STS's SerialNumber: a virtual device's ARN or a hardware token's serial number (GAHT12345678).
MFA_SERIAL = r"(?a)[\w+=/:,.@-]{9,256}\Z"
EXTERNAL_ID = r"(?a)[\w+=,.@:/-]{2,1224}\Z"
SESSION_NAME = r"(?a)[\w+=,.@-]{2,64}\Z"
# botocore's own rule for a region name.
REGION = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\Z"
