# A login shell of the test geodesic: its profile.d files in geodesic's order
# (aws.sh, prompt.sh, then stage.sh, which sorts after both).
GEODESIC_SHELL=true
here=${BASH_SOURCE[0]%/*}
source "$here/geodesic-aws.sh"
source "$here/geodesic-prompt.sh"
source "$here/../../rootfs/etc/profile.d/stage.sh"
unset here
