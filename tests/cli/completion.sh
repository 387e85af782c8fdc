#!/bin/sh
# contrib/bash-completion/phdeploy: sourced into bash, the completion
# function answers verbs, options, phases for --only/--skip (comma lists),
# text|json for --output, YAML files for -c/-f.
if [ -z "${BASH_VERSION:-}" ]; then
	command -v bash >/dev/null 2>&1 || { echo "1..0 # SKIP bash is not installed"; exit 0; }
	exec bash "$0" "$@"
fi
. "$top_srcdir/tests/tap/tap.sh"
tap_mktemp
cd "$TAPTMP" || exit 1
# shellcheck disable=SC1091
. "$top_srcdir/contrib/bash-completion/phdeploy"
ok "$(complete -p phdeploy >/dev/null 2>&1; echo $?)" "sourcing it registers a completion for phdeploy"

# comp WORD...: the words as bash splits the line (the last one being
# completed); prints the sorted candidates on one line
comp() {
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_phdeploy 2>/dev/null
	printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'
}

is "$(comp phdeploy '')" \
	"deploy doctor explain help history init migrate-release plan plugins preflight render repo rollback secrets status validate verify" \
	"an empty word offers every verb"
is "$(comp phdeploy re)" "render repo" "a prefix narrows the verbs"
is "$(comp phdeploy --ou)" "--output" "options complete"
is "$(comp phdeploy -o j)" "json junit" "-o completes like --output"
is "$(comp phdeploy -)" "$(printf '%s\n' -c --config -f --values --set --set-string --set-file \
	-n --namespace -r --release --chart --chart-version --kube-context --only --skip --helm \
	--kubectl -o --output --dry-run --force --to-revision --undo -y --yes -v --verbose -q --quiet --version -h --help | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')" \
	"a lone dash offers every option"
is "$(comp phdeploy --output '')" "json junit sarif text" "--output offers the four formats"
is "$(comp phdeploy --output = j)" "json junit" "... also as --output=VALUE"
is "$(comp phdeploy --only '')" "deploy preflight render repo rollback secrets validate verify" \
	"--only offers the phase names"
is "$(comp phdeploy --skip validate,pre)" "validate,preflight" \
	"--skip completes the last name of a comma list"
is "$(comp phdeploy deploy '')" "" "no second verb"
is "$(comp phdeploy deploy --dry)" "--dry-run" "but options still complete after the verb"
is "$(comp phdeploy -n validate '')" \
	"deploy doctor explain help history init migrate-release plan plugins preflight render repo rollback secrets status validate verify" \
	"an option's argument named like a verb is not the verb"
is "$(comp phdeploy -r '')" "" "no guesses for a release name"
# --kube-context: the contexts of the kubeconfig, through kubectl
if [ -x "${PHD_TOOLS:-}/kubectl" ]; then
	cat > kubeconfig <<'K'
apiVersion: v1
kind: Config
clusters: [ { name: c1, cluster: { server: "https://10.0.0.1" } } ]
users: [ { name: u1, user: {} } ]
contexts:
  - { name: prod-eu, context: { cluster: c1, user: u1 } }
  - { name: prod-us, context: { cluster: c1, user: u1 } }
  - { name: staging, context: { cluster: c1, user: u1 } }
current-context: staging
K
	is "$(KUBECONFIG=$PWD/kubeconfig PHDEPLOY_KUBECTL=$PHD_TOOLS/kubectl \
		comp phdeploy --kube-context prod)" "prod-eu prod-us" \
		"--kube-context offers the kubeconfig's contexts (real kubectl)"
	rm -f kubeconfig
else
	skip 1 "no kubectl in PHD_TOOLS"
fi

mkdir charts sub
: > phdeploy.yaml; : > values.yml; : > notes.txt; : > posthog-30.46.0.tgz
is "$(comp phdeploy -c '')" "charts phdeploy.yaml sub values.yml" \
	"-c offers YAML files and directories"
is "$(comp phdeploy --values v)" "values.yml" "--values completes a YAML file name"
is "$(comp phdeploy --chart '')" "charts posthog-30.46.0.tgz sub" "--chart offers .tgz files and directories"
is "$(comp phdeploy init '')" "charts sub" "init offers directories for its DIR"
is "$(comp phdeploy init sub '')" "" "and nothing after it"
is "$(comp phdeploy rollback --to-revision '')" "" "--to-revision takes a number: nothing offered"
done_testing
