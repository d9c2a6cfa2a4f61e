# A stand-in for geodesic's rootfs/etc/profile.d/prompt.sh, written for the tests from a reading
# of 4.3.0 to 4.5.1: PROMPT_COMMAND runs `prompter`, which runs every hook in PROMPT_HOOKS; the
# prompt is ` MARK LEVEL [ROLE] DIR ` and GEODESIC_PROMPT_GLYPHS, with the active mark and
# [ASSUME_ROLE] while ASSUME_ROLE is set, the inactive mark and [none] without, the marks chosen by
# PROMPT_STYLE (plain, unicode, fancy, default), and the same processes started for each prompt
# (the level in bold, the secrets list, the host-path test). Left out: the reload hook (screen size,
# terminal theme), the terraform line and the BANNER line with kube-ps1.
export -n PROMPT_COMMAND PS1
if ! [[ ${PROMPT_COMMAND-} =~ prompter ]]; then
	if [[ -z ${PROMPT_COMMAND-} ]]; then
		PROMPT_COMMAND="prompter;"
	elif [[ $PROMPT_COMMAND =~ \;$ ]]; then
		PROMPT_COMMAND="${PROMPT_COMMAND}prompter;"
	else
		PROMPT_COMMAND="${PROMPT_COMMAND};prompter;"
	fi
fi

prompter() {
	local hook
	# Unquoted, as geodesic's own loop.
	for hook in ${PROMPT_HOOKS[@]}; do
		"${hook}"
	done
}

PROMPT_HOOKS+=("geodesic_prompt")
geodesic_prompt() {
	case $PROMPT_STYLE in
	plain)
		[[ -z $ASSUME_ROLE_ACTIVE_MARK ]] && ASSUME_ROLE_ACTIVE_MARK="$(green-n »)"
		[[ -z $ASSUME_ROLE_INACTIVE_MARK ]] && ASSUME_ROLE_INACTIVE_MARK=$'·'
		[[ -z $BLACK_RIGHTWARDS_ARROWHEAD ]] && BLACK_RIGHTWARDS_ARROWHEAD=$'=>'
		;;
	unicode)
		[[ -z $ASSUME_ROLE_ACTIVE_MARK ]] && ASSUME_ROLE_ACTIVE_MARK=$'\u2705'
		[[ -z $ASSUME_ROLE_INACTIVE_MARK ]] && ASSUME_ROLE_INACTIVE_MARK=$'\u274C'
		[[ -z $BLACK_RIGHTWARDS_ARROWHEAD ]] && BLACK_RIGHTWARDS_ARROWHEAD=$'\u27A4'
		;;
	fancy)
		[[ -z $ASSUME_ROLE_ACTIVE_MARK ]] && ASSUME_ROLE_ACTIVE_MARK="$(bold-green-n $'\u221a')"
		[[ -z $ASSUME_ROLE_INACTIVE_MARK ]] && ASSUME_ROLE_INACTIVE_MARK="$(bold-red-n $'\u2717')"
		[[ -z $BLACK_RIGHTWARDS_ARROWHEAD ]] && BLACK_RIGHTWARDS_ARROWHEAD=$'\u27A4'
		;;
	*)
		[[ -z $ASSUME_ROLE_ACTIVE_MARK ]] && ASSUME_ROLE_ACTIVE_MARK="$(bold-green-n $'\u221a')"
		[[ -z $ASSUME_ROLE_INACTIVE_MARK ]] && ASSUME_ROLE_INACTIVE_MARK="$(bold-red-n $'\u2717')"
		[[ -z $BLACK_RIGHTWARDS_ARROWHEAD ]] && BLACK_RIGHTWARDS_ARROWHEAD=$'\u2a20'
		;;
	esac

	# Unset gives "(HOST)"; set but empty turns the mark off.
	[[ -z $PROMPT_HOST_MARK ]] && PROMPT_HOST_MARK="${PROMPT_HOST_MARK-($(bold-red-n HOST))}"

	local level_prompt
	case $SHLVL in
	1) level_prompt='.' ;;
	2) level_prompt=':' ;;
	3) level_prompt='⋮' ;;
	*) level_prompt="$SHLVL" ;;
	esac
	level_prompt=$(bold "${level_prompt}")

	if [ -n "$ASSUME_ROLE" ]; then
		STATUS=${ASSUME_ROLE_ACTIVE_MARK}
		ROLE_PROMPT="[${ASSUME_ROLE}]"
	else
		STATUS=${ASSUME_ROLE_INACTIVE_MARK}
		ROLE_PROMPT="[none]"
	fi

	# Whether a secret is in the environment: drawn only on the BANNER line, looked up at every prompt.
	local secret_name secrets="${PROMPT_SECRET_ENVS:-GITHUB_TOKEN;KOPS_SSH_PRIVATE_KEY}"
	for secret_name in $(echo "$secrets" | tr ';' ' '); do
		local -n ref=$secret_name
		[[ -n $ref ]] && break
	done

	local dir_prompt
	dir_prompt=" ${STATUS} ${level_prompt} "
	if [[ -n $PROMPT_HOST_MARK ]] && file_on_host "$(pwd -P)"; then
		dir_prompt+="${ROLE_PROMPT} ${PROMPT_HOST_MARK} \W "
	else
		dir_prompt+="${ROLE_PROMPT} \W "
	fi
	# Expanded at each prompt; the tests set it to the prompt they wait for.
	dir_prompt+=$'${GEODESIC_PROMPT_GLYPHS-${BLACK_RIGHTWARDS_ARROWHEAD} }'

	_update_terraform_prompt
	PS1="${dir_prompt}"
}
