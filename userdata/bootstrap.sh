#!/bin/bash
# longtask bootstrap: runs the user's script on a throwaway instance, always reports the outcome to S3,
# then powers the instance off (InstanceInitiatedShutdownBehavior=terminate turns that into a terminate).
#
# Set by the launcher where the marker below stands (functions/launcher/launcher/userdata.py):
#   LONGTASK_RUN_ID, LONGTASK_BUCKET, LONGTASK_PREFIX (runs/<run id>), LONGTASK_DEADLINE (epoch seconds),
#   LONGTASK_ARTIFACTS_URI, LONGTASK_ATTEMPT (0, or the relaunch's number), LONGTASK_SCRIPT_URI (only when
#   the script is fetched from S3),
#   LONGTASK_BACKSTOP_GRACE_MINUTES (minutes after the deadline the instance powers itself off: longer than the
#   workflow's timeout guard may take, see watch_plan.py), LONGTASK_ENV_NAMES (the names of the user's env),
#   LONGTASK_STALL_SECONDS and LONGTASK_ON_STALL (only when the run watches for stalls), LONGTASK_HOLD_SECONDS
#   (only when a failed script's instance is held), LONGTASK_SECRET_REFS ("NAME=ARN ...": the secrets to read;
#   only when the run has any), LONGTASK_ELASTIC_IPS (only when the run has an Elastic IP: its pool's addresses),
#   the user's env.
# Facts of the machine, with the defaults of an Amazon Linux 2023 instance:
#   LONGTASK_CONSOLE_LOG (/var/log/cloud-init-output.log), LONGTASK_WORK_DIR (/var/lib/longtask),
#   LONGTASK_LOG_INTERVAL (30, seconds between live log uploads), LONGTASK_IMDS_ENDPOINT (the instance metadata
#   service, http://169.254.169.254), LONGTASK_NOTICE_INTERVAL (5, seconds between looks for a Spot notice),
#   LONGTASK_CHECKPOINT_INTERVAL (60, seconds between checkpoint syncs), LONGTASK_REPORT_RESERVE_SECONDS (30, of a
#   Spot notice's two minutes kept for the final checkpoint sync and the report after the script is stopped),
#   LONGTASK_STALL_INTERVAL (5, seconds between looks for the script's progress), LONGTASK_HOLD_INTERVAL (5,
#   seconds between looks for a release of a hold).
# The script gets LONGTASK_CHECKPOINT_DIR: a directory synced to runs/<run id>/checkpoint/ while it runs and at
# the end, and restored before a relaunched attempt's script starts (files are added and replaced, never removed);
# and LONGTASK_HEARTBEAT_FILE, which it may touch to show progress without output (`touch "$LONGTASK_HEARTBEAT_FILE"`).
# shellcheck disable=SC2329  # report, on_signal and json_string run from the traps
# @@LONGTASK_CONFIG@@
set -uo pipefail

console_log=${LONGTASK_CONSOLE_LOG:-/var/log/cloud-init-output.log}
work_dir=${LONGTASK_WORK_DIR:-/var/lib/longtask}
log_interval=${LONGTASK_LOG_INTERVAL:-30}
imds=${LONGTASK_IMDS_ENDPOINT:-http://169.254.169.254}
notice_interval=${LONGTASK_NOTICE_INTERVAL:-5}
checkpoint_interval=${LONGTASK_CHECKPOINT_INTERVAL:-60}
report_reserve=${LONGTASK_REPORT_RESERVE_SECONDS:-30}
export LONGTASK_CHECKPOINT_DIR="$work_dir/checkpoint"
export LONGTASK_HEARTBEAT_FILE="$work_dir/heartbeat"
stall_seconds=${LONGTASK_STALL_SECONDS:-}
on_stall=${LONGTASK_ON_STALL:-notify}
stall_interval=${LONGTASK_STALL_INTERVAL:-5}
hold_seconds=${LONGTASK_HOLD_SECONDS:-}
hold_interval=${LONGTASK_HOLD_INTERVAL:-5}
hold_until=""
holding=false
grace_minutes=${LONGTASK_BACKSTOP_GRACE_MINUTES:?set by the launcher}
run_uri="s3://${LONGTASK_BUCKET}/${LONGTASK_PREFIX}"
real_shutdown=$(command -v shutdown || echo /sbin/shutdown)
started_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
exit_code=""
reason=""
interrupted=false
notice="" # what EC2 announced: spot/instance-action (a rebalance recommendation only syncs the checkpoint)
script_pid=""
uploader_pid=""
notice_watcher_pid=""
checkpoint_syncer_pid=""
stall_watcher_pid=""
stalled_at=""
error_name="" # the error the run ends with when it is not the script's own (LongTask.SecretUnavailable)
sink_pid=""
mask_values="$work_dir/mask-values"
address_timeout=${LONGTASK_ADDRESS_TIMEOUT:-180}
diagnostics_uri=""
checkpoint_state=""
bootstrap_pid=$BASHPID

upload_timeout=60
denied_timeout=10
attempt_timeout=$upload_timeout # what one try may take
small_attempt_timeout=20 # for a file under 8 MiB: a try still going then is stuck (a connection that never answers)
# `aws s3 cp|sync ARGS...`, tried again a second later until it works or upload_timeout has passed: a call can fail
# for a moment (the credentials from IMDS, a connection), and what it carries is the run's report. A refusal
# (AccessDenied) is tried again for denied_timeout only: a change to the instance role's policies takes a few
# seconds to be seen everywhere, and then a refusal stays one
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency).
# Errors are shown. (No command substitution here: bash loses track of one in the report, a trap run while `wait`
# is interrupted, and says "wait_for: No record of process".)
s3() {
  local until=$((SECONDS + upload_timeout)) denied_until=$((SECONDS + denied_timeout)) left
  local errors="$work_dir/s3-errors.$BASHPID"
  while left=$((until - SECONDS)) && ((left > 0)); do
    timeout "$((left < attempt_timeout ? left : attempt_timeout))" aws s3 "$1" --only-show-errors "${@:2}" 2>"$errors" &&
      { rm -f "$errors"; return 0; }
    cat "$errors" >&2
    grep -q "(AccessDenied)" "$errors" && ((SECONDS >= denied_until)) && break
    sleep 1
  done
  rm -f "$errors"
  return 1
}

# Fetch the user's script into $1 (once: a script that is missing or forbidden stays so). Replaced by an inline copy
# when the script fits in the user data.
write_script() {
  timeout "$upload_timeout" aws s3 cp --only-show-errors "$LONGTASK_SCRIPT_URI" "$1"
}
# @@LONGTASK_SCRIPT@@

upload() {
  s3 cp "$1" "$run_uri/$2" || echo "longtask: could not upload $2" >&2
}

# result.json and the whole log. A log under the AWS CLI's multipart threshold (8 MiB) goes up beside result.json
# in one process (starting one costs as much as a small upload); a larger one goes up after it, so that its upload
# never delays what the workflow needs most.
one_process_limit=$((8 * 1024 * 1024))
upload_report() {
  local report="$work_dir/report"
  if (($(stat -c %s "$console_log" 2>/dev/null || echo 0) < one_process_limit)) &&
    rm -rf "$report" && mkdir -p "$report" && cp "$work_dir/result.json" "$report/result.json" &&
    cp "$console_log" "$report/cloud-init-output.log"; then
    attempt_timeout=$small_attempt_timeout s3 cp --recursive "$report" "$run_uri/" ||
      echo "longtask: could not upload result.json and the log" >&2
  else
    attempt_timeout=$small_attempt_timeout upload "$work_dir/result.json" result.json
    upload "$console_log" cloud-init-output.log
  fi
}

# An in-instance backstop: the instance powers off a little after the deadline even if the workflow is gone.
schedule_backstop() {
  local seconds_left=$((LONGTASK_DEADLINE - $(date +%s)))
  ((seconds_left < 0)) && seconds_left=0
  "$real_shutdown" -h "+$(((seconds_left + 59) / 60 + grace_minutes))" >/dev/null 2>&1 ||
    echo "longtask: could not schedule the backstop shutdown" >&2
}

# The script's own `shutdown now` ends the script; the bootstrap reports before the instance goes down.
install_shutdown_wrapper() {
  mkdir -p "$work_dir/bin"
  cat >"$work_dir/bin/shutdown" <<WRAPPER
#!/bin/bash
# Installed by the longtask bootstrap. A delayed shutdown or a cancel goes to the real command;
# an immediate one ends the script so that the bootstrap reports the outcome before powering off.
for arg in "\$@"; do
  case "\$arg" in
    -c | +[1-9]* | [0-9]*:[0-9]*) exec $(printf %q "$real_shutdown") "\$@" ;;
  esac
done
: >$(printf %q "$work_dir/shutdown-requested")
kill -TERM "\$(cat $(printf %q "$work_dir/script.pid"))" 2>/dev/null
exit 0
WRAPPER
  chmod +x "$work_dir/bin/shutdown"
  ln -sf shutdown "$work_dir/bin/poweroff"
}

# What a command run beside the script (`longtask exec`, `longtask shell`) sees of the run: these variables, in
# $work_dir/profile (root's only: the user's env may hold secrets), which such a command sources first.
write_profile() {
  local name
  for name in LONGTASK_RUN_ID LONGTASK_ATTEMPT LONGTASK_ARTIFACTS_URI LONGTASK_CHECKPOINT_DIR LONGTASK_HEARTBEAT_FILE \
    ${LONGTASK_ENV_NAMES:-}; do
    printf 'export %s=%q\n' "$name" "${!name-}"
  done >"$work_dir/profile"
  chmod 600 "$work_dir/profile"
}

# Secrets (LONGTASK_SECRET_REFS): read with the instance's role before the script starts, and exported to it (not to
# the profile, nor in the user data). Each value is kept in $mask_values (root's only, NUL-separated): mask.py masks
# it, each of its lines and each string of 4 or more characters inside a JSON secret as *** in the script's output
# before it reaches the log, and in diagnostics. A Secrets Manager ARN may end in :json-key.
read_secret() {
  local fields value
  IFS=: read -ra fields <<<"$1"
  if [[ ${fields[2]} != secretsmanager ]]; then
    aws ssm get-parameter --name "$1" --with-decryption --query Parameter.Value --output text
    return
  fi
  value=$(aws secretsmanager get-secret-value --secret-id "$(IFS=:; echo "${fields[*]:0:7}")" \
    --query SecretString --output text) || return 1
  if [[ -n ${fields[7]:-} ]]; then
    json_key "${fields[7]}" <<<"$value"
  else
    printf '%s' "$value"
  fi
}

# The value at key $1 of the JSON secret on stdin: a string as it is, anything else as JSON.
json_key() {
  python3 -c 'import json, sys
try:
    value = json.load(sys.stdin)[sys.argv[1]]
except (ValueError, KeyError, TypeError):
    sys.exit(f"the secret is not a JSON object with the key {sys.argv[1]!r}")
sys.stdout.write(value if isinstance(value, str) else json.dumps(value))' "$1"
}

read_secrets() {
  local pair name ref value names=()
  [[ -n ${LONGTASK_SECRET_REFS:-} ]] || return 0
  if ! command -v python3 >/dev/null; then
    reason="the run reads secrets, and python3, which masks them in the log, is not on the image"
    return 1
  fi
  write_mask_program
  (umask 077 && : >"$mask_values")
  for pair in $LONGTASK_SECRET_REFS; do
    name=${pair%%=*} ref=${pair#*=}
    if ! value=$(read_secret "$ref" 2>"$work_dir/secret-error"); then
      reason="secret ${name} (${ref}) could not be read: $(tr -s '\n' ' ' <"$work_dir/secret-error" |
        sed 's/^ *//; s/ *$//' | cut -c1-400)"
      return 1
    fi
    printf '%s\0' "$value" >>"$mask_values"
    export "$name=$value"
    names+=("$name")
  done
  echo "longtask: read the secrets ${names[*]}; their values are masked (***) in the log"
}

write_mask_program() {
  cat >"$work_dir/mask.py" <<'MASK'
import json, os, re, sys
found = set()
for value in open(sys.argv[1], "rb").read().split(b"\0")[:-1]:
    found.update([value, *(line for line in value.splitlines() if len(line) >= 4)])
    try:
        items = [json.loads(value)]
    except ValueError:
        items = []
    while items:
        item = items.pop()
        if isinstance(item, (dict, list)):
            items.extend(item.values() if isinstance(item, dict) else item)
        elif isinstance(item, str) and len(item) >= 4:
            found.add(item.encode())
found = sorted((n for n in found if n), key=len, reverse=True)
secret = re.compile(b"|".join(map(re.escape, found)) or b"(?!)")
def held(data):
    for size in range(min(len(data), len(found[0]) - 1 if found else 0), 0, -1):
        if any(n.startswith(data[-size:]) for n in found):
            return size
    return 0
if sys.argv[2:]:
    for name in sys.argv[2:]:
        with open(name, "rb") as file:
            data = file.read()
        with open(name, "wb") as file:
            file.write(secret.sub(b"***", data))
    sys.exit()
pending = b""
while chunk := os.read(0, 65536):
    data = pending + chunk
    cut = len(data) - held(data)
    for match in secret.finditer(data):
        if match.start() < cut < match.end():
            cut = match.end()
    os.write(1, secret.sub(b"***", data[:cut]))
    pending = data[cut:]
os.write(1, secret.sub(b"***", pending))
MASK
}

# A run with an Elastic IP (LONGTASK_ELASTIC_IPS: its pool's addresses): the launcher associates one once the
# instance runs; the script starts when the instance egresses from it (IMDS public-ipv4).
wait_for_elastic_ip() {
  [[ -n ${LONGTASK_ELASTIC_IPS:-} ]] || return 0
  local until=$((SECONDS + address_timeout)) token address
  while ((SECONDS < until)); do
    if token=$(curl -sf -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" "$imds/latest/api/token") &&
      address=$(curl -sf -H "X-aws-ec2-metadata-token: $token" "$imds/latest/meta-data/public-ipv4") &&
      [[ " $LONGTASK_ELASTIC_IPS " == *" $address "* ]]; then
      echo "longtask: the instance egresses from the Elastic IP $address"
      return 0
    fi
    sleep 1
  done
  reason="no Elastic IP of the run's (${LONGTASK_ELASTIC_IPS}) was associated with the instance in ${address_timeout} s"
  return 1
}

# The script's output on its way to the log: its secrets masked, and a copy for the stall watcher.
script_sink() {
  trap - EXIT TERM INT HUP
  if [[ -s $mask_values ]]; then python3 "$work_dir/mask.py" "$mask_values"; else cat; fi |
    if [[ -n $stall_seconds ]]; then tee -a "$work_dir/script-output"; else cat; fi
}

# Call $2 every $1 seconds in the background, never reporting (only the bootstrap itself does); prints nothing.
every() {
  (
    trap - EXIT TERM INT HUP
    while sleep "$1"; do "$2"; done
  ) &
}

# While the script runs, what the log gained since the last upload goes up as a numbered chunk under a new key
# (live-log/<attempt>-<sequence>): rewriting one key in the versioned bucket would keep a version per upload.
# The whole log is uploaded once, as cloud-init-output.log, by the report.
log_sent=0
log_sequence=0
upload_log_chunk() {
  local size
  size=$(stat -c %s "$console_log" 2>/dev/null || echo 0)
  ((size > log_sent)) || return 0
  tail -c "+$((log_sent + 1))" "$console_log" | head -c "$((size - log_sent))" >"$work_dir/log-chunk"
  upload "$work_dir/log-chunk" "$(printf 'live-log/%02d-%06d.log' "${LONGTASK_ATTEMPT:-0}" "$log_sequence")"
  log_sent=$size
  log_sequence=$((log_sequence + 1))
}

# EC2 announces a Spot interruption two minutes ahead at IMDS spot/instance-action: the bootstrap is told (SIGUSR1)
# when the attempt must be reported by, in $work_dir/notice: "<epoch seconds> spot/instance-action".
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html
# A rebalance recommendation (events/recommendations/rebalance) only signals an elevated risk, often long before a
# notice or with none: the checkpoint is synced at once and the script goes on, while the watch goes on for a notice.
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/rebalance-recommendations.html
rebalance_seen=false
look_for_notice() {
  local token body
  token=$(curl -sf -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 300" "$imds/latest/api/token") || return 0
  if body=$(curl -sf -H "X-aws-ec2-metadata-token: $token" "$imds/latest/meta-data/spot/instance-action"); then
    local time
    time=$(sed -n 's/.*"time" *: *"\([^"]*\)".*/\1/p' <<<"$body")
    echo "$(date -d "$time" +%s 2>/dev/null || echo $(($(date +%s) + 120))) spot/instance-action" >"$work_dir/notice"
    kill -USR1 "$bootstrap_pid"
    exit 0
  fi
  if ! $rebalance_seen && curl -sf -o /dev/null -H "X-aws-ec2-metadata-token: $token" \
    "$imds/latest/meta-data/events/recommendations/rebalance"; then
    rebalance_seen=true
    echo "longtask: EC2 recommends a rebalance (IMDS events/recommendations/rebalance); syncing the checkpoint now"
    sync_checkpoint
  fi
}

# The checkpoint directory's names, sizes and times: a sync happens only when they changed.
checkpoint_fingerprint() {
  find "$LONGTASK_CHECKPOINT_DIR" -printf '%P %s %T@\n' 2>/dev/null | sort | md5sum
}

restore_checkpoint() {
  mkdir -p "$LONGTASK_CHECKPOINT_DIR"
  if ((${LONGTASK_ATTEMPT:-0} > 0)); then
    s3 sync "$run_uri/checkpoint/" "$LONGTASK_CHECKPOINT_DIR" &&
      echo "longtask: restored the checkpoint of the earlier attempts" ||
      echo "longtask: could not restore the checkpoint; the script starts without it" >&2
  fi
  checkpoint_state=$(checkpoint_fingerprint)
}

sync_checkpoint() {
  [[ -d $LONGTASK_CHECKPOINT_DIR ]] || return 0
  local state
  state=$(checkpoint_fingerprint)
  [[ $state == "$checkpoint_state" ]] && return 0
  if s3 sync "$LONGTASK_CHECKPOINT_DIR" "$run_uri/checkpoint/"; then
    checkpoint_state=$state
  else
    echo "longtask: could not sync the checkpoint" >&2
  fi
}

# Stall detection (LONGTASK_STALL_SECONDS): progress is the script's own output growing (it goes through a tee to
# $work_dir/script-output, emptied at each look), a change under LONGTASK_CHECKPOINT_DIR, or a touch of
# LONGTASK_HEARTBEAT_FILE. After stall_seconds without any, the diagnostics go to runs/<run id>/diagnostics/<time>/
# and then stall.json beside them: the stack's signal function records the stall and announces it (the instance
# cannot put events). One stall is reported once; progress again re-arms it. onStall fail or retry then stops the
# script (SIGUSR2 to the bootstrap).
last_progress=0
heartbeat_seen=""
progress_state=""
reported_stall=false
look_for_progress() {
  local moved=false heartbeat state
  if [[ -s $work_dir/script-output ]]; then
    : >"$work_dir/script-output"
    moved=true
  fi
  heartbeat=$(stat -c %Y "$LONGTASK_HEARTBEAT_FILE" 2>/dev/null)
  [[ $heartbeat != "$heartbeat_seen" ]] && heartbeat_seen=$heartbeat && moved=true
  state=$(checkpoint_fingerprint)
  [[ $state != "$progress_state" ]] && progress_state=$state && moved=true
  if $moved; then
    last_progress=$SECONDS
    reported_stall=false
  elif ! $reported_stall && ((SECONDS - last_progress >= stall_seconds)); then
    reported_stall=true
    report_stall $((SECONDS - last_progress))
  fi
}

# The script's processes (its descendants, from /proc as ps shows it) with their states and wait channels, the
# machine's top CPU and memory users, memory, disk, the kernel log's tail, and a py-spy dump of Python processes
# when py-spy is on the image: each in a file of $1.
capture_diagnostics() {
  local dir=$1 pids
  {
    echo "# the script's processes: pid, parent, state, wait channel, seconds running, CPU %, memory %, command"
    ps -eo pid=,ppid=,stat=,wchan:32=,etimes=,pcpu=,pmem=,args= | awk -v root="$script_pid" '
      { pid[NR] = $1; parent[NR] = $2; line[NR] = $0 }
      END {
        keep[root] = 1
        do { grew = 0; for (i = 1; i <= NR; i++) if (!(pid[i] in keep) && (parent[i] in keep)) { keep[pid[i]] = 1; grew = 1 } } while (grew)
        for (i = 1; i <= NR; i++) if (pid[i] in keep) print line[i]
      }'
  } >"$dir/processes.txt" 2>&1
  ps -eo pid,pcpu,pmem,rss,etimes,args --sort=-pcpu 2>&1 | head -n 16 >"$dir/top-cpu.txt"
  ps -eo pid,pcpu,pmem,rss,etimes,args --sort=-rss 2>&1 | head -n 16 >"$dir/top-memory.txt"
  { free -m; echo; head -n 20 /proc/meminfo; } >"$dir/memory.txt" 2>&1
  df -h >"$dir/disk.txt" 2>&1
  { dmesg -T 2>/dev/null || journalctl -k --no-pager 2>/dev/null || echo "the kernel log could not be read"; } |
    tail -n 100 >"$dir/kernel.txt"
  if command -v py-spy >/dev/null 2>&1; then
    pids=$(awk '/python/ { print $1 }' "$dir/processes.txt")
    for pid in $pids; do py-spy dump --pid "$pid"; done >"$dir/py-spy.txt" 2>&1
  fi
  [[ -s $mask_values ]] && python3 "$work_dir/mask.py" "$mask_values" "$dir"/*
}

report_stall() {
  local stamp dir
  stalled_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  stamp=${stalled_at//[:-]/}
  dir="$work_dir/diagnostics/$stamp"
  diagnostics_uri="$run_uri/diagnostics/$stamp/"
  echo "longtask: no progress for $1 s (stallSeconds ${stall_seconds}); diagnostics in ${diagnostics_uri}"
  mkdir -p "$dir/report"
  capture_diagnostics "$dir/report"
  s3 cp --recursive "$dir/report" "$diagnostics_uri" || echo "longtask: could not upload the diagnostics" >&2
  cat >"$dir/stall.json" <<STALL
{"runId": $(json_string "$LONGTASK_RUN_ID"), "attempt": ${LONGTASK_ATTEMPT:-0}, "stalledAt": "${stalled_at}", "silentSeconds": $1, "onStall": "${on_stall}", "diagnosticsUri": "${diagnostics_uri}"}
STALL
  upload "$dir/stall.json" "diagnostics/$stamp/stall.json"
  echo "$stalled_at $diagnostics_uri" >"$work_dir/stall"
  [[ $on_stall == notify ]] || kill -USR2 "$bootstrap_pid"
}

# After a stall with onStall fail or retry: stop the script (SIGTERM, SIGKILL 10 s later) and report it stalled.
stopped_for_stall=false
stop_for_stall() {
  stopped_for_stall=true
  reason="no progress for ${stall_seconds} s (stallSeconds); the script was stopped (onStall ${on_stall})"
  echo "longtask: ${reason}"
  stop_script 10
}

# After a failed script (LONGTASK_HOLD_SECONDS) the instance stays up for inspection until the hold's end (never
# later than a minute before the deadline), or until `longtask release` writes runs/<run id>/release. hold.json
# tells the stack (the signal function marks the run HOLDING); the report then tells the script's own failure.
hold_on_failure() {
  local now until latest
  now=$(date +%s)
  until=$((now + hold_seconds))
  latest=$((LONGTASK_DEADLINE - 60))
  ((until > latest)) && until=$latest
  ((until > now)) || return 0
  hold_until=$(date -u -d "@$until" +%Y-%m-%dT%H:%M:%SZ)
  holding=true
  echo "longtask: the script failed (exit code ${exit_code}); the instance is held for inspection until" \
    "${hold_until}: \`longtask release ${LONGTASK_RUN_ID}\` ends the hold"
  cat >"$work_dir/hold.json" <<HOLD
{"runId": $(json_string "$LONGTASK_RUN_ID"), "attempt": ${LONGTASK_ATTEMPT:-0}, "holdUntil": "${hold_until}", "exitCode": ${exit_code}}
HOLD
  upload "$work_dir/hold.json" hold.json
  while (($(date +%s) < until)); do
    if timeout 20 aws s3 cp --only-show-errors "$run_uri/release" - >/dev/null 2>&1; then
      echo "longtask: the hold was released"
      return 0
    fi
    sleep "$hold_interval"
  done
  echo "longtask: the hold is over"
}

# SIGTERM to the script and its children at once (as `systemctl stop` signals a unit's processes by default,
# KillMode=control-group), SIGKILL after $1 seconds; sets exit_code to the script's. The children are read from
# /proc with builtins: a command started here while the script ends confuses bash's wait.
stop_script() {
  [[ -n $script_pid ]] || return 0
  local children=()
  read -ra children <"/proc/$script_pid/task/$script_pid/children" 2>/dev/null
  kill -TERM "$script_pid" "${children[@]}" 2>/dev/null
  (
    trap - EXIT TERM INT HUP
    sleep "$1"
    kill -KILL "$script_pid" "${children[@]}" 2>/dev/null
  ) &
  local killer=$!
  wait "$script_pid"
  exit_code=$?
  kill "$killer" 2>/dev/null
  script_pid=""
}

json_string() {
  local text=${1//\\/\\\\}
  text=${text//\"/\\\"}
  printf '"%s"' "${text//$'\n'/\\n}"
}

# The one exit path: sync the checkpoint, write and upload result.json (which closes the attempt), upload the log,
# power off. After a Spot interruption notice EC2 reclaims the instance itself: its state reason then says so
# (and a Linux Spot instance EC2 interrupts in its first hour is not charged). Runs once.
report() {
  [[ $BASHPID == "$bootstrap_pid" ]] || return 0 # a subshell's exit is not the run's
  trap '' TERM INT HUP USR1
  trap - EXIT
  local code=${exit_code:-1} signal=null shutdown_requested=false
  [[ -n $uploader_pid ]] && kill "$uploader_pid" 2>/dev/null
  [[ -n $notice_watcher_pid ]] && kill "$notice_watcher_pid" 2>/dev/null
  [[ -n $checkpoint_syncer_pid ]] && kill "$checkpoint_syncer_pid" 2>/dev/null
  [[ -n $stall_watcher_pid ]] && kill "$stall_watcher_pid" 2>/dev/null
  [[ -n $script_pid ]] && kill -TERM "$script_pid" 2>/dev/null
  [[ -s $work_dir/stall ]] && read -r stalled_at diagnostics_uri <"$work_dir/stall"
  wait_for_sink
  if [[ -e "$work_dir/shutdown-requested" ]]; then
    shutdown_requested=true
    code=0
    reason="the script called shutdown"
  elif ((code > 128 && code < 160)); then
    signal=$(json_string "SIG$(kill -l $((code - 128)))")
  fi
  echo "longtask: run ${LONGTASK_RUN_ID} finished with exit code ${code}${reason:+ (${reason})}"
  cat >"$work_dir/result.json" <<RESULT
{"runId": $(json_string "$LONGTASK_RUN_ID"), "attempt": ${LONGTASK_ATTEMPT:-0}, "exitCode": ${code}, "signal": ${signal}, "interrupted": ${interrupted}, "shutdownRequested": ${shutdown_requested}, "spotNotice": $([[ -n $notice ]] && echo true || echo false), "stalled": $([[ $stopped_for_stall == true ]] && echo true || echo false), "onStall": "${on_stall}", "stalledAt": $([[ -n $stalled_at ]] && json_string "$stalled_at" || echo null), "diagnosticsUri": $([[ -n $diagnostics_uri ]] && json_string "$diagnostics_uri" || echo null), "holdUntil": $([[ -n $hold_until ]] && json_string "$hold_until" || echo null), "reason": $(json_string "$reason"), "error": $([[ -n $error_name ]] && json_string "$error_name" || echo null), "startedAt": "${started_at}", "finishedAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"}
RESULT
  sync_checkpoint
  upload_report
  if [[ $notice == spot/instance-action ]]; then
    echo "longtask: waiting for EC2 to reclaim the instance"
  else
    "$real_shutdown" -h now
  fi
}

# What the script printed last reaches the log before it is uploaded: the sink ends once the script's output is
# closed (held back at most 5 s by processes the script left holding it).
wait_for_sink() {
  local tries=50
  while [[ -n $sink_pid ]] && kill -0 "$sink_pid" 2>/dev/null && ((tries-- > 0)); do sleep 0.1; done
}

on_signal() {
  if $holding; then # the hold ended from outside (the deadline's guard, an abort): the script's failure stands
    exit "$exit_code"
  fi
  exit_code=$1
  interrupted=true
  reason=${2:-"the bootstrap received SIG$(kill -l $(($1 - 128)))"}
  exit "$1"
}

# After a Spot notice: stop the script (it may save its state in LONGTASK_CHECKPOINT_DIR on SIGTERM) within what
# the notice leaves after the report's reserve, then report the attempt as interrupted. Runs in main, not in the
# trap: bash loses track of a command a trap runs while `wait` is interrupted ("wait_for: No record of process").
stop_for_notice() {
  local report_by
  read -r report_by notice <"$work_dir/notice"
  interrupted=true
  reason="EC2 gave a Spot interruption notice (IMDS ${notice})"
  local budget=$((report_by - $(date +%s) - report_reserve))
  ((budget < 1)) && budget=1
  echo "longtask: ${reason}; stopping the script within ${budget} s"
  stop_script "$budget"
}

main() {
  mkdir -p "$work_dir"
  trap report EXIT
  trap 'on_signal 143' TERM
  trap 'on_signal 130' INT
  trap 'on_signal 129' HUP
  trap : USR1 # a Spot notice (look_for_notice) ends the wait below
  trap : USR2 # so does a stall that stops the script (report_stall)
  echo "longtask: run ${LONGTASK_RUN_ID} starting at ${started_at}"
  schedule_backstop
  install_shutdown_wrapper
  write_script "$work_dir/script.sh" || {
    exit_code=$?
    reason="could not fetch the script from ${LONGTASK_SCRIPT_URI:-its source}"
    exit "$exit_code"
  }
  read_secrets || {
    exit_code=1
    error_name=LongTask.SecretUnavailable
    exit 1
  }
  wait_for_elastic_ip || {
    exit_code=1
    error_name=LongTask.AddressNotAssociated
    exit 1
  }
  restore_checkpoint
  write_profile
  every "$log_interval" upload_log_chunk
  uploader_pid=$!
  every "$notice_interval" look_for_notice
  notice_watcher_pid=$!
  every "$checkpoint_interval" sync_checkpoint
  checkpoint_syncer_pid=$!
  if [[ -n $stall_seconds || -s $mask_values ]]; then # the script's output goes through script_sink to the log
    exec {script_output}> >(script_sink)
    sink_pid=$!
    PATH="$work_dir/bin:$PATH" bash "$work_dir/script.sh" </dev/null >&"$script_output" 2>&1 &
    script_pid=$!
    exec {script_output}>&-
  else
    PATH="$work_dir/bin:$PATH" bash "$work_dir/script.sh" </dev/null &
    script_pid=$!
  fi
  if [[ -n $stall_seconds ]]; then
    progress_state=$(checkpoint_fingerprint)
    heartbeat_seen=$(stat -c %Y "$LONGTASK_HEARTBEAT_FILE" 2>/dev/null)
    last_progress=$SECONDS # silence counts from the script's start
    every "$stall_interval" look_for_progress
    stall_watcher_pid=$!
  fi
  echo "$script_pid" >"$work_dir/script.pid"
  wait "$script_pid"
  exit_code=$?
  if [[ -s $work_dir/notice ]] && kill -0 "$script_pid" 2>/dev/null; then
    stop_for_notice
  elif [[ -s $work_dir/stall ]] && [[ $on_stall != notify ]] && kill -0 "$script_pid" 2>/dev/null; then
    stop_for_stall
  fi
  script_pid=""
  if [[ -n $hold_seconds ]] && ((exit_code != 0)) && ! $interrupted && ! $stopped_for_stall &&
    [[ ! -e $work_dir/shutdown-requested ]]; then
    hold_on_failure
  fi
  exit "$exit_code"
}

# On an instance, cloud-init runs the user data in cloud-final.service, whose KillMode=process leaves it to
# systemd's final kill at shutdown, after the network is down: too late to report. So the bootstrap runs as a
# transient unit of its own, ordered after network-online.target: at shutdown systemd stops it first (SIGTERM
# to the bootstrap, KillMode=mixed) while the network is up, and gives it TimeoutStopSec for both uploads.
run_as_own_unit() {
  [[ -z ${LONGTASK_IN_UNIT:-} ]] && command -v systemd-run >/dev/null 2>&1 || return 1
  systemd-run --unit=longtask-run --quiet --collect \
    --property=Wants=network-online.target --property=After=network-online.target \
    --property=KillMode=mixed --property=TimeoutStopSec=$((2 * upload_timeout + 30)) \
    --property=StandardOutput=append:"$console_log" --property=StandardError=append:"$console_log" \
    --setenv=LONGTASK_IN_UNIT=1 /bin/bash "$(readlink -f "$0")" 2>/dev/null
}

run_as_own_unit && exit 0 # where there is no systemd, the bootstrap runs in place
main
