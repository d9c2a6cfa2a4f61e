# A stand-in for geodesic's prompt.sh: hooks in PROMPT_HOOKS run before each
# prompt, and the prompt shows the role from ASSUME_ROLE.
PROMPT_HOOKS=()
geodesic_prompt() {
	PS1="${ASSUME_ROLE:+[$ASSUME_ROLE] }PROMPT\$ "
}
PROMPT_HOOKS+=(geodesic_prompt)
prompt() {
	local hook
	for hook in "${PROMPT_HOOKS[@]}"; do
		"$hook"
	done
}
PROMPT_COMMAND=prompt
