# geodesic-stage: the `stage` command, the prompt hook and the login behaviour.
# Sourced by login shells. It must never break one: no exit, no set -e/-u, no
# options changed, every variable read with a default, and no process started
# by the prompt hook unless credentials are about to expire.

if [ -n "${BASH_VERSION-}" ]; then

# `stage use|refresh` change this shell: eval what the command prints, and only
# when it succeeded, so a failure leaves the environment untouched. The block's
# first line hands over the Python side's facts (the variables it sets, the
# renewal thresholds). `stage logout` always logs out: the user's own values
# come back even when the command failed. The command learns which shell it
# serves (a credential endpoint lives as long as this shell, `use --serve`).
stage() {
	local __gs_out __gs_status=0 __gs_shell=${BASHPID:-$$}
	case "${1-}" in
	use | refresh | logout)
		case " $* " in *" -h "* | *" --help "*)
			command geodesic-stage "$@"
			return
			;;
		esac
		if [[ $1 == use && $# == 2 ]] && __geodesic_stage_replay "$2"; then
			: # a cached switch, said again without Python
		else
			__gs_out=$(GEODESIC_STAGE_SHELL_PID=$__gs_shell command geodesic-stage "$@") || __gs_status=$?
		fi
		if [[ $1 == logout ]]; then
			# With no stage in use the user's variables are their own: nothing to undo.
			if [[ -n ${__geodesic_stage_saved+set} ]] || __geodesic_stage_current; then
				((__gs_status)) || eval "$__gs_out"
				__geodesic_stage_restore
			fi
			unset __geodesic_stage_saved
		elif ((__gs_status == 0)); then
			eval "${__gs_out%%$'\n'*}"
			if [[ $1 == use ]]; then
				__geodesic_stage_remember
				__geodesic_stage_restore
			fi
			eval "$__gs_out"
			__geodesic_stage_answer
		fi
		__geodesic_stage_label
		return "$__gs_status"
		;;
	"") command geodesic-stage status ;;
	*) command geodesic-stage "$@" ;;
	esac
}

# A cached `stage use STAGE` in pure bash: the block the command printed for it last time, which it
# kept with what that block came from (geodesic_stage/switch.py), into the caller's __gs_out, while
# all of that holds: every variable it read as it was, every file it read no newer than the record
# and every one it missed still missing, the credentials lasting the cache's window. Otherwise (or
# with no record, one of another user, a format this script does not know) the command runs.
__geodesic_stage_replay() {
	local __gs_record __gs_i __gs_n __gs_exported __gs_now __gs_format="" __gs_until=0 __gs_block="" __gs_whole=""
	local -a __gs_names=() __gs_set=() __gs_values=() __gs_present=() __gs_absent=()
	# bash 4.4 and later tell a variable's attributes (${name@a}).
	((BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= 404)) || return 1
	[[ -n ${__geodesic_stage_switches-} && ${1-} =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$ ]] || return 1
	__gs_record=$__geodesic_stage_switches/$1
	[[ -f $__gs_record && ! -L $__gs_record && -O $__gs_record ]] || return 1
	. "$__gs_record" 2>/dev/null || return 1
	[[ $__gs_format == 1 && $__gs_whole == 1 ]] || return 1
	printf -v __gs_now '%(%s)T' -1
	((__gs_now < __gs_until)) 2>/dev/null || return 1
	for __gs_i in "${!__gs_names[@]}"; do
		# The command saw the environment: a variable counts as set when it is exported.
		__gs_n=${__gs_names[__gs_i]} __gs_exported=""
		[[ -z ${!__gs_n+1} || ${!__gs_n@a} != *x* ]] || __gs_exported=1
		[[ $__gs_exported == "${__gs_set[__gs_i]-}" ]] || return 1
		[[ -z $__gs_exported || ${!__gs_n} == "${__gs_values[__gs_i]-}" ]] || return 1
	done
	for __gs_i in "${__gs_present[@]}"; do
		[[ -e $__gs_i && $__gs_record -nt $__gs_i ]] || return 1
	done
	for __gs_i in "${__gs_absent[@]}"; do
		[[ ! -e $__gs_i && ! -L $__gs_i ]] || return 1
	done
	__gs_out=$__gs_block
}

# Whether this shell holds a stage's credentials: STAGE and their end, with the
# keys or the profile its credential endpoint serves (`use --serve`). The one
# place that decides it; context.stage_in_use asks the same of the same variables.
__geodesic_stage_current() {
	[[ -n ${STAGE-} && -n ${AWS_ACCESS_KEY_ID-}${GEODESIC_STAGE_PROFILE-} && -n ${AWS_CREDENTIAL_EXPIRATION-} ]]
}

# Keep, once, the user's own values of every variable `stage use` sets, for
# logout to give back. A shell that inherited a stage holds that stage's
# values, not the user's: it keeps none, and logout unsets them.
__geodesic_stage_remember() {
	local __gs_name __gs_value IFS=$' \t\n'
	[[ -z ${__geodesic_stage_saved+set} ]] || return 0
	__geodesic_stage_saved=""
	__geodesic_stage_current && return 0
	for __gs_name in ${__geodesic_stage_variables-}; do
		[[ -n ${!__gs_name+set} ]] || continue
		printf -v __gs_value '%q' "${!__gs_name}"
		__geodesic_stage_saved+="export $__gs_name=$__gs_value"$'\n'
	done
	return 0
}

# Back to the user's own values: the stage's variables unset, the user's set again.
__geodesic_stage_restore() {
	local IFS=$' \t\n'
	[[ -z ${__geodesic_stage_variables-} ]] || unset ${__geodesic_stage_variables}
	eval "${__geodesic_stage_saved-}"
}

# Inside geodesic (4.3 to 4.5), its prompt hook refresh_current_aws_role_if_needed runs
# `aws sts get-caller-identity` with the keys and with --profile whenever its fingerprint of the
# exported AWS_PROFILE, the credentials file's mtime and the access key changes. Keys we just
# exported for AWS_PROFILE answer that: note the fingerprint as its hook would after finding both
# the same, beside the ASSUME_ROLE it would then set (the profile). A served shell (`use --serve`)
# exports neither AWS_PROFILE nor a key, which its hook fingerprints as empty just the same; left
# to ask, it would name whichever profile of the config holds the role first (in one account, not
# the stage's). The mtime comes from the Python side, sparing a process. A profile geodesic names
# itself (default, *-identity) gets its own check, even where a served shell's fingerprint is the
# one it noted before; so does anything changed after us. A geodesic without that hook: nothing.
__geodesic_stage_answer() {
	local __gs_profile __gs_exported='^declare -[^ x]*x[^ x]* ' __gs_held=${AWS_PROFILE-${GEODESIC_STAGE_PROFILE-}}
	[[ -n ${__geodesic_stage_credentials_mtime+set} ]] && declare -F refresh_current_aws_role_if_needed >/dev/null || return 0
	if [[ $__gs_held == default || $__gs_held == *-identity ]]; then
		unset GEODESIC_AWS_ROLE_CACHE
		return 0
	fi
	# `declare -p AWS_PROFILE`, as its hook takes it: written out for the usual exported name with
	# nothing declare would escape (sparing a subshell), asked of declare otherwise.
	if ((BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= 404)) && [[ -n ${AWS_PROFILE+1} && ${AWS_PROFILE@a} == x && $AWS_PROFILE =~ ^[A-Za-z0-9_.@%+=:,/-]*$ ]]; then
		__gs_profile="declare -x AWS_PROFILE=\"$AWS_PROFILE\""
	else
		__gs_profile=$(declare -p AWS_PROFILE 2>/dev/null)
		[[ $__gs_profile =~ $__gs_exported ]] || __gs_profile=""
	fi
	export GEODESIC_AWS_ROLE_CACHE="$__gs_profile/$__geodesic_stage_credentials_mtime/${AWS_ACCESS_KEY_ID-}"
}

# Seconds since the epoch of an RFC 3339 UTC time, in pure bash, into the
# variable named by $1 (0 if unreadable). Civil-to-days after H. Hinnant.
__geodesic_stage_epoch() {
	local __gs_re='^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})'
	if [[ ${2-} =~ $__gs_re ]]; then
		local y=$((10#${BASH_REMATCH[1]})) m=$((10#${BASH_REMATCH[2]})) d=$((10#${BASH_REMATCH[3]}))
		y=$((y - (m <= 2)))
		local era=$((y / 400)) yoe doy
		yoe=$((y - era * 400))
		doy=$(((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1))
		printf -v "$1" '%d' $((((era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468) * 24 + 10#${BASH_REMATCH[4]}) * 60 * 60 + 10#${BASH_REMATCH[5]} * 60 + 10#${BASH_REMATCH[6]}))
	else
		printf -v "$1" '%d' 0
	fi
}

# Before each prompt. An ordinary one keeps the same credentials, PS1 and shell
# options (where we own the label) and minute left, so the label stands: two
# tests, in a small body because bash copies a function's body on every call.
# The options count by length: promptvars on or off changes it, at a third less
# cost than comparing all of BASHOPTS. A framework that runs after the hook and
# writes PS1 afresh changes PS1, which brings the hook back to last. `stage`
# itself works the label out anew after every change it makes.
__geodesic_stage_prompt() {
	[[ ${AWS_CREDENTIAL_EXPIRATION-}/${__geodesic_stage_own_ps1:+$PS1/${#BASHOPTS}} == "$__geodesic_stage_seen" ]] && ((EPOCHSECONDS < __geodesic_stage_until)) || __geodesic_stage_label
}
__geodesic_stage_seen=${__geodesic_stage_seen-} __geodesic_stage_until=0
# bash before 5.0 has no EPOCHSECONDS: work the label out at every prompt.
((BASH_VERSINFO[0] >= 5)) || __geodesic_stage_prompt() { __geodesic_stage_label; }

# Work out the stage label, renewing role credentials from the cached MFA
# session when they near their end (the only time a process starts; it never
# asks for a code). Outside geodesic the label leads PS1; inside, expired
# credentials unset ASSUME_ROLE so geodesic draws its inactive mark and [none].
__geodesic_stage_label() {
	__geodesic_stage_state_now
	__geodesic_stage_show
	__geodesic_stage_seen=${AWS_CREDENTIAL_EXPIRATION-}/${__geodesic_stage_own_ps1:+$PS1/${#BASHOPTS}}
	return 0
}

# The thresholds come from the Python side (the block's first line); the
# defaults are its values, for a shell that has not run `stage use` yet.
__geodesic_stage_state_now() {
	local now left
	__geodesic_stage_until=0
	if ! __geodesic_stage_current; then
		__geodesic_stage_state=none
		__geodesic_stage_ps1=""
		__geodesic_stage_until=9223372036854775807
		return 0
	fi
	if [[ ${AWS_CREDENTIAL_EXPIRATION-} != "${__geodesic_stage_seen_expiration-}" ]]; then
		__geodesic_stage_epoch __geodesic_stage_credential_epoch "${AWS_CREDENTIAL_EXPIRATION-}"
		__geodesic_stage_epoch __geodesic_stage_session_epoch "${AWS_SESSION_EXPIRATION-}"
		__geodesic_stage_seen_expiration=${AWS_CREDENTIAL_EXPIRATION-}
		__geodesic_stage_hinted=""
	fi
	printf -v now '%(%s)T' -1
	left=$((__geodesic_stage_credential_epoch - now))
	# Renew only from an MFA session that outlasts these credentials (direct mode has
	# none), at most once a minute and within a few seconds: a dead network costs one
	# short wait, then the stale label. One hint per expiry: later failures are quiet.
	if ((left < ${__geodesic_stage_renew_at:-600} && __geodesic_stage_session_epoch > __geodesic_stage_credential_epoch && __geodesic_stage_session_epoch > now + ${__geodesic_stage_margin:-60} && now - ${__geodesic_stage_renewing:-0} >= ${__geodesic_stage_retry_after:-60})); then
		__geodesic_stage_renewing=$now
		if [[ -n ${__geodesic_stage_hinted-} ]]; then
			stage refresh --bounded 2>/dev/null && return 0
		else
			stage refresh --bounded && return 0
		fi
		# Exit 3: only a person can renew now (a new MFA code or sign-in); stop starting processes.
		(($? == 3)) && __geodesic_stage_session_epoch=0
		__geodesic_stage_hinted=1
	fi
	if ((left <= 0)); then
		__geodesic_stage_state=expired
		__geodesic_stage_ps1="[$STAGE expired] "
		[[ -n ${__geodesic_stage_own_ps1-} ]] || unset ASSUME_ROLE
		if [[ -z ${__geodesic_stage_hinted-} ]]; then
			__geodesic_stage_hinted=1
			printf '%s\n' "geodesic-stage: credentials for $STAGE have expired; run 'stage use $STAGE${GEODESIC_STAGE_USED_WITH:+ $GEODESIC_STAGE_USED_WITH}' for a new MFA code or sign-in" >&2
		fi
	else
		__geodesic_stage_state=active
		__geodesic_stage_ps1="[$STAGE $((left / 60))m] "
		# The label stands until the next minute boundary, which comes before the renewal window.
		((left >= ${__geodesic_stage_renew_at:-600})) && __geodesic_stage_until=$((__geodesic_stage_credential_epoch - left / 60 * 60 + 1))
	fi
	return 0
}

# Outside geodesic the label leads PS1: as a reference to it where promptvars
# expands one (its value is never expanded again), as text where it does not.
# A prompt framework that wrote PS1 afresh (__git_ps1, starship) gets it back;
# one that put itself after our hook in the PROMPT_COMMAND array since finds
# our hook last again from the next prompt on.
__geodesic_stage_show() {
	local __gs_want __gs_i
	[[ -n ${__geodesic_stage_own_ps1-} && ${GEODESIC_STAGE_PROMPT:-true} != false ]] || return 0
	if ((BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= 501)) && [[ ${PROMPT_COMMAND[-1]-} != __geodesic_stage_prompt ]]; then
		for __gs_i in "${!PROMPT_COMMAND[@]}"; do
			[[ ${PROMPT_COMMAND[__gs_i]} != __geodesic_stage_prompt ]] || unset "PROMPT_COMMAND[__gs_i]"
		done
		PROMPT_COMMAND+=(__geodesic_stage_prompt)
	fi
	# bash before 4.1 has no BASHOPTS to tell: promptvars is taken as on, its default.
	if [[ :${BASHOPTS-promptvars}: == *:promptvars:* ]]; then
		__gs_want='${__geodesic_stage_ps1-}'
	else
		__gs_want=${__geodesic_stage_ps1//\\/\\\\}
	fi
	if [[ -n ${__geodesic_stage_shown-} && $PS1 == "$__geodesic_stage_shown"* ]]; then
		PS1=${PS1#"$__geodesic_stage_shown"}
	fi
	# A PS1 that holds the reference where its owner put it is left as it is.
	[[ $__gs_want == *'${'* && $PS1 == *"$__gs_want"* ]] || PS1=$__gs_want$PS1
	__geodesic_stage_shown=$__gs_want
}

# geodesic renders its prompt from ASSUME_ROLE through PROMPT_HOOKS; elsewhere
# the hook runs from PROMPT_COMMAND and owns the label in PS1. First in
# PROMPT_HOOKS: a renewal or an expiry must land before geodesic checks the
# identity (aws.sh) and draws the prompt (prompt.sh), whose hooks came earlier.
# Last in PROMPT_COMMAND, after frameworks that write PS1 afresh; bash 5.1+
# runs each element of a PROMPT_COMMAND array, and ours stays the last one
# even when a framework later rewrites the string (element 0).
if [[ ${GEODESIC_SHELL-} == true ]] || declare -p PROMPT_HOOKS >/dev/null 2>&1; then
	case " ${PROMPT_HOOKS[*]-} " in
	*" __geodesic_stage_prompt "*) ;;
	*) PROMPT_HOOKS=(__geodesic_stage_prompt ${PROMPT_HOOKS[@]+"${PROMPT_HOOKS[@]}"}) ;;
	esac
else
	__geodesic_stage_own_ps1=true
	case "${PROMPT_COMMAND[*]-}" in
	*__geodesic_stage_prompt*) ;;
	*)
		if ((BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= 501)); then
			PROMPT_COMMAND+=(__geodesic_stage_prompt)
		else
			PROMPT_COMMAND="${PROMPT_COMMAND-}${PROMPT_COMMAND:+
}__geodesic_stage_prompt"
		fi
		;;
	esac
fi

# TAB completion of commands, options and stage names; the Python side reads the
# config files only (geodesic_stage/completion.py).
__geodesic_stage_complete() {
	local __gs_line
	COMPREPLY=()
	while IFS= read -r __gs_line; do
		[[ -n $__gs_line ]] && COMPREPLY+=("$__gs_line")
	done <<<"$(command geodesic-stage __complete "$COMP_CWORD" "${COMP_WORDS[@]}" 2>/dev/null)"
	return 0
}
complete -F __geodesic_stage_complete stage geodesic-stage

# A login shell started for a stage (STAGE=testing) uses it once: asking for a
# code only on an interactive terminal, from the cache only otherwise. One that
# inherits unexpired credentials asks nothing; in their last quarter hour it
# renews them from the MFA session first, because the AWS CLI (and geodesic's
# `aws --profile` identity check in the new shell) counts them expired and
# would ask for a code itself. Expired ones it renews too while the MFA
# session lasts, keeping what the stage was used with; past that, the code it
# asks for buys the stage as it was used too (`use --as-used`).
__geodesic_stage_login() {
	local now session
	[[ -n ${STAGE-} && ${GEODESIC_STAGE_AUTO:-true} != false && -z ${__geodesic_stage_login_done-} ]] || return 0
	__geodesic_stage_login_done=1
	if __geodesic_stage_current; then
		__geodesic_stage_epoch __geodesic_stage_credential_epoch "${AWS_CREDENTIAL_EXPIRATION-}"
		__geodesic_stage_epoch session "${AWS_SESSION_EXPIRATION-}"
		printf -v now '%(%s)T' -1
		if ((__geodesic_stage_credential_epoch > now)); then
			((__geodesic_stage_credential_epoch - now < ${__geodesic_stage_login_renew_at:-900} && session > __geodesic_stage_credential_epoch && session > now + ${__geodesic_stage_margin:-60})) && { stage refresh --bounded || true; }
			return 0
		fi
		# Expired, but what renews them lasts: renewed as the stage was used (its role, region...).
		((session > now + ${__geodesic_stage_margin:-60})) && stage refresh --bounded 2>/dev/null && return 0
	fi
	# Inherited choices (a role, a region...) are kept here too: the new code buys the stage as it was used.
	local -a as_used=()
	[[ -z ${GEODESIC_STAGE_USED_WITH-} ]] || as_used=(--as-used)
	if [[ $- == *i* && -t 0 && -t 2 ]]; then
		stage use "$STAGE" ${as_used[@]+"${as_used[@]}"} ||
			printf '%s\n' "geodesic-stage: this shell is ready without AWS credentials; run 'stage use $STAGE${GEODESIC_STAGE_USED_WITH:+ $GEODESIC_STAGE_USED_WITH}' to try again" >&2
	else
		stage use "$STAGE" ${as_used[@]+"${as_used[@]}"} --no-prompt || true
	fi
}
__geodesic_stage_login

fi
