# A stand-in for geodesic 4.x's prompt machinery, written for the tests: PROMPT_COMMAND
# runs every hook in PROMPT_HOOKS, and the prompt shows a mark and the role from
# ASSUME_ROLE ("[none]" without one), the marks chosen by PROMPT_STYLE.
export -n PS1 PROMPT_COMMAND
case ";${PROMPT_COMMAND-};" in
*";prompter;"*) ;;
*) PROMPT_COMMAND="${PROMPT_COMMAND:+${PROMPT_COMMAND%;};}prompter;" ;;
esac

prompter() {
	local hook
	for hook in "${PROMPT_HOOKS[@]}"; do
		"$hook"
	done
}

PROMPT_HOOKS+=(geodesic_prompt)
geodesic_prompt() {
	local active inactive level
	case ${PROMPT_STYLE-} in
	plain) active='\[\e[32m\]»\[\e[0m\]' inactive='·' ;;
	unicode) active='✅' inactive='❌' ;;
	*) active='\[\e[1;32m\]√\[\e[0m\]' inactive='\[\e[1;31m\]✗\[\e[0m\]' ;;
	esac
	case ${SHLVL-1} in
	1) level=. ;;
	2) level=: ;;
	3) level=⋮ ;;
	*) level=$SHLVL ;;
	esac
	if [[ -n ${ASSUME_ROLE-} ]]; then
		PS1=" $active $level [$ASSUME_ROLE] "
	else
		PS1=" $inactive $level [none] "
	fi
	# Expanded at each prompt, as geodesic does; the tests set it to the prompt they wait for.
	PS1+='${GEODESIC_PROMPT_GLYPHS-➤ }'
}
