#!/bin/bash
# What a newcomer meets first: `minik8s status` on a stopped node (how to start it,
# --data-dir, the flags and log of a node that died), the server's -v N verbosity
# (request log lines at -v 4: verb, URI, status, latency, user, client address; none
# at the default), and `minik8s completion bash|zsh` driven for real: an interactive
# bash and zsh in tmux, keys typed, the completed command line read off the screen.
. "$(dirname "$0")/../lib/lib.sh"
curl_max_time 10
[ -x "$MINIK8S" ] || { fail newcomer_setup "build/minik8s missing"; exit 0; }

# ---- status on a node that never ran ----
out=$("$MINIK8S" status --run-dir "$T/norun" --data-dir "$T/nodata" 2>&1)
rc=$?
expect_eq status_stopped_exit "$rc" 3
expect_match status_stopped_says_how "$out" 'not running'$'\n''  start it:  minik8s up '
expect_match status_stopped_data_dir "$out" "state: +$T/nodata \\(none: never started with this --data-dir\\)"
out=$("$MINIK8S" status --data-dir="$T" --run-dir="$T/norun" 2>&1)
expect_match status_data_dir_equals_form "$out" "state: +$T \\(no log yet\\)"
out=$("$MINIK8S" status --data-dir 2>&1)
expect_eq status_flag_needs_value "$?:$out" "2:minik8s status: --data-dir needs a value (see 'minik8s status --help')"
expect_match status_help_mentions_data_dir "$("$MINIK8S" status --help)" '--data-dir DIR'

# ---- status on a node whose minik8s died: the flags of its last start, its log ----
UPPORT=$(free_port)
UPFLAGS=(--data-dir "$T/updata" --run-dir "$T/uprun" --write-kubeconfig "$T/upkc" --bind-address 127.0.0.1
	--https-listen-port "$UPPORT" --disable-agent)
on_exit "'$MINIK8S' down --purge --run-dir '$T/uprun' --data-dir '$T/updata' --write-kubeconfig '$T/upkc'"
if "$MINIK8S" up "${UPFLAGS[@]}" >"$T/up.out" 2>&1; then
	pid=$(cat "$T/uprun/minik8s.pid")
	_PIDS+=("$pid")
	out=$("$MINIK8S" status --run-dir "$T/uprun" --kubeconfig "$T/upkc" 2>&1)
	expect_match status_running_log "$out" "running, pid $pid"$'\n'".*  log: +$T/updata/minik8s.log"
	kill -9 "$pid"
	wait_until 50 bash -c "! kill -0 $pid 2>/dev/null"
	out=$("$MINIK8S" status --run-dir "$T/uprun" 2>&1)
	expect_eq status_died_exit "$?" 3
	expect_contains status_died_restart_command "$out" \
		"start it:  minik8s up --data-dir $T/updata --run-dir $T/uprun --write-kubeconfig $T/upkc"
	expect_contains status_died_last_log "$out" "last log:  $T/updata/minik8s.log"
else
	fail status_up "minik8s up failed: $(tail -5 "$T/up.out")"
fi

# ---- -v N: the request log ----
# default verbosity: no request lines
if start_server; then
	api GET /api/v1/namespaces
	expect_code verbosity_default_request 200
	stop_server
	expect_eq verbosity_default_no_request_log "$(grep -c 'HTTP verb=' "$T/server.log")" 0
	: >"$T/server.log"
	unset PORT
	if start_server -v 4; then
		api GET /api/v1/namespaces/default/pods
		TOKEN=wrong api GET /api/v1/nodes
		curl -s --cacert "$CACERT" "$API/api/v1/namespaces/nope/services/x" -H "Authorization: Bearer $(cat "$DATA/token")" >/dev/null
		stop_server
		log=$(cat "$T/server.log")
		expect_match verbosity_4_logs_request "$log" \
			'apiserver: HTTP verb=GET URI="/api/v1/namespaces/default/pods" resp=200 latency=[0-9]+\.[0-9]{3}ms user=system:admin srcIP=127\.0\.0\.1'
		expect_match verbosity_4_logs_unauthorized "$log" \
			'HTTP verb=GET URI="/api/v1/nodes" resp=401 latency=[0-9.]+ms user=system:anonymous srcIP=127\.0\.0\.1'
		expect_match verbosity_4_logs_not_found "$log" 'HTTP verb=GET URI="/api/v1/namespaces/nope/services/x" resp=404 '
	else
		fail verbosity_4_server "server -v 4 did not start"
	fi
else
	fail verbosity_server "server did not start"
fi
out=$("$MINIK8S" server -v 11 2>&1)
expect_eq verbosity_out_of_range "$?:$out" "2:minik8s server: invalid verbosity '11' (want -v N, N 0..10) (see 'minik8s server --help')"
out=$("$MINIK8S" agent --v=x 2>&1)
expect_match verbosity_agent_bad_value "$?:$out" "^2:minik8s agent: invalid verbosity 'x'"
expect_match verbosity_in_help "$("$MINIK8S" server --help)" '-v N, --v=N +log verbosity'

# ---- completion ----
check completion_bash_syntax bash -n <("$MINIK8S" completion bash)
out=$("$MINIK8S" completion fish 2>&1)
expect_eq completion_unsupported_shell "$?:$out" "2:minik8s completion: unsupported shell 'fish' (bash or zsh) (see 'minik8s completion --help')"
# every command of `minik8s --help` is in both scripts
cmds=$("$MINIK8S" --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }' | sort | tr '\n' ' ')
bcmds=$("$MINIK8S" completion bash | sed -n "s/^\t\([a-z-]*\)) flags=.*/\1/p" | sort | tr '\n' ' ')
expect_eq completion_bash_all_commands "$bcmds" "$cmds"
zcmds=$("$MINIK8S" completion zsh | sed -n "s/^\t\t'\([a-z-]*\):.*/\1/p" | sort | tr '\n' ' ')
expect_eq completion_zsh_all_commands "$zcmds" "$cmds"

# A real shell in tmux (its own server socket): type, press Tab, read the line back.
BIN=$T/bin
mkdir -p "$BIN" "$T/home" "$T/cdir/datadir-one"
ln -s "$MINIK8S" "$BIN/minik8s"
TMUX_SOCK=$T/tmux.sock
tm() { tmux -S "$TMUX_SOCK" "$@"; }
on_exit "tmux -S '$TMUX_SOCK' kill-server"
# screen_line: the last non-empty line of the pane
screen_line() { tm capture-pane -p -t t | sed '/^ *$/d' | tail -1 | sed 's/ *$//'; }
# complete NAME TYPED WANT_REGEX: types TYPED, Tab (twice: zsh lists on the second),
# expects the prompt line to match WANT_REGEX, then clears the line
complete_check() {
	local name=$1 typed=$2 want=$3 got i
	tm send-keys -t t -l "$typed"
	tm send-keys -t t Tab
	for i in $(seq 30); do
		got=$(screen_line)
		[[ "$got" =~ $want ]] && break
		sleep 0.1
	done
	expect_match "$name" "$got" "$want"
	tm send-keys -t t C-u
	tm send-keys -t t C-l
	sleep 0.2
}
if command -v tmux >/dev/null; then
	"$MINIK8S" completion bash >"$T/minik8s.bash"
	tm -f /dev/null new-session -d -s t -x 200 -y 20 \
		"env -i HOME=$T/home PATH=$BIN:/usr/bin:/bin TERM=xterm PS1='B\$ ' bash --norc --noprofile"
	tm send-keys -t t "cd $T/cdir && source $T/minik8s.bash" Enter
	sleep 0.3
	tm send-keys -t t C-l
	complete_check completion_bash_command 'minik8s sta' '^B\$ minik8s status$'
	complete_check completion_bash_flag 'minik8s down --pu' '^B\$ minik8s down --purge$'
	complete_check completion_bash_dir_value 'minik8s status --data-dir data' '^B\$ minik8s status --data-dir datadir-one$'
	complete_check completion_bash_kubectl_verb 'minik8s kubectl desc' '^B\$ minik8s kubectl describe$'
	complete_check completion_bash_kubectl_resource 'minik8s kubectl get deplo' '^B\$ minik8s kubectl get deployments$'
	complete_check completion_bash_image_sub 'minik8s image imp' '^B\$ minik8s image import$'
	tm kill-session -t t
	if command -v zsh >/dev/null; then
		"$MINIK8S" completion zsh >"$T/_minik8s"
		check completion_zsh_syntax zsh -n "$T/_minik8s"
		printf 'autoload -U compinit && compinit -u -d %s/zcompdump\nsource %s/_minik8s\nPS1="Z> "\n' "$T" "$T" >"$T/home/.zshrc"
		tm new-session -d -s t -x 200 -y 20 \
			"env -i HOME=$T/home ZDOTDIR=$T/home PATH=$BIN:/usr/bin:/bin TERM=xterm zsh -i"
		sleep 1
		tm send-keys -t t "cd $T/cdir" Enter
		sleep 0.3
		tm send-keys -t t C-l
		complete_check completion_zsh_command 'minik8s sta' '^Z> minik8s status$'
		complete_check completion_zsh_flag 'minik8s down --pu' '^Z> minik8s down --purge$'
		complete_check completion_zsh_kubectl_resource 'minik8s kubectl get deplo' '^Z> minik8s kubectl get deployments$'
		complete_check completion_zsh_dir_value 'minik8s status --data-dir data' '^Z> minik8s status --data-dir datadir-one/$'
		tm kill-session -t t
	else
		fail completion_zsh "zsh is not installed (scripts/deps.sh test)"
	fi
else
	fail completion_tmux "tmux is not installed (scripts/deps.sh test)"
fi
done_testing
