# A stand-in for geodesic's rootfs/etc/profile.d/aws.sh, written for the tests from a reading of
# 4.3.0, 4.4.0, 4.5.0 and 4.5.1: the same names and the same identity check. Before each prompt
# refresh_current_aws_role_if_needed fingerprints the exported AWS_PROFILE (as `declare -p` prints
# it), the credentials file's mtime (`stat -c %Y`) and AWS_ACCESS_KEY_ID; when that differs from
# GEODESIC_AWS_ROLE_CACHE, export_current_aws_role asks the `aws` on PATH who the keys are and who
# AWS_PROFILE is, and sets ASSUME_ROLE: the profile when both agree (a better name from the config
# for `default` and `*-identity`), red "!mixed!" with a warning when they do not, a name found in
# the files when no profile is set. GEODESIC_STANDIN_VERSION=4.3.0 or 4.4.0 compares the fingerprint
# as those do, with an unquoted (pattern) right side. Left out: the region abbreviation (aws-region),
# completion and the fzf role chooser.
export GEODESIC_AWS_HOME
for __dir in "${GEODESIC_AWS_HOME-}" "${LOCAL_HOME-}/.aws" "$HOME/.aws"; do
	if [[ -d $__dir ]]; then
		GEODESIC_AWS_HOME=$__dir
		break
	fi
done
unset __dir
: "${GEODESIC_AWS_HOME:=$HOME/.aws}" "${AWS_CONFIG_FILE:=$GEODESIC_AWS_HOME/config}"

if ! declare -f assume-role >/dev/null; then
	assume-role() {
		aws_sdk_assume_role "$@"
	}
fi

# assume-role ROLE [COMMAND...]: a login shell (or the command) with AWS_PROFILE=ROLE.
aws_sdk_assume_role() {
	local role=$1 saved
	shift
	if [[ -z $role ]]; then
		echo "Usage: assume-role <role> [command...]"
		return 1
	fi
	saved=${ASSUME_ROLE-}
	ASSUME_ROLE=$role
	if (($# == 0)); then
		AWS_PROFILE=$role bash -l
	else
		AWS_PROFILE=$role "$@"
	fi
	ASSUME_ROLE=$saved
}

# The role part of an ARN (the session name cut off), as the check compares them.
__standin_role_of() {
	aws "$@" sts get-caller-identity --output text --query Arn 2>/dev/null | cut -d/ -f1-2
}

# The first profile (not default, not *-identity) on a line of `crudini --format=lines` holding WORD.
__standin_named() {
	local name names
	mapfile -t names < <(crudini --get --format=lines "$2" | grep "$1" | cut -d' ' -f3)
	for name in "${names[@]}"; do
		[[ $name == default || $name =~ -identity$ ]] && continue
		printf '%s\n' "$name"
		return 0
	done
}

export_current_aws_role() {
	local current_role profile_arn profile_target role_arn role_name config_file creds_file account_id sso_role_name name
	current_role=$(__standin_role_of)
	if [[ -z $current_role ]]; then
		unset ASSUME_ROLE
		return 0
	fi
	[[ ${AWS_VAULT_ENABLED:-false} == true ]] || unset AWS_VAULT
	profile_target=${AWS_PROFILE:-${AWS_VAULT:-default}}
	profile_arn=$(__standin_role_of --profile "$profile_target")
	config_file=${AWS_CONFIG_FILE:-$GEODESIC_AWS_HOME/config}
	role_arn=$(printf '%s' "$current_role" | sed 's/:sts:/:iam:/g' | sed 's,:assumed-role/,:role/,')
	if [[ $current_role =~ AWSReservedSSO_[^_]+_[0-9a-f]+$ ]]; then
		account_id=$(echo "$current_role" | cut -d: -f5)
		sso_role_name=$(echo "$current_role" | cut -d: -f6 | cut -d_ -f2)
	fi
	if [[ $profile_arn == "$current_role" ]]; then
		# A generic profile name gets a better one from the config, if it has one.
		if [[ ($profile_target == default || $profile_target =~ -identity$) && -r $config_file ]]; then
			if [[ -n $sso_role_name ]]; then
				for name in $(crudini --get --format=lines "$config_file" | grep "$sso_role_name" | cut -d' ' -f3); do
					[[ $name == default || $name =~ -identity$ ]] && continue
					if [[ $account_id == "$(crudini --get "$config_file" "profile $name" sso_account_id)" ]]; then
						export ASSUME_ROLE=$name
						return
					fi
				done
				export ASSUME_ROLE=$profile_target
				return
			fi
			name=$(__standin_named "$role_arn" "$config_file")
			if [[ -n $name ]]; then
				export ASSUME_ROLE=$name
				return
			fi
		fi
		export ASSUME_ROLE=$profile_target
		return
	fi
	if [[ -n $AWS_PROFILE ]]; then
		red "* AWS Credentials Mismatch! AWS_PROFILE is set to $AWS_PROFILE"
		red "* That profile selects role $profile_arn"
		red "* But STS reports current role is $current_role"
		export ASSUME_ROLE=$(red-n '!mixed!')
		return
	elif [[ -n $AWS_VAULT ]]; then
		red "* AWS Credentials Mismatch! AWS_VAULT claims to have set role to profile $AWS_VAULT"
		red "* That profile selects role $profile_arn"
		red "* But STS reports current role is $current_role"
		red "* "
		export ASSUME_ROLE=$(red-n '!mixed!')
		return
	fi
	# No profile: name the role after the credentials file's section or the config's profile that holds it.
	creds_file=${AWS_SHARED_CREDENTIALS_FILE:-$GEODESIC_AWS_HOME/credentials}
	if [[ -r $creds_file ]]; then
		role_name=$(crudini --get --format=lines "$creds_file" | grep "$current_role" | head -1 | cut -d' ' -f2)
	fi
	if [[ -z $role_name && -r $config_file ]]; then
		role_name=$(crudini --get --format=lines "$config_file" | grep "$role_arn" | head -1 | cut -d' ' -f3)
	fi
	if [[ -z $role_name ]]; then
		if [[ $role_arn =~ role/OrganizationAccountAccessRole ]]; then
			role_name="$(printf '%s' "$role_arn" | cut -d: -f5):OrgAccess"
		elif [[ -n $sso_role_name ]]; then
			role_name="$account_id:$sso_role_name"
		else
			role_name=$(printf '%s' "$role_arn" | cut -d/ -f2)
		fi
		echo "* $(green "Could not find profile name for $role_arn ; calling it \"$role_name\"")" >&2
	fi
	export ASSUME_ROLE=$role_name
}

unset GEODESIC_AWS_ROLE_CACHE # a value inherited from the parent shell says nothing about this one
refresh_current_aws_role_if_needed() {
	local is_exported="^declare -[^ x]*x[^ x]* "
	local aws_profile=$(declare -p AWS_PROFILE 2>/dev/null)
	[[ $aws_profile =~ $is_exported ]] || aws_profile=""
	local credentials_mtime=$(stat -c "%Y" "${AWS_SHARED_CREDENTIALS_FILE:-${GEODESIC_AWS_HOME}/credentials}" 2>/dev/null)
	local role_fingerprint="${aws_profile}/${credentials_mtime}/${AWS_ACCESS_KEY_ID}"
	if __standin_changed "$role_fingerprint"; then
		export_current_aws_role
		export GEODESIC_AWS_ROLE_CACHE="${role_fingerprint}"
	fi
}
if [[ ${GEODESIC_STANDIN_VERSION:-4.5.1} == 4.[34].* ]]; then
	# Unquoted on the right: a pattern.
	__standin_changed() { [[ $1 != $GEODESIC_AWS_ROLE_CACHE ]]; }
else
	__standin_changed() { [[ $1 != "$GEODESIC_AWS_ROLE_CACHE" ]]; }
fi

# aws-okta and aws-vault keep the role up to date themselves, unless a profile is set.
if [[ (${AWS_OKTA_ENABLED-} != true && ${AWS_VAULT_ENABLED:-false} != true) || -n ${AWS_PROFILE-} ]]; then
	PROMPT_HOOKS+=(refresh_current_aws_role_if_needed)
fi
