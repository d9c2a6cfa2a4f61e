# geodesic-stage: the `stage` command, the prompt hook and the login behaviour.
# Sourced by login shells. It must never break one: no exit, no set -e/-u, no
# options changed, every variable read with a default, and no process started
# by the prompt hook unless credentials are about to expire.

if [ -n "${BASH_VERSION-}" ]; then

# `stage use|refresh|logout` change this shell: eval what the command prints,
# and only when it succeeded, so a failure leaves the environment untouched.
stage() {
	local __gs_out
	case "${1-}" in
	use | refresh | logout)
		case " $* " in *" -h "* | *" --help "*)
			command geodesic-stage "$@"
			return
			;;
		esac
		__gs_out=$(command geodesic-stage "$@") || return
		eval "$__gs_out"
		__geodesic_stage_label
		;;
	"") command geodesic-stage status ;;
	*) command geodesic-stage "$@" ;;
	esac
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

# Before each prompt. An ordinary one keeps the same credentials, PS1 (where
# we own its label) and minute left, so the label stands: two tests, in a small
# body because bash copies a function's body on every call. `stage` itself
# works the label out anew after every change it makes.
__geodesic_stage_prompt() {
	[[ ${AWS_CREDENTIAL_EXPIRATION-}/${__geodesic_stage_own_ps1:+$PS1} == "$__geodesic_stage_seen" ]] && ((EPOCHSECONDS < __geodesic_stage_until)) || __geodesic_stage_label
}
__geodesic_stage_seen=${__geodesic_stage_seen-} __geodesic_stage_until=0
# bash before 5.0 has no EPOCHSECONDS: work the label out at every prompt.
((BASH_VERSINFO[0] >= 5)) || __geodesic_stage_prompt() { __geodesic_stage_label; }

# Work out the stage label, and renew role credentials from the cached MFA
# session when fewer than 10 minutes are left (the only time a process starts;
# it never asks for a code). Outside geodesic, put the label in front of PS1
# (promptvars expands it at each prompt); inside, expired credentials unset
# ASSUME_ROLE so geodesic draws its inactive mark and [none].
__geodesic_stage_label() {
	local now left
	if [[ -n ${__geodesic_stage_own_ps1-} && ${GEODESIC_STAGE_PROMPT:-true} != false && $PS1 != *'${__geodesic_stage_ps1-}'* ]]; then
		PS1='${__geodesic_stage_ps1-}'$PS1
	fi
	__geodesic_stage_seen=${AWS_CREDENTIAL_EXPIRATION-}/${__geodesic_stage_own_ps1:+$PS1}
	__geodesic_stage_until=0
	if [[ -z ${AWS_ACCESS_KEY_ID-} || -z ${STAGE-} || -z ${AWS_CREDENTIAL_EXPIRATION-} ]]; then
		__geodesic_stage_state=none
		__geodesic_stage_ps1=""
		__geodesic_stage_until=9223372036854775807
		return 0
	fi
	if [[ ${AWS_CREDENTIAL_EXPIRATION} != "${__geodesic_stage_seen_expiration-}" ]]; then
		__geodesic_stage_epoch __geodesic_stage_credential_epoch "$AWS_CREDENTIAL_EXPIRATION"
		__geodesic_stage_epoch __geodesic_stage_session_epoch "${AWS_SESSION_EXPIRATION-}"
		__geodesic_stage_seen_expiration=$AWS_CREDENTIAL_EXPIRATION
		__geodesic_stage_hinted=""
	fi
	printf -v now '%(%s)T' -1
	left=$((__geodesic_stage_credential_epoch - now))
	# At most one renewal attempt a minute, so a dead network costs one wait, not one per Enter.
	if ((left < 600 && __geodesic_stage_session_epoch > now + 60 && now - ${__geodesic_stage_renewing:-0} >= 60)); then
		__geodesic_stage_renewing=$now
		stage refresh && return 0
		# Exit 3: only a person can renew now (a new MFA code or sign-in); stop starting processes.
		(($? == 3)) && __geodesic_stage_session_epoch=0
	fi
	if ((left <= 0)); then
		__geodesic_stage_state=expired
		__geodesic_stage_ps1="[$STAGE expired] "
		[[ -n ${__geodesic_stage_own_ps1-} ]] || unset ASSUME_ROLE
		if [[ -z ${__geodesic_stage_hinted-} ]]; then
			__geodesic_stage_hinted=1
			printf '%s\n' "geodesic-stage: credentials for $STAGE have expired; run 'stage use $STAGE' for a new MFA code or sign-in" >&2
		fi
	else
		__geodesic_stage_state=active
		__geodesic_stage_ps1="[$STAGE $((left / 60))m] "
		# The label stands until the next minute boundary, which comes before the renewal window.
		((left >= 600)) && __geodesic_stage_until=$((__geodesic_stage_credential_epoch - left / 60 * 60 + 1))
	fi
	return 0
}

# geodesic renders its prompt from ASSUME_ROLE through PROMPT_HOOKS; elsewhere
# the hook runs from PROMPT_COMMAND and owns the label in PS1. First in
# PROMPT_HOOKS: a renewal or an expiry must land before geodesic checks the
# identity (aws.sh) and draws the prompt (prompt.sh), whose hooks came earlier.
if [[ ${GEODESIC_SHELL-} == true ]] || declare -p PROMPT_HOOKS >/dev/null 2>&1; then
	case " ${PROMPT_HOOKS[*]-} " in
	*" __geodesic_stage_prompt "*) ;;
	*) PROMPT_HOOKS=(__geodesic_stage_prompt ${PROMPT_HOOKS[@]+"${PROMPT_HOOKS[@]}"}) ;;
	esac
else
	__geodesic_stage_own_ps1=true
	case ";${PROMPT_COMMAND-};" in
	*__geodesic_stage_prompt*) ;;
	*) PROMPT_COMMAND="__geodesic_stage_prompt${PROMPT_COMMAND:+;$PROMPT_COMMAND}" ;;
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
# would ask for a code itself.
__geodesic_stage_login() {
	local now session
	[[ -n ${STAGE-} && ${GEODESIC_STAGE_AUTO:-true} != false && -z ${__geodesic_stage_login_done-} ]] || return 0
	__geodesic_stage_login_done=1
	if [[ -n ${AWS_ACCESS_KEY_ID-} && -n ${AWS_PROFILE-} && -n ${AWS_CREDENTIAL_EXPIRATION-} ]]; then
		__geodesic_stage_epoch __geodesic_stage_credential_epoch "$AWS_CREDENTIAL_EXPIRATION"
		__geodesic_stage_epoch session "${AWS_SESSION_EXPIRATION-}"
		printf -v now '%(%s)T' -1
		if ((__geodesic_stage_credential_epoch > now)); then
			((__geodesic_stage_credential_epoch - now < 900 && session > now + 60)) && { stage refresh || true; }
			return 0
		fi
	fi
	if [[ $- == *i* && -t 0 && -t 2 ]]; then
		stage use "$STAGE" || printf '%s\n' "geodesic-stage: this shell is ready without AWS credentials; run 'stage use $STAGE' to try again" >&2
	else
		stage use "$STAGE" --no-prompt || true
	fi
}
__geodesic_stage_login

fi
