#!/bin/sh
# Every function the library exports has a reference page man/<name>.3 (its
# family's page, or a symbolic link to it), the page names the function and
# shows its prototype exactly as the header declares it, and every family
# page has the sections a reference page needs.  A new PHD_EXTERN function
# without a page, or a header change the page did not follow, fails here.
. "$top_srcdir/tests/tap/tap.sh"

man=$top_srcdir/man
inc=$top_srcdir/libphdeploy/include/phdeploy
lib=$top_builddir/libphdeploy/.libs/libphdeploy.so
tap_mktemp

# "type name(args)" per PHD_EXTERN declaration, spacing normalised
awk '/^PHD_EXTERN/ { p = ""; on = 1 }
     on { p = p " " $0; if ($0 ~ /;/) { on = 0; print p } }' \
	"$inc/phdeploy.h" "$inc/plugin.h" |
	sed -e 's/PHD_EXTERN//' -e 's/PHD_V*PRINTF([0-9, ]*)//' -e 's/;.*//' |
	sed -e 's/[[:space:]][[:space:]]*/ /g' -e 's/^ //' -e 's/ $//' \
	    -e 's/\* /*/g' -e 's/( /(/g' -e 's/ )/)/g' -e 's/ ,/,/g' >"$TAPTMP/protos"
sed 's/^.*[ *]\(phd_[a-z0-9_]*\)(.*/\1/' "$TAPTMP/protos" | sort -u >"$TAPTMP/declared"

# the page's .Ft/.Fn pair for name, in the same form
page_proto() { # page name
	awk -v name="$2" '
	function args(s,   out, a, i, n) {
		out = ""; n = 0
		for (;;) {
			sub(/^[ \t]+/, "", s)
			if (s == "") break
			if (substr(s, 1, 1) == "\"") {
				s = substr(s, 2); i = index(s, "\"")
				if (i == 0) { a = s; s = "" }
				else { a = substr(s, 1, i - 1); s = substr(s, i + 1) }
			} else if (match(s, /[ \t]/)) {
				a = substr(s, 1, RSTART - 1); s = substr(s, RSTART)
			} else { a = s; s = "" }
			out = out (n++ ? ", " : "") a
		}
		return out
	}
	/^\.Sh / { syn = ($2 == "SYNOPSIS") }
	syn && /^\.Ft / { ft = substr($0, 5) }
	syn && /^\.Fn / && $2 == name {
		rest = substr($0, 5 + length(name))
		print ft " " name "(" args(rest) ")"
	}' "$1" |
	sed -e 's/[[:space:]][[:space:]]*/ /g' -e 's/\* /*/g'
}

if [ -f "$lib" ] && command -v nm >/dev/null 2>&1; then
	nm -D --defined-only "$lib" |
		awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | sort -u >"$TAPTMP/exported"
	have_lib=1
else
	: >"$TAPTMP/exported"
	have_lib=0
fi
sort -u "$TAPTMP/exported" "$TAPTMP/declared" >"$TAPTMP/symbols"

# family pages: man/phd_*.3 whose first .Nm is their own name (in a dist
# tarball the links are copies, so a page is told by its content)
: >"$TAPTMP/families"
for f in "$man"/phd_*.3; do
	[ -f "$f" ] || continue
	base=${f##*/}
	first=$(awk '/^\.Nm / { print $2; exit }' "$f")
	[ "$first" = "${base%.3}" ] && echo "$f" >>"$TAPTMP/families"
done

nsym=$(wc -l <"$TAPTMP/symbols")
nfam=$(wc -l <"$TAPTMP/families")
[ "$nsym" -gt 0 ] || skip_all "no PHD_EXTERN declaration found in $inc"
plan $((2 + 2 * nsym + nfam))

if [ "$have_lib" -eq 1 ]; then
	diff "$TAPTMP/declared" "$TAPTMP/exported" >"$TAPTMP/diff"
	ok $? "the library exports exactly the PHD_EXTERN functions of the headers"
	[ -s "$TAPTMP/diff" ] && diag "< declared only, > exported only:" "$(cat "$TAPTMP/diff")"
else
	skip 1 "libphdeploy.so not built (or no nm): the headers' list is used"
fi

while read -r sym; do
	f=$man/$sym.3
	st=1
	if [ -L "$f" ]; then
		t=$(readlink "$f")
		case $t in
		*/*) diag "man/$sym.3 links to $t: a link stays in man/ (ln -s page.3)" ;;
		*) if [ -f "$man/$t" ] && [ ! -L "$man/$t" ] && grep -qx "$man/$t" "$TAPTMP/families"
			then st=0
			else diag "man/$sym.3 links to $t, which is not a family page in man/" \
				"(a family page is named for the first function of its NAME)"
			fi ;;
		esac
	elif [ -f "$f" ]; then
		st=0
	else
		diag "no man/$sym.3: add $sym to its family's page (NAME, SYNOPSIS)" \
			"and link it: ln -s FAMILY.3 man/$sym.3"
	fi
	ok $st "man/$sym.3 exists (a page, or a link to its family's page)"

	want=$(grep "[ *]$sym(" "$TAPTMP/protos")
	if [ ! -f "$f" ]; then
		ok 1 "man/$sym.3 names $sym and shows its prototype as the header has it"
		continue
	fi
	named=$(awk -v n="$sym" '/^\.Sh / { nm = ($2 == "NAME") }
		nm && /^\.Nm / && $2 == n { print "yes"; exit }' "$f")
	got=$(page_proto "$f" "$sym")
	if [ "$named" = yes ] && [ -n "$want" ] && [ "$got" = "$want" ]; then
		ok 0 "man/$sym.3 names $sym and shows its prototype as the header has it"
	else
		ok 1 "man/$sym.3 names $sym and shows its prototype as the header has it"
		[ "$named" = yes ] || diag "NAME has no '.Nm $sym'"
		diag "header: $want" "page:   ${got:-(no .Ft/.Fn $sym in SYNOPSIS)}"
	fi
done <"$TAPTMP/symbols"

orphans=
for f in "$man"/phd_*.3; do
	[ -e "$f" ] || continue
	b=${f##*/}
	grep -qx "${b%.3}" "$TAPTMP/symbols" || orphans="$orphans ${b}"
done
[ -z "$orphans" ]
ok $? "every man/phd_*.3 is named for a public function"
[ -n "$orphans" ] && diag "no such function:$orphans"

while read -r f; do
	missing=
	for s in NAME LIBRARY SYNOPSIS DESCRIPTION 'RETURN VALUES' EXAMPLES ERRORS \
		'SEE ALSO' HISTORY; do
		grep -qx "\.Sh $s" "$f" || missing="$missing, $s"
	done
	grep -q '^\.Ss Ownership' "$f" || missing="$missing, .Ss Ownership and lifetime"
	awk '/^\.Sh HISTORY/ { h = 1; next } /^\.Sh / { h = 0 }
	     h && /first appeared in libphdeploy [0-9]+\.[0-9]+\.[0-9]+/ { found = 1 }
	     END { exit !found }' "$f" || missing="$missing, HISTORY: first appeared in libphdeploy X.Y.Z"
	awk '/^\.Sh EXAMPLES/ { e = 1 } e && /^\.Bd -literal$/ { found = 1 }
	     END { exit !found }' "$f" || missing="$missing, a .Bd -literal example"
	[ -z "$missing" ]
	ok $? "man/${f##*/} has the sections of a reference page"
	[ -n "$missing" ] && diag "missing: ${missing#, }"
done <"$TAPTMP/families"
done_testing
