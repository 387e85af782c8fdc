# TAP helpers for shell tests.  Source it: . "$top_srcdir/tests/tap/tap.sh"
# Functions: plan N, skip_all WHY, ok COND-STATUS DESC, is GOT WANT DESC,
# like GOT NEEDLE DESC, unlike GOT NEEDLE DESC, skip N WHY, diag MSG, done_testing.
_tap_n=0
_tap_fail=0
_tap_plan=
plan() { _tap_plan=$1; echo "1..$1"; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
_tap_result() {
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $_tap_n - $2"
	else echo "not ok $_tap_n - $2"; _tap_fail=$((_tap_fail + 1)); fi
}
# ok STATUS DESC: pass when STATUS is 0 (use: ok $? "desc" or ok "$(( a == b ? 0 : 1 ))" ...)
ok() { _tap_result "$1" "$2"; }
is() {
	if [ "$1" = "$2" ]; then _tap_result 0 "$3"
	else _tap_result 1 "$3"; diag "got '$1', want '$2'"; fi
}
like() {
	case "$1" in
	*"$2"*) _tap_result 0 "$3" ;;
	*) _tap_result 1 "$3"; diag "does not contain '$2':" "$1" ;;
	esac
}
unlike() {
	case "$1" in
	*"$2"*) _tap_result 1 "$3"; diag "contains '$2'" ;;
	*) _tap_result 0 "$3" ;;
	esac
}
skip() { _i=0; while [ $_i -lt "$1" ]; do _i=$((_i + 1)); _tap_n=$((_tap_n + 1)); echo "ok $_tap_n # SKIP $2"; done; }
done_testing() {
	[ -n "$_tap_plan" ] || echo "1..$_tap_n"
	if [ -n "$_tap_plan" ] && [ "$_tap_plan" -ne "$_tap_n" ]; then
		diag "planned $_tap_plan tests but ran $_tap_n"; exit 1
	fi
	[ "$_tap_fail" -eq 0 ]
}
# tap_mktemp: sets $TAPTMP to a private temp dir removed at exit.  Call it
# directly, not in $(...), so the trap belongs to the test's shell.
tap_mktemp() {
	TAPTMP=$(mktemp -d "${TMPDIR:-/tmp}/phd-tap-XXXXXX")
	trap 'rm -rf "$TAPTMP"' EXIT
}
# record_calls DIR TOOL...: DIR/TOOL runs $PHD_TOOLS/TOOL after appending its
# argv (one line, "TOOL ARGS...") to DIR/argv and its environment to
# DIR/env/TOOL.PID, so a test can search what the children were given.
record_calls() {
	_rd=$1; shift
	mkdir -p "$_rd/env"
	for _t in "$@"; do
		cat > "$_rd/$_t" <<W
#!/bin/sh
{ printf '$_t'; printf ' %s' "\$@"; printf '\n'; } >> "$_rd/argv"
env > "$_rd/env/$_t.\$\$"
exec "$PHD_TOOLS/$_t" "\$@"
W
		chmod +x "$_rd/$_t"
	done
}
