# Installs, on Debian or Ubuntu, the system packages Gome's example tasks, tests and local sandbox
# need: Debian's Python with numpy, pandas, SciPy, scikit-learn and Pillow (the digits example's
# image solution reads PNG files with it), and curl (agents/gome/start.sh checks a submission with
# MLE-bench's validation server through it, as its test does). Sourced by scripts/demo and
# .ci/run; it installs only what is missing.
gome_prereqs() {
	local need=() p
	for p in python3 python3-numpy python3-pandas python3-scipy python3-sklearn python3-pil curl; do
		dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
	done
	[ ${#need[@]} -eq 0 ] && return 0
	local sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	echo "installing ${need[*]}" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}
