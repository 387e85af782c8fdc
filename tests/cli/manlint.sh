#!/bin/sh
# Every man page in man/ is clean under mandoc's lint at level warning: a
# page that lints clean renders the same in man(1), mandoc and the HTML
# docs, and a broken macro shows up here instead of in a reader's terminal.
. "$top_srcdir/tests/tap/tap.sh"

command -v mandoc >/dev/null 2>&1 ||
	skip_all "mandoc is not installed (apt-get install mandoc)"

n=0
for f in "$top_srcdir"/man/*.[1-8]; do
	[ -f "$f" ] && n=$((n + 1))
done
[ "$n" -gt 0 ] || skip_all "no man pages in $top_srcdir/man"

plan "$n"
for f in "$top_srcdir"/man/*.[1-8]; do
	[ -f "$f" ] || continue
	name=man/${f##*/}
	out=$(mandoc -Tlint -W warning "$f" 2>&1)
	rc=$?
	# mandoc exits 0 only when it has nothing to say at this level
	if [ -z "$out" ] && [ "$rc" -eq 0 ]; then
		ok 0 "$name: mandoc -Tlint -W warning prints nothing"
	else
		ok 1 "$name: mandoc -Tlint -W warning prints nothing"
		diag "exit status $rc:" "$out"
	fi
done
done_testing
