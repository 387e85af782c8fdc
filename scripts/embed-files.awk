# Each file named on the command line as one C initializer
#   { "BASENAME", "TEXT" },
# for src/init.c: `phdeploy init` writes the examples/ files as they are in
# the tree, so the starting configuration and the documented one are one.
FNR == 1 {
	if (NR > 1)
		print "\" },"
	n = split(FILENAME, parts, "/")
	printf "{ \"%s\",\n\"", parts[n]
}
{
	line = $0
	gsub(/\\/, "\\\\", line)
	gsub(/"/, "\\\"", line)
	gsub(/\t/, "\\t", line)
	printf "%s\\n\"\n\"", line
}
END {
	if (NR > 0)
		print "\" },"
}
