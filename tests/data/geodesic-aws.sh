# A stand-in for geodesic 4.x's AWS identity hook, written for the tests. When the
# exported AWS_PROFILE, the credentials file or the access key changes, it asks STS
# who the environment's credentials are and who AWS_PROFILE's are (`aws` twice) and
# names the role in ASSUME_ROLE: the profile when both agree, "!mixed!" when they
# do not, and without AWS_PROFILE the first profile in the config with that role.
unset GEODESIC_AWS_ROLE_CACHE

geodesic_aws_role() {
	aws "$@" sts get-caller-identity --output text --query Arn 2>/dev/null | cut -d/ -f1-2
}

geodesic_name_role() {
	local current by_profile role_arn target=${AWS_PROFILE:-default}
	current=$(geodesic_aws_role)
	if [[ -z $current ]]; then
		unset ASSUME_ROLE
		return 0
	fi
	by_profile=$(geodesic_aws_role --profile "$target")
	if [[ $by_profile == "$current" && $target != default ]]; then
		export ASSUME_ROLE=$target
		return 0
	fi
	if [[ -n ${AWS_PROFILE-} ]]; then
		echo "* AWS Credentials Mismatch! AWS_PROFILE is set to $AWS_PROFILE, whose role is $by_profile, but STS says $current"
		export ASSUME_ROLE='!mixed!'
		return 0
	fi
	role_arn=${current/:sts:/:iam:}
	role_arn=${role_arn/:assumed-role\//:role/}
	ASSUME_ROLE=$(awk -v arn="$role_arn" '
		/^\[profile / { name = substr($2, 1, length($2) - 1) }
		/^role_arn *=/ { sub(/^role_arn *= */, ""); if ($0 == arn) { print name; exit } }
	' "${AWS_CONFIG_FILE:-$HOME/.aws/config}")
	export ASSUME_ROLE=${ASSUME_ROLE:-${role_arn##*/}}
}

geodesic_refresh_role() {
	local fingerprint profile exported='^declare -[^ ]*x'
	profile=$(declare -p AWS_PROFILE 2>/dev/null)
	[[ $profile =~ $exported ]] || profile=""
	fingerprint="$profile/$(stat -c %Y "${AWS_SHARED_CREDENTIALS_FILE:-$HOME/.aws/credentials}" 2>/dev/null)/${AWS_ACCESS_KEY_ID-}"
	[[ $fingerprint == "${GEODESIC_AWS_ROLE_CACHE-}" ]] && return 0
	geodesic_name_role
	export GEODESIC_AWS_ROLE_CACHE=$fingerprint
}
PROMPT_HOOKS+=(geodesic_refresh_role)
