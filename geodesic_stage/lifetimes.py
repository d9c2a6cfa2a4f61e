"""Every time figure the product acts on, in one place (seconds unless the name says otherwise).

botocore's RefreshableCredentials names two windows: renew in the last 15 minutes (advisory), refuse
in the last 10 (mandatory). We serve from the cache only what lasts the advisory window, the prompt
hook renews at the spec's 10 minutes, and the figures the prompt hook needs reach stage.sh on the
first line of the `use` block (render.render_exports), so bash and Python never disagree.
"""

# Role credentials (and Identity Center tokens) with less left than this are renewed, not served:
# inside it `aws --profile` would discard them and ask for a code itself. A new login shell renews at it.
CACHE_RENEW_SECONDS = 15 * 60
# The prompt hook renews role credentials with this much left (the spec's 10 minutes) ...
PROMPT_RENEW_SECONDS = 10 * 60
# ... tries again at most this often after a failure ...
PROMPT_RETRY_SECONDS = 60
# ... and gives one renewal this long in all (`refresh --bounded`).
PROMPT_RENEW_TIMEOUT = 3
# An MFA session, or an Identity Center token, must outlast the call made with it by this much;
# the prompt hook renews only from a session that lasts this much longer.
CALL_MARGIN_SECONDS = 60

# A cached `stage use STAGE` is replayed by the shell without Python (switch.py) for at most this long
# after the command last ran for it, whatever the files' mtimes say.
SWITCH_RECORD_SECONDS = 15 * 60

# AWS caps role sessions assumed with session or role credentials at one hour.
CHAINED_ROLE_SECONDS = 3600
# The MFA session (GetSessionToken) lasts this long unless the stages file or a flag says otherwise.
DEFAULT_SESSION_SECONDS = 12 * 3600
# STS issues nothing that lasts longer; a later expiration is a forged or broken cache entry.
LONGEST_SESSION_SECONDS = 36 * 3600
# An Identity Center token lasts at most the longest session an administrator can set (90 days).
LONGEST_TOKEN_DAYS = 91

# How long a shell waits on another's lock: an MFA prompt, a token refresh (one HTTP call),
# a device sign-in (a device code lasts ten minutes at AWS, and a little more), the key store.
MFA_LOCK_SECONDS = 120
REFRESH_LOCK_SECONDS = 30
SIGN_IN_LOCK_SECONDS = 11 * 60
KEY_STORE_LOCK_SECONDS = 120
LOCK_POLL_SECONDS = 0.1

# RFC 8628: the device grant's polling interval defaults to five seconds, slow_down adds five.
DEVICE_POLL_SECONDS = 5
DEVICE_SLOW_DOWN_SECONDS = 5
# A cached client registration this close to its end is replaced, as the AWS CLI does.
REGISTRATION_MARGIN_SECONDS = 15 * 60

# The credential endpoint (serve/): the command that starts it waits this long for it to accept
# requests; it asks this often whether its owner still runs and whether it still serves anything;
# an idle kept-alive connection frees its thread after this long; its own clients (status --verify,
# console) wait this long for an answer.
SERVE_READY_SECONDS = 10
SERVE_POLL_SECONDS = 1
SERVE_IDLE_SECONDS = 60
SERVE_ANSWER_SECONDS = 10

# An mfa_process that has not printed a code by then never will.
MFA_PROCESS_SECONDS = 60
# A writer killed between mkstemp and os.replace leaves its temp file; one this old is nobody's.
STALE_TEMP_SECONDS = 60
# Signatures fail when the clock is off by more than five minutes.
MAX_CLOCK_SKEW_SECONDS = 300
# A new access key reaches every STS endpoint within about this long; rotation checks this often.
KEY_VERIFY_SECONDS = 60
KEY_VERIFY_INTERVAL_SECONDS = 3

# EKS: a cluster takes a token for 15 minutes from its X-Amz-Date (aws-iam-authenticator); kubectl is
# told 14, and a cached token is served while it has more than a minute left.
EKS_TOKEN_SECONDS = 14 * 60
EKS_TOKEN_MARGIN_SECONDS = 60
# The presigned URL's own X-Amz-Expires, which the cluster ignores: the AWS CLI's value.
EKS_PRESIGN_SECONDS = 60
# A cluster's endpoint and CA are asked of DescribeCluster again after this long (a re-created cluster has new ones).
EKS_DESCRIBE_SECONDS = 3600
# An ECR password (12 hours at AWS) is served for this part of its life: a pull or push that starts
# then never outlives it.
ECR_PASSWORD_SERVED_PART = 0.5
# doctor gives `kubectl config view` this long to read the user's kubeconfig.
KUBECTL_SECONDS = 10
# `init --topology sso` gives up listing the accounts after this long (--max-time): 7,000 accounts at
# the portal's 20 calls a second take about 500 s, and this leaves room for a slower portal.
SSO_LISTING_MAX_SECONDS = 1800
# A listing kept after a failure part way serves the next init this long; after that it is read again.
SSO_LISTING_KEPT_SECONDS = 3600
# Online, doctor checks Identity Center permission sets this long at most (--max-time); init --dry-run
# compares them all.
SSO_CHECK_MAX_SECONDS = 60
# The portal's rate a progress line shows is its answers over this long ...
PORTAL_RATE_WINDOW_SECONDS = 5
# ... and the line is redrawn at most this often: enough to look alive, few enough to cost nothing.
PROGRESS_REDRAW_SECONDS = 0.1
