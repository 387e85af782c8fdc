# Build the table of `phdeploy explain` from the man pages, so the two can
# never say different things: the entries of phdeploy(1)'s EXIT STATUS list
# and of every plugin page's FINDINGS list whose tag is a rule id
# (".It Li rule-id Pq ..." or ".It Sy rule-id Pq ...").  mdoc is flattened
# to plain text: macros dropped, their words kept.
# Output: C initialisers { "topic", "page", "text" },
function flush() {
	if (topic != "" && text != "") {
		gsub(/\\/, "\\\\", text); gsub(/"/, "\\\"", text)
		sub(/^ +/, "", text); sub(/ +$/, "", text)
		printf "{ \"%s\", \"%s\", \"%s\" },\n", topic, page, text
	}
	topic = ""; text = ""
}
function flat(line,    n, w, i, out, t, sep, closing) {
	gsub(/\\&/, "", line); gsub(/\\\(dq/, "\"", line); gsub(/\\e/, "\\", line)
	gsub(/\\\(em/, "-", line); gsub(/\\\(>=/, ">=", line); gsub(/\\\(<=/, "<=", line)
	if (line !~ /^\./)
		return line
	n = split(substr(line, 2), w, " ")
	out = ""; sep = ""; closing = ""
	for (i = 1; i <= n; i++) {
		t = w[i]
		if (t ~ /^(Li|Sy|Pq|Po|Pc|Ns|No|Cm|Ar|Fl|Dq|Ql|Pf|Ev|Pa|Xr|Va|Dv|Fn|Fa|Em|Sq|Op|Oo|Oc|Bq|Qq|Ic|Nm|Ta|Sx|Ss|Pp|Bd|Ed|It)$/) {
			if (t == "Fl") { out = out sep "-"; sep = "" }
			if (t == "Pq" || t == "Po") { out = out sep "("; sep = "" }
			if (t == "Pq") closing = closing ")"
			if (t == "Pc") { out = out ")"; sep = " " }
			if (t == "Dq") { out = out sep "\""; sep = ""; closing = closing "\"" }
			if (t == "Ns") sep = ""
			continue
		}
		if (t ~ /^[,.;:)]$/) { out = out t; sep = " "; continue }
		out = out sep t; sep = " "
		if (w[i - 1] == "Xr" && i < n && w[i + 1] ~ /^[0-9]$/) { out = out "(" w[i + 1] ")"; i++ }
	}
	if (closing != "" && out ~ /[,.;:]$/)
		return substr(out, 1, length(out) - 1) closing substr(out, length(out))
	return out closing
}
FNR == 1 { flush(); section = ""; page = FILENAME; sub(/.*\//, "", page); depth = 0 }
/^\.Sh / { flush(); section = substr($0, 5); depth = 0; next }
section != "EXIT STATUS" && section != "FINDINGS" { next }
/^\.Bl / { depth++; next }
/^\.El/ { depth--; if (depth == 0) flush(); next }
/^\.It / && depth == 1 {
	flush()
	if (section == "EXIT STATUS" && $2 ~ /^[0-9]+$/)
		topic = $2
	else if (section == "FINDINGS" && ($2 == "Li" || $2 == "Sy") && $3 ~ /^[a-z0-9][a-z0-9-]+$/ && $4 == "Pq")
		topic = $3
	next
}
topic != "" { t = flat($0); if (t != "") text = text " " t }
END { flush() }
