# A login shell of the test geodesic: its profile.d files in geodesic's order (aws.sh, prompt.sh,
# then stage.sh, which sorts after both), after the helpers they call from earlier files.
GEODESIC_SHELL=true

# _10-colors.sh on a colour terminal: each colour plain (with a newline), and with -n for a
# prompt (no newline, the escapes between \001 and \002 so that readline counts them as nothing).
red() { printf '\e[31m%s\e[39;49m\n' "$*"; }
green() { printf '\e[32m%s\e[39;49m\n' "$*"; }
red-n() { printf '\001\e[31m\002%s\001\e[39;49m\002' "$*"; }
green-n() { printf '\001\e[32m\002%s\001\e[39;49m\002' "$*"; }
bold-red-n() { printf '\001\e[1m\e[31m\002%s\001\e[39;49m\e[22m\002' "$*"; }
bold-green-n() { printf '\001\e[1m\e[32m\002%s\001\e[39;49m\e[22m\002' "$*"; }
bold() { printf '\001\e[1m\002%s\001\e[22m\002' "$*"; }

# _50-workspace.sh: whether a path is on the host's file system (none is mounted here).
file_on_host() {
	local file path
	file="$(readlink -e "$1")" || return 1
	for path in "${GEODESIC_HOST_PATHS[@]}"; do
		[[ $path =~ ^/*$ ]] && continue
		[[ $file == "$path" || $file == "$path"* ]] && return 0
	done
	return 1
}

# terraform.sh without terraform installed.
_update_terraform_prompt() { :; }

here=${BASH_SOURCE[0]%/*}
source "$here/geodesic-aws.sh"
source "$here/geodesic-prompt.sh"
source "$here/../../rootfs/etc/profile.d/stage.sh"
unset here
