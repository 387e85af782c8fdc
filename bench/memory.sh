#!/bin/sh
# Bench: peak RSS of `phdeploy validate` and `phdeploy render` against the
# size of their input: values files and manifest streams of 1, 10 and 100 MB
# (SIZES), with the plugins that read them (helm, ha, kube; images would
# look every synthetic image up on the network).  Prints peak RSS and its
# ratio to the input size.  Not a test.  The synthetic Deployments break HA
# rules: findings make the exit code non-zero, which is fine here; a crash
# or a usage error is not.
#   BUILDDIR=_build bench/memory.sh       Env: SIZES (MB, default "1 10 100")
#
# helm is a stand-in here (a shell script: `template` prints the stream), so
# the peak is phdeploy's own and not helm's: wait4's peak RSS covers the
# children too, and real helm holds a 100 MB stream several times over.
set -eu
. "$(dirname "$0")/helm-lib.sh"
sizes=${SIZES:-1 10 100}
chart=$fx/posthog-30.46.0.tgz
need "$PHDEPLOY" "$chart"
PHDEPLOY_PLUGIN_PATH=$build/plugins/helm/.libs:$build/plugins/ha/.libs:$build/plugins/kube/.libs
export PHDEPLOY_PLUGIN_PATH

# gen KIND MB: a values file (nested maps, lists, strings) or a stream of
# Deployments, each about 1 KB, to MB megabytes
gen() {
	python3 - "$1" "$2" <<'PY'
import sys
kind, mb = sys.argv[1], int(sys.argv[2])
out, n, size = sys.stdout, 0, 0
limit = mb * 1024 * 1024
if kind == "values":
    out.write("extra:\n")
while size < limit:
    if kind == "values":
        s = (f"  key{n}:\n    enabled: true\n    replicas: {n % 7}\n"
             f"    name: \"service-{n}\"\n    tags: [a{n}, b{n}, c{n}]\n"
             f"    env:\n" + "".join(f"    - name: VAR_{i}\n      value: \"v{n}-{i}\"\n"
                                    for i in range(8)))
    else:
        s = (f"---\n# Source: bench/templates/d{n}.yaml\napiVersion: apps/v1\nkind: Deployment\n"
             f"metadata:\n  name: bench-{n}\n  labels:\n    app: bench-{n}\n"
             f"spec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: bench-{n}\n"
             f"  template:\n    metadata:\n      labels:\n        app: bench-{n}\n"
             f"    spec:\n      containers:\n      - name: app\n        image: example/app:{n}\n"
             f"        resources:\n          requests: {{cpu: 100m, memory: 128Mi}}\n"
             f"        env:\n" + "".join(f"        - name: VAR_{i}\n          value: \"v{n}-{i}\"\n"
                                         for i in range(8)))
    out.write(s)
    size += len(s)
    n += 1
PY
}

cat > "$tmp/helm" <<'SH'
#!/bin/sh
case $1 in
version) echo v4.1.4 ;;
template) cat "$BENCH_STREAM" ;;
*) exit 1 ;;
esac
SH
chmod +x "$tmp/helm"
# the HA values the project ships, so the validators pass; the big file on top
ha=$top/examples/values.yaml
config() { # NAME VALUES
	cat > "$tmp/$1.yaml" <<CFG
release: posthog
namespace: posthog
chart: { name: "$chart" }
values: [$2]
kube: { version: "1.29" }
helm: { post_render: false }
CFG
}
gen manifests 1 > "$tmp/stream-base.yaml"
echo "$(basename "$0"): peak RSS against the input ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-34s %8s %14s %8s\n' "run" "input MB" "peak RSS MiB" "RSS/input"
for mb in $sizes; do
	gen values "$mb" > "$tmp/values-$mb.yaml"
	gen manifests "$mb" > "$tmp/stream-$mb.yaml"
	config "v$mb" "\"$ha\", \"$tmp/values-$mb.yaml\""
	config "m$mb" "\"$ha\""
	for run in "validate values $tmp/values-$mb.yaml v$mb validate stream-base" \
		"render values $tmp/values-$mb.yaml v$mb render stream-base" \
		"render manifests $tmp/stream-$mb.yaml m$mb render stream-$mb"; do
		set -- $run
		in_mb=$(awk "BEGIN{printf \"%.1f\", $(wc -c < "$3") / 1048576}")
		# GNU time forks the command from a small process: its peak is
		# phdeploy's (and the stand-in's), not an interpreter's
		rc=0
		BENCH_STREAM=$tmp/$6.yaml /usr/bin/time -f %M -o "$tmp/rss" \
			"$PHDEPLOY" --helm "$tmp/helm" -c "$tmp/$4.yaml" "$5" > /dev/null 2> "$tmp/err" || rc=$?
		kib=$(tail -n 1 "$tmp/rss")
		case $rc in 1 | 2 | 127) kib=-1 ;; esac
		if grep -q 'larger than' "$tmp/err"; then
			printf '%-34s %8s %s\n' "$5 ($1 $2)" "$(awk "BEGIN{printf \"%.1f\", $(wc -c < "$3") / 1048576}")" \
				"refused: $(grep -o '[a-z ]*larger than [0-9]* [MGK]iB' "$tmp/err" | head -n 1)"
			continue
		fi
		if [ "$kib" -lt 0 ]; then
			echo "$(basename "$0"): phdeploy $5 failed on $3" >&2
			BENCH_STREAM=$tmp/$6.yaml "$PHDEPLOY" --helm "$tmp/helm" -c "$tmp/$4.yaml" "$5" \
				> /dev/null
			exit 1
		fi
		printf '%-34s %8s %14.1f %8.2f\n' "$5 ($1 $2)" "$in_mb" \
			"$(awk "BEGIN{print $kib / 1024}")" "$(awk "BEGIN{print $kib / 1024 / $in_mb}")"
	done
done
