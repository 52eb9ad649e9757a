#!/usr/bin/env bash
#   cli_test.sh: the command line `workpool`, every command's success and
#   error paths, from the outside: exit codes, stdout (checked as JSON with
#   python3), stderr's one line "workpool: STATUS: message", --help of every
#   command, bad JSON, missing and extra arguments, unknown commands and
#   options, the WORKPOOL_ENDPOINT and WORKPOOL_TIMEOUT variables, and the
#   dead-letter commands (items, retry, cancel, purge, pause, resume,
#   push-many, pools).
#
#   The same checks run against a workpoold broker on a temporary ipc://
#   endpoint (when WORKPOOLD is given) and against sqlite:PATH, plus the
#   few that make sense on "memory" (a store that lives for one command).
#
#   usage: cli_test.sh WORKPOOL [WORKPOOLD] [local|broker|all]
#   local: the command line, memory and sqlite; broker: the broker; all: both
#   (the default; without WORKPOOLD, the broker part is skipped).
set -u

WP=${1:?usage: cli_test.sh WORKPOOL [WORKPOOLD] [local|broker|all]}
WPD=${2:-}
PART=${3:-all}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wp-cli-test.XXXXXX")
BROKER_PID=                 # the broker of the checks
SLOW_PID=                   # a broker that answers late
CURVE_PID=                  # a broker with CURVE and a key directory
CHECKS=0

cleanup () {
    for pid in $BROKER_PID $SLOW_PID $CURVE_PID; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

die () {
    echo "FAIL: $*" >&2
    echo "  command: workpool ${LAST_ARGS:-}" >&2
    echo "  exit:    ${rc:-}" >&2
    echo "  stdout:  ${out:-}" >&2
    echo "  stderr:  ${err:-}" >&2
    exit 1
}

#   run ARGS...: runs workpool; sets out, err, rc
run () {
    LAST_ARGS="$*"
    "$WP" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
    rc=$?
    out=$(cat "$TMP/out")
    err=$(cat "$TMP/err")
}

#   run_in INPUT ARGS...: as run, with INPUT on stdin
run_in () {
    local input=$1
    shift
    LAST_ARGS="$* <<< $input"
    printf '%s' "$input" | "$WP" "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    out=$(cat "$TMP/out")
    err=$(cat "$TMP/err")
}

#   ok ARGS...: the command succeeds, silent on stderr
ok () {
    run "$@"
    CHECKS=$((CHECKS + 1))
    [ "$rc" -eq 0 ] || die "expected success"
    [ -z "$err" ] || die "expected nothing on stderr"
}

#   fails CODE STATUS ARGS...: exits CODE, nothing on stdout, and one line
#   "workpool: STATUS: message" on stderr
fails () {
    local code=$1 status=$2
    shift 2
    run "$@"
    check_failure "$code" "$status"
}

check_failure () {
    local code=$1 status=$2
    CHECKS=$((CHECKS + 1))
    [ "$rc" -eq "$code" ] || die "expected exit $code"
    [ -z "$out" ] || die "expected nothing on stdout"
    [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || die "expected one line on stderr"
    [[ "$err" =~ ^workpool:\ $status:\ .+ ]] || die "expected 'workpool: $status: message'"
}

#   usage ARGS...: a command-line mistake: exit 2, INVALID_ARGUMENT
usage () {
    fails 2 INVALID_ARGUMENT "$@"
}

#   is TEXT: stdout is exactly TEXT
is () {
    CHECKS=$((CHECKS + 1))
    [ "$out" = "$1" ] || die "expected stdout '$1'"
}

#   lines EXPR: stdout is JSON lines (none at all is []), v the list of
#   values, and the Python EXPR holds
#   (through a file: a page of items is more than an environment variable holds)
lines () {
    CHECKS=$((CHECKS + 1))
    printf '%s' "$out" >"$TMP/lines"
    python3 -c '
import json, os, sys
v = [json.loads(line) for line in open(sys.argv[2]).read().splitlines()]
sys.exit(0 if eval(sys.argv[1]) else 1)' "$1" "$TMP/lines" || die "expected JSON lines where: $1"
}

#   ids POOL [ARGS...]: the ids `workpool items POOL ARGS...` prints, one line
ids () {
    ok items "$@"
    out=$(OUT="$out" python3 -c '
import json, os
print(" ".join(json.loads(line)["id"] for line in os.environ["OUT"].splitlines()))')
}

#   json EXPR: stdout is one line of JSON, v, and the Python EXPR holds
json () {
    CHECKS=$((CHECKS + 1))
    [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || die "expected one line on stdout"
    OUT="$out" python3 -c '
import json, os, re, sys, datetime
v = json.loads(os.environ["OUT"])
def t(s):   # an RFC 3339 UTC time with microseconds, as a datetime
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", s), s
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
sys.exit(0 if eval(sys.argv[1]) else 1)' "$1" || die "expected JSON where: $1"
}

UUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-[47][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'   # v4 or v7 (what the C client makes)
ITEM_KEYS='["id","pool","data","status","claimed_by","claimed_at","lease_expires_at","attempts","max_retries","result","error","created_at","priority","run_at","unique_key"]'
WORKER_KEYS='["worker_id","host","pid","capabilities","pool_id","started_at","status","last_heartbeat","current_task_id","heartbeat_interval_seconds","metadata"]'
COMMANDS="push push-many claim complete fail size release get items retry cancel purge pause resume
          pool schedule register heartbeat status worker workers pools stats ping keygen"

# ---------------------------------------------------------------------------
#   What needs no backend: help, usage errors

check_command_line () {
    ok --help
    [[ "$out" == usage:\ workpool* ]] || die "--help starts with usage"
    for command in $COMMANDS; do
        [[ "$out" == *"  $command "* ]] || die "--help lists $command"
    done
    [[ "$out" == *"WORKPOOL_ENDPOINT"* && "$out" == *"sqlite:PATH"* ]] || die "--help: endpoints"
    [[ "$out" == *"15  NOT_FOUND"* && "$out" == *"24  UNAVAILABLE"* ]] || die "--help: exit codes"
    ok -h
    ok help
    [[ "$out" == usage:\ workpool* ]] || die "help is --help"
    for command in $COMMANDS; do
        ok "$command" --help
        [[ "$out" == "usage: workpool [GLOBAL OPTIONS] $command"* ]] || die "$command --help"
        local text=$out
        ok help "$command"
        [ "$out" = "$text" ] || die "help $command is $command --help"
        #   --help wins over every other mistake, wherever it stands
        ok --endpoint nowhere "$command" --bogus --help extra
        [ "$out" = "$text" ] || die "$command --bogus --help"
    done
    ok --version
    [[ "$out" =~ ^workpool\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || die "--version"

    usage
    [[ "$err" == *"a command is required"* ]] || die "no command"
    usage bogus
    [[ "$err" == *"unknown command 'bogus'"* ]] || die "unknown command"
    usage help bogus
    usage bogus --help
    usage --bogus
    [[ "$err" == *"unknown option '--bogus'"* ]] || die "unknown option"
    usage push jobs 1 --bogus
    [[ "$err" == *"see workpool push --help"* ]] || die "usage error names the command"
    usage push jobs -5
    [[ "$err" == *"put -- before"* ]] || die "hint for a negative JSON number"
    usage push jobs 1 --worker w
    [[ "$err" == *"push does not take --worker"* ]] || die "option of another command"
    usage size jobs --id x
    usage get jobs x --max-retries 1
    usage workers --metadata '{}'
    usage push jobs 1 --id a --id b
    [[ "$err" == *"--id given twice"* ]] || die "option twice"
    usage push jobs 1 --id
    [[ "$err" == *"--id needs a value"* ]] || die "option without value"
    usage claim jobs --worker
    [[ "$err" == *"--worker needs a value"* ]] || die "--worker without value"

    #   Missing and extra arguments, for every command
    usage push
    [[ "$err" == *"push needs POOL"* ]] || die "push needs POOL"
    usage push jobs
    [[ "$err" == *"push needs DATA"* ]] || die "push needs DATA"
    usage push jobs 1 2
    [[ "$err" == *"unexpected argument '2'"* ]] || die "extra argument"
    usage claim
    usage claim jobs
    [[ "$err" == *"claim needs --worker W"* ]] || die "claim needs --worker"
    usage claim jobs extra --worker w
    usage complete jobs
    usage complete jobs id 1 2
    usage fail jobs
    usage fail jobs id why more
    usage size
    usage size jobs more
    usage release jobs
    usage release jobs w more
    usage get jobs
    usage get jobs id more
    usage register
    usage register w more
    usage heartbeat
    usage heartbeat w more
    usage status w
    usage status w active more
    usage worker
    usage worker w more
    usage workers more
    usage stats more
    usage ping more
    usage pools more
    usage push-many
    usage push-many jobs more
    usage items
    usage items jobs more
    usage retry jobs
    [[ "$err" == *"retry needs ID or --all"* ]] || die "retry needs ID or --all"
    usage retry jobs id --all
    [[ "$err" == *"not both"* ]] || die "retry ID --all"
    usage retry jobs id more
    usage cancel jobs
    usage cancel jobs id more
    usage purge jobs
    [[ "$err" == *"purge needs --status"* ]] || die "purge needs --status"
    usage purge jobs more --status done
    usage pause
    usage pause jobs more
    usage resume
    usage resume jobs more

    #   Options of the dead-letter commands
    usage items jobs --status bogus
    [[ "$err" == *"--status needs pending, scheduled, claimed, done or poisoned, not 'bogus'"* ]] \
        || die "items: an unknown status"
    usage purge jobs --status active
    usage items jobs --limit 0
    [[ "$err" == *"--limit needs an integer >= 1"* ]] || die "--limit 0"
    usage items jobs --limit x
    usage items jobs --limit 5 --limit 6
    usage items jobs --cursor
    usage cancel jobs id --all
    usage purge jobs --status done --all
    usage size jobs --cursor c
    usage get jobs id --limit 1
    usage push jobs 1 --batch 10
    usage push-many jobs --batch 0
    usage push-many jobs --batch 1001
    [[ "$err" == *"--batch needs an integer 1..1000"* ]] || die "--batch 1001"
    usage push-many jobs --id x
    usage pause jobs --status done

    #   Numbers
    usage push jobs 1 --max-retries -1
    usage push jobs 1 --max-retries x
    usage push jobs 1 --max-retries 1.5
    usage claim jobs --worker w --wait -1
    usage claim jobs --worker w --wait soon
    usage claim jobs --worker w --lease 0
    usage claim jobs --worker w --lease inf
    usage claim jobs --worker w --lease nan
    usage register w --heartbeat 0
    usage register w --pid -3
    usage register w --pid 12x
    usage workers --stale -1
    usage workers --capability a --capability b
    [[ "$err" == *"one --capability"* ]] || die "one capability"
    usage --timeout 0 ping
    usage --timeout x ping
    usage ping --timeout -1
    WORKPOOL_TIMEOUT=soon usage ping
    [[ "$err" == *"WORKPOOL_TIMEOUT needs a number of seconds > 0, not 'soon'"* ]] \
        || die "a bad WORKPOOL_TIMEOUT"
    WORKPOOL_TIMEOUT=0 usage ping
    WORKPOOL_TIMEOUT=soon ok --endpoint memory --timeout 1 ping   # --timeout wins

    #   JSON that does not parse or cannot be encoded
    usage push jobs '{bad'
    [[ "$err" == *"DATA is not valid JSON: line 1 column"* ]] || die "bad JSON names DATA and where"
    usage push jobs ''
    usage push jobs '{"a":1,"a":2}'
    [[ "$err" == *"duplicate"* ]] || die "duplicate keys"
    usage push jobs "'single'"
    usage push jobs '[1,]'
    usage push jobs 'nul'
    usage push jobs '1 2'
    usage push jobs '18446744073709551616'
    usage push jobs '{"$bin":"not base64!"}'
    [[ "$err" == *"DATA cannot be encoded"*"base64"* ]] || die "bad \$bin"
    usage push jobs '{"$bin":7}'
    usage push jobs '{"$ext":300,"$bin":""}'
    usage push jobs "$(python3 -c 'print("[" * 33 + "]" * 33)')"
    [[ "$err" == *"nested deeper than 32"* ]] || die "too deep"
    usage complete jobs id '{oops'
    [[ "$err" == *"RESULT is not valid JSON"* ]] || die "bad result JSON"
    usage heartbeat w --metadata '[1]'
    [[ "$err" == *"must be a JSON object"* ]] || die "metadata not an object"
    usage heartbeat w --metadata '{'
    [[ "$err" == *"--metadata is not valid JSON"* ]] || die "bad metadata JSON"
    usage register w --metadata '"x"'
    run_in '{"a":' push jobs -
    check_failure 2 INVALID_ARGUMENT
    [[ "$err" == *"line 1"* ]] || die "bad JSON on stdin"

    #   Mistakes are found before the backend is touched
    usage --endpoint bogus:x push jobs '{bad'
    usage --endpoint "sqlite:$TMP/never.db" push jobs 1 --max-retries x
    usage --endpoint "sqlite:$TMP/never.db" heartbeat w --metadata '[]'
    [ ! -e "$TMP/never.db" ] || die "a usage error created the SQLite file"

    #   Output that cannot be written: exit 1, said on stderr
    "$WP" --endpoint memory size jobs >&- 2>"$TMP/err"
    rc=$?
    CHECKS=$((CHECKS + 1))
    [ "$rc" -eq 1 ] && grep -q "^workpool: UNKNOWN: cannot write the output" "$TMP/err" \
        || die "stdout closed: exit $rc, $(cat "$TMP/err")"

    #   A backend that cannot be opened
    fails 13 INVALID_ARGUMENT --endpoint bogus:x ping
    [[ "$err" == *"bogus:x"* ]] || die "unknown backend named"
    fails 13 INVALID_ARGUMENT --endpoint '' ping
    run --endpoint "sqlite:$TMP/no/such/dir/x.db" ping
    [ "$rc" -gt 10 ] || die "an sqlite path that cannot be opened fails"
    check_failure "$rc" '[A-Z_]+'
}

# ---------------------------------------------------------------------------
#   Every command against one backend (WORKPOOL_ENDPOINT set by the caller).
#   KIND is what ping names it.

check_backend () {
    local kind=$1
    local pool="jobs-$kind"

    ok ping
    json "v['backend'] == '$kind' and v['server'] and t(v['time'])"

    #   push, size, get
    ok size "$pool"
    is 0
    ok push "$pool" '{"task":"first","n":1}'
    [[ "$out" =~ $UUID_RE ]] || die "push prints a UUID v4"
    local first=$out
    ok push "$pool" '"second"' --id second --max-retries 1
    is second
    ok push "$pool" '"changed"' --id second
    is second                                   # a duplicate: the id, nothing changes
    ok size "$pool"
    is 2
    ok get "$pool" "$first"
    json "list(v) == $ITEM_KEYS"
    json "v['id'] == '$first' and v['pool'] == '$pool' and v['data'] == {'task': 'first', 'n': 1}"
    json "v['status'] == 'pending' and v['attempts'] == 0 and v['max_retries'] == 3"
    json "v['claimed_by'] is None and v['claimed_at'] is None and v['lease_expires_at'] is None"
    json "v['result'] is None and v['error'] is None and t(v['created_at'])"
    ok get "$pool" second
    json "v['data'] == 'second' and v['max_retries'] == 1"
    fails 15 NOT_FOUND get "$pool" nothing
    [[ "$err" == *"nothing"* ]] || die "NOT_FOUND names the id"
    fails 13 INVALID_ARGUMENT size ''
    fails 13 INVALID_ARGUMENT push "$(printf 'p%.0s' $(seq 256))" 1
    fails 13 INVALID_ARGUMENT push "$pool" 1 --id ''

    #   Values both ways: every JSON type, reserved shapes, unicode, stdin
    local value='{"s":"h\u00e9llo \u4e2d \ud83d\ude00","i":-42,"big":9223372036854775807,"r":0.1,"t":true,"f":false,"n":null,"a":[[],{}],"bin":{"$bin":"AAEC/w=="},"ext":{"$ext":5,"$bin":"AQ=="},"nul":"a\u0000b"}'
    ok push "$pool" "$value" --id values
    ok get "$pool" values
    VALUE=$value json "v['data'] == json.loads(os.environ['VALUE'])"
    json "isinstance(v['data']['r'], float) and v['data']['r'] == 0.1"
    run_in '[1, "from stdin"]' push "$pool" - --id stdin
    [ "$rc" -eq 0 ] && [ "$out" = stdin ] || die "push from stdin"
    ok get "$pool" stdin
    json "v['data'] == [1, 'from stdin']"
    ok push "$pool" --id negative -- -5
    ok get "$pool" negative
    json "v['data'] == -5"
    ok push "$pool" "$(python3 -c 'print("[" * 32 + "]" * 32)')" --id deep
    ok get "$pool" deep
    json "v['data'] == eval('[' * 32 + ']' * 32)"

    #   claim: oldest first, every field, null when empty
    ok claim "$pool" --worker w1
    json "list(v) == $ITEM_KEYS"
    json "v['id'] == '$first' and v['status'] == 'claimed' and v['claimed_by'] == 'w1'"
    json "t(v['lease_expires_at']) - t(v['claimed_at']) == datetime.timedelta(seconds=300)"
    ok claim "$pool" --lease 60 --worker w1
    json "v['id'] == 'second'"
    json "t(v['lease_expires_at']) - t(v['claimed_at']) == datetime.timedelta(seconds=60)"
    for id in values stdin negative deep; do
        ok claim "$pool" --worker w2
        json "v['id'] == '$id'"
    done
    ok size "$pool"
    is 0
    ok claim "$pool" --worker w1
    is null
    ok claim "$pool" --worker w1 --wait 0.2
    is null
    fails 13 INVALID_ARGUMENT claim "$pool" --worker ''

    #   complete: result stored, preconditions
    fails 19 FAILED_PRECONDITION complete "$pool" "$first" --worker w2
    ok complete "$pool" "$first" '{"answer":42}' --worker w1
    is ''
    ok get "$pool" "$first"
    json "v['status'] == 'done' and v['result'] == {'answer': 42}"
    fails 19 FAILED_PRECONDITION complete "$pool" "$first" --worker w1
    fails 19 FAILED_PRECONDITION complete "$pool" "$first"
    fails 15 NOT_FOUND complete "$pool" nothing
    run_in '{"from":"stdin"}' complete "$pool" values - --worker w2
    [ "$rc" -eq 0 ] || die "complete with the result on stdin"
    ok get "$pool" values
    json "v['status'] == 'done' and v['result'] == {'from': 'stdin'}"
    ok complete "$pool" stdin                   # no result, no worker
    ok get "$pool" stdin
    json "v['status'] == 'done' and v['result'] is None"

    #   fail: attempts, error, pending then poisoned (max_retries 1 on 'second')
    fails 19 FAILED_PRECONDITION fail "$pool" second --worker w2
    ok fail "$pool" second 'it broke' --worker w1
    is poisoned
    ok get "$pool" second
    json "v['status'] == 'poisoned' and v['attempts'] == 1 and v['error'] == 'it broke'"
    fails 19 FAILED_PRECONDITION fail "$pool" second
    fails 15 NOT_FOUND fail "$pool" nothing
    ok fail "$pool" negative
    is pending
    ok get "$pool" negative
    json "v['status'] == 'pending' and v['attempts'] == 1 and v['error'] is None"
    json "v['claimed_by'] is None"

    #   release: w2 still holds 'deep'; claim 'negative' again for it
    ok claim "$pool" --worker w2
    json "v['id'] == 'negative'"
    ok release "$pool" w2
    is 2
    ok release "$pool" w2
    is 0
    ok size "$pool"
    is 2
    ok get "$pool" negative
    json "v['status'] == 'pending' and v['attempts'] == 1"
    fails 13 INVALID_ARGUMENT release "$pool" ''

    #   Workers
    ok worker "wk-$kind"
    is null
    #   Intervals of an hour: nobody is declared lost while the test runs
    ok register "wk-$kind" --capability gpu --capability cpu --pool "$pool" --host h1 \
                --pid 4242 --heartbeat 3600 --metadata '{"zone":"a","n":[1]}'
    json "list(v) == $WORKER_KEYS"
    json "v['worker_id'] == 'wk-$kind' and v['host'] == 'h1' and v['pid'] == 4242"
    json "v['capabilities'] == ['gpu', 'cpu'] and v['pool_id'] == '$pool'"
    json "v['status'] == 'active' and v['heartbeat_interval_seconds'] == 3600.0"
    json "v['metadata'] == {'zone': 'a', 'n': [1]} and t(v['started_at']) and t(v['last_heartbeat'])"
    json "v['current_task_id'] is None"
    ok register "bare-$kind" --heartbeat 3600
    json "v['host'] is None and v['pid'] is None and v['capabilities'] == [] and v['pool_id'] is None"
    json "v['metadata'] == {} and v['current_task_id'] is None"
    ok worker "wk-$kind"
    json "v['worker_id'] == 'wk-$kind' and v['status'] == 'active'"
    ok heartbeat "wk-$kind" --metadata '{"n":2,"load":0.5}'
    is ''
    ok heartbeat "wk-$kind"
    ok worker "wk-$kind"
    json "v['metadata'] == {'zone': 'a', 'n': 2, 'load': 0.5}"
    fails 15 NOT_FOUND heartbeat "nobody-$kind"
    fails 15 NOT_FOUND status "nobody-$kind" active
    ok worker "nobody-$kind"
    is null
    ok status "bare-$kind" terminating
    is ''
    ok worker "bare-$kind"
    json "v['status'] == 'terminating'"
    fails 13 INVALID_ARGUMENT status "bare-$kind" ''

    ok workers
    json "[w['worker_id'] for w in v] == ['bare-$kind', 'wk-$kind']"
    json "all(list(w) == $WORKER_KEYS for w in v)"
    ok workers --status active
    json "[w['worker_id'] for w in v] == ['wk-$kind']"
    ok workers --status active --status terminating
    json "len(v) == 2"
    ok workers --status lost
    is '[]'
    ok workers --capability gpu
    json "[w['worker_id'] for w in v] == ['wk-$kind']"
    ok workers --capability tpu
    is '[]'
    ok workers --pool "$pool" --status active --capability cpu
    json "[w['worker_id'] for w in v] == ['wk-$kind']"
    ok workers --stale 3600
    is '[]'
    ok workers --stale 0
    json "len(v) == 2"

    #   A worker silent for twice its interval is lost; its heartbeat is refused
    ok register "brief-$kind" --heartbeat 0.05
    sleep 0.5
    ok workers --status lost
    json "[w['worker_id'] for w in v] == ['brief-$kind']"
    fails 19 FAILED_PRECONDITION heartbeat "brief-$kind"
    [[ "$err" == *"regist"* ]] || die "a lost worker is told to register again"
    ok register "brief-$kind"
    ok heartbeat "brief-$kind"

    #   current_task_id follows a claim by a registered worker
    ok claim "$pool" --worker "wk-$kind"
    local held
    held=$(OUT="$out" python3 -c 'import json, os; print(json.loads(os.environ["OUT"])["id"])')
    ok worker "wk-$kind"
    json "v['current_task_id'] == '$held'"

    #   stats
    ok stats
    json "set(v) == {'pools', 'workers', 'counters'}"
    json "any(all(x.get(k) == val for k, val in {'pool': '$pool', 'pending': 1, 'claimed': 1, 'done': 3, 'poisoned': 1, 'paused': False}.items()) for x in v['pools'])"
    json "v['workers'].get('active') == 2 and v['workers'].get('terminating') == 1"

    #   WORKPOOL_ENDPOINT is what the commands above used; --endpoint wins
    ok --endpoint "sqlite:$TMP/other-$kind.db" size "$pool"
    is 0
    ok size "$pool"
    is 1
}

#   Dead letters and the operator's commands, against one backend
#   (WORKPOOL_ENDPOINT set by the caller): items, retry, cancel, purge,
#   pause, resume, push-many, pools.
check_lifecycle () {
    local kind=$1
    local dead="dead-$kind" many="many-$kind" big="big-$kind" paused="paused-$kind"

    #   a and b end poisoned, c done, d claimed by w
    ok push "$dead" '"a"' --id a --max-retries 1
    ok push "$dead" '"b"' --id b --max-retries 1
    ok push "$dead" '"c"' --id c
    ok push "$dead" '"d"' --id d
    for id in a b; do
        ok claim "$dead" --worker w
        json "v['id'] == '$id'"
        ok fail "$dead" "$id" "boom $id" --worker w
        is poisoned
    done
    ok claim "$dead" --worker w
    ok complete "$dead" c '"r"' --worker w
    ok claim "$dead" --worker w
    json "v['id'] == 'd'"

    #   items: every field as get prints it, oldest first, filtered by status
    ok get "$dead" a
    local got=$out
    ok items "$dead"
    GOT=$got lines "len(v) == 4 and v[0] == json.loads(os.environ['GOT'])"
    lines "[i['id'] for i in v] == ['a', 'b', 'c', 'd'] and all(list(i) == $ITEM_KEYS for i in v)"
    ids "$dead" --status poisoned
    is 'a b'
    ids "$dead" --status done
    is c
    ids "$dead" --status done --status poisoned
    is 'a b c'
    ids "$dead" --status claimed
    is d
    ids "$dead" --status pending
    is ''
    ok items "nowhere-$kind"
    is ''

    #   --limit and --cursor: at most N, the rest's cursor on stderr
    run items "$dead" --limit 3
    CHECKS=$((CHECKS + 1))
    [ "$rc" -eq 0 ] && [[ "$err" =~ ^next\ cursor:\ ([^[:space:]]+)$ ]] \
        || die "items --limit 3 of 4: exit 0, 'next cursor: C' on stderr"
    local cursor=${BASH_REMATCH[1]}
    lines "[i['id'] for i in v] == ['a', 'b', 'c']"
    ids "$dead" --cursor "$cursor"
    is d
    ids "$dead" --cursor "$cursor" --limit 1             # the last one: no cursor after it
    is d
    ok items "$dead" --limit 4
    lines "len(v) == 4"
    run items "$dead" --status poisoned --limit 1
    [[ "$err" =~ ^next\ cursor:\ ([^[:space:]]+)$ ]] || die "a cursor after a filtered page"
    ids "$dead" --status poisoned --cursor "${BASH_REMATCH[1]}"
    is b
    fails 13 INVALID_ARGUMENT items "$dead" --cursor 'not-a-cursor!'

    #   retry and cancel refuse what they cannot do, and say why
    fails 15 NOT_FOUND retry "$dead" nothing
    [[ "$err" == *"nothing"* ]] || die "retry: NOT_FOUND names the id"
    fails 15 NOT_FOUND cancel "$dead" nothing
    fails 19 FAILED_PRECONDITION retry "$dead" d
    fails 19 FAILED_PRECONDITION cancel "$dead" d
    [[ "$err" == *"claimed"* ]] || die "cancel of a claimed item says it is claimed"
    fails 19 FAILED_PRECONDITION cancel "$dead" c
    [[ "$err" == *"done"* ]] || die "cancel of a done item says it is done"

    #   retry ID: done -> pending, attempts 0, result cleared
    ok retry "$dead" c
    is ''
    ok get "$dead" c
    json "v['status'] == 'pending' and v['attempts'] == 0 and v['result'] is None"
    fails 19 FAILED_PRECONDITION retry "$dead" c
    [[ "$err" == *"pending"* ]] || die "retry of a pending item says it is pending"
    #   retry --all: every poisoned item, its error kept
    ok retry "$dead" --all
    is 2
    ok get "$dead" a
    json "v['status'] == 'pending' and v['attempts'] == 0 and v['error'] == 'boom a'"
    json "v['claimed_by'] is None and v['lease_expires_at'] is None"
    ok retry "$dead" --all
    is 0
    ids "$dead" --status poisoned
    is ''
    ok claim "$dead" --worker w                          # claimed again in push order
    json "v['id'] == 'a'"
    ok release "$dead" w
    is 2

    #   cancel: the item is gone, its id free again
    ok cancel "$dead" a
    is ''
    fails 15 NOT_FOUND get "$dead" a
    ok push "$dead" '"again"' --id a
    is a
    ok get "$dead" a
    json "v['data'] == 'again' and v['status'] == 'pending'"
    ok claim "$dead" --worker w2
    json "v['id'] == 'b'"
    ok fail "$dead" b --worker w2
    is poisoned
    ok cancel "$dead" b                                  # a poisoned item may go too
    fails 15 NOT_FOUND get "$dead" b

    #   purge: by status, never claimed, an unknown pool purges 0
    ok claim "$dead" --worker w2
    json "v['id'] == 'c'"
    fails 13 INVALID_ARGUMENT purge "$dead" --status claimed
    [[ "$err" == *"claimed"* ]] || die "purge --status claimed says why"
    fails 13 INVALID_ARGUMENT purge "$dead" --status done --status claimed
    ok size "$dead"
    is 2
    ok purge "$dead" --status pending
    is 2
    ok size "$dead"
    is 0
    ok complete "$dead" c --worker w2
    ok purge "$dead" --status done --status poisoned
    is 1
    ids "$dead"
    is ''
    ok purge "nowhere-$kind" --status done
    is 0

    #   pause and resume: pushes queue, claims find nothing, pools shows it
    ok pools
    lines "'$paused' not in [p['pool'] for p in v]"
    ok pause "$paused"
    is ''
    ok pools
    lines "any(all(x.get(k) == val for k, val in {'pool': '$paused', 'pending': 0, 'claimed': 0, 'done': 0, 'poisoned': 0, 'paused': True}.items()) for x in v)"
    lines "[p['pool'] for p in v] == sorted(p['pool'] for p in v)"
    ok stats
    json "any(all(x.get(k) == val for k, val in {'pool': '$paused', 'pending': 0, 'claimed': 0, 'done': 0, 'poisoned': 0, 'paused': True}.items()) for x in v['pools'])"
    ok push "$paused" '"p"' --id p
    ok size "$paused"
    is 1
    ok claim "$paused" --worker w
    is null
    ok claim "$paused" --worker w --wait 0.3
    is null
    ok get "$paused" p
    json "v['status'] == 'pending'"
    ids "$paused"
    is p
    ok pause "$paused"                                   # idempotent
    for command in pause resume items; do
        fails 13 INVALID_ARGUMENT "$command" ''             # no such pool name
    done
    ok resume "$paused"
    is ''
    ok resume "$paused"
    ok pools
    lines "any(all(x.get(k) == val for k, val in {'pool': '$paused', 'pending': 1, 'claimed': 0, 'done': 0, 'poisoned': 0, 'paused': False}.items()) for x in v)"
    ok claim "$paused" --worker w
    json "v['id'] == 'p'"

    #   push-many: one id a line in input order, batches, --max-retries
    run_in $'{"n":1}\n"two"\n3\n[4]\n5\n' push-many "$many" --batch 2 --max-retries 7
    CHECKS=$((CHECKS + 1))
    [ "$rc" -eq 0 ] && [ -z "$err" ] || die "push-many of 5 in batches of 2"
    local pushed=$out
    [ "$(printf '%s\n' "$pushed" | wc -l)" -eq 5 ] || die "push-many prints 5 ids"
    ok items "$many"
    PUSHED=$pushed lines "[i['id'] for i in v] == os.environ['PUSHED'].split()"
    lines "[i['data'] for i in v] == [{'n': 1}, 'two', 3, [4], 5]"
    lines "all(i['max_retries'] == 7 and i['status'] == 'pending' for i in v)"
    run_in '' push-many "$many"
    [ "$rc" -eq 0 ] && [ -z "$out" ] && [ -z "$err" ] || die "push-many of nothing"
    run_in '"no newline at the end"' push-many "$many"
    [ "$rc" -eq 0 ] && [ -z "$err" ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] \
        || die "push-many: a last line without a newline"
    ok size "$many"
    is 6
    #   a bad line: the batches before it queued (ids printed), nothing of its own
    run_in $'10\n11\n12\n{bad\n14\n' push-many "$many" --batch 2
    CHECKS=$((CHECKS + 1))
    [ "$rc" -eq 2 ] || die "push-many with a bad line 4: exit 2"
    [ "$(printf '%s\n' "$out" | wc -l)" -eq 2 ] || die "push-many: the first batch's 2 ids"
    [[ "$err" =~ ^workpool:\ INVALID_ARGUMENT:\ line\ 4\ is\ not\ valid\ JSON:.*lines\ 1\.\.2\ were\ queued.*nothing\ from\ line\ 3\ on ]] \
        || die "push-many: the bad line and what was queued"
    [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || die "push-many: one line on stderr"
    ok size "$many"
    is 8
    run_in $'20\n\n22\n' push-many "$many"
    check_failure 2 INVALID_ARGUMENT
    [[ "$err" == *"line 2 is empty; nothing was queued"* ]] || die "push-many: an empty line"
    run_in $'[1,\n' push-many "$many"
    check_failure 2 INVALID_ARGUMENT
    [[ "$err" == *"line 1 is not valid JSON: column"* ]] || die "push-many: where on the line"
    run_in '{"$bin":"!"}' push-many "$many"
    check_failure 2 INVALID_ARGUMENT
    [[ "$err" == *"line 1 cannot be encoded"* ]] || die "push-many: a value that cannot be encoded"
    #   a batch the backend refuses (max_retries above 2^31-1): none of it queued
    run_in $'30
31
32
' push-many "$many" --batch 2 --max-retries 3000000000
    check_failure 13 INVALID_ARGUMENT
    [[ "$err" == *"(nothing from line 1 on was queued)" ]] || die "push-many: a refused batch"
    ok size "$many"
    is 8

    #   Pages: 2500 items, read 1000 at a time without --limit, and by --limit
    seq 1 2500 | "$WP" push-many "$big" >"$TMP/big-ids" 2>"$TMP/err" \
        || { err=$(cat "$TMP/err"); die "push-many of 2500"; }
    [ "$(wc -l <"$TMP/big-ids")" -eq 2500 ] || die "push-many of 2500 prints 2500 ids"
    run items "$big"
    CHECKS=$((CHECKS + 1))
    [ "$rc" -eq 0 ] && [ -z "$err" ] || die "items of 2500"
    printf '%s\n' "$out" >"$TMP/big-items"
    python3 - "$TMP/big-ids" "$TMP/big-items" <<'PY' || die "items of 2500: every one, in order"
import json, sys
ids = open(sys.argv[1]).read().split()
items = [json.loads(line) for line in open(sys.argv[2])]
assert [i["id"] for i in items] == ids, "ids in push order"
assert [i["data"] for i in items] == list(range(1, 2501)), "data in push order"
PY
    run items "$big" --limit 1500
    [[ "$err" =~ ^next\ cursor:\ ([^[:space:]]+)$ ]] || die "items --limit 1500 of 2500"
    lines "[i['data'] for i in v] == list(range(1, 1501))"
    ok items "$big" --cursor "${BASH_REMATCH[1]}"
    lines "[i['data'] for i in v] == list(range(1501, 2501))"
    ok purge "$big" --status pending
    is 2500
}

#   The memory store lives as long as one command
check_memory () {
    ok --endpoint memory ping
    json "v['backend'] == 'memory'"
    ok --endpoint memory push jobs '{"a":1}'
    [[ "$out" =~ $UUID_RE ]] || die "push on memory"
    ok --endpoint memory size jobs
    is 0
    ok --endpoint memory claim jobs --worker w
    is null
    fails 15 NOT_FOUND --endpoint memory get jobs x
    ok --endpoint memory workers
    is '[]'
    ok --endpoint memory register w
    json "list(v) == $WORKER_KEYS and v['worker_id'] == 'w' and v['status'] == 'active'"
    json "v['host'] is None and v['pid'] is None and v['capabilities'] == [] and v['pool_id'] is None"
    json "v['heartbeat_interval_seconds'] == 10.0 and v['metadata'] == {}"
    ok --endpoint memory stats
    json "v == {'pools': [], 'workers': {}, 'counters': {}}"
}

#   What only a broker does: its name, counters, being away
check_broker_only () {
    ok ping
    json "v['server'].startswith('workpoold')"
    ok stats
    json "len(v['counters']) > 0"
    fails 24 UNAVAILABLE --endpoint "ipc://$TMP/nobody.ipc" --timeout 0.3 ping
    [ "$err" = "workpool: UNAVAILABLE: no broker at ipc://$TMP/nobody.ipc (is workpoold running?)" ] \
        || die "no broker: say so and name the endpoint"
    fails 24 UNAVAILABLE --endpoint "ipc://$TMP/nobody.ipc" --timeout 0.3 push jobs 1
    WORKPOOL_TIMEOUT=0.3 fails 24 UNAVAILABLE --endpoint "ipc://$TMP/nobody.ipc" items jobs
    [[ "$err" == *"no broker at ipc://"* ]] || die "no broker: items"
    #   The default timeout is short (3 s): a person at a prompt hears at once
    local start=$SECONDS
    fails 24 UNAVAILABLE --endpoint "ipc://$TMP/nobody.ipc" size jobs
    [ $((SECONDS - start)) -le 6 ] || die "the default timeout is 3 s, not $((SECONDS - start))"
    start=$SECONDS
    WORKPOOL_TIMEOUT=0.2 fails 24 UNAVAILABLE --endpoint "ipc://$TMP/nobody.ipc" size jobs
    [ $((SECONDS - start)) -le 1 ] || die "WORKPOOL_TIMEOUT sets the timeout"
    #   --timeout bounds a call the broker is slow to answer
    "$WPD" --bind "ipc://$TMP/slow.ipc" --db "$TMP/slow.db" --log-level error \
        --test-stall-ms 3000 2>>"$TMP/broker.log" &
    SLOW_PID=$!
    for _ in $(seq 100); do
        "$WP" --endpoint "ipc://$TMP/slow.ipc" --timeout 10 ping >/dev/null 2>&1 && break
    done
    fails 14 DEADLINE_EXCEEDED --endpoint "ipc://$TMP/slow.ipc" --timeout 0.3 size jobs
    ok --endpoint "ipc://$TMP/slow.ipc" --timeout 20 size jobs
    is 0
    run_in $'1\n2\n3\n' --endpoint "ipc://$TMP/slow.ipc" --timeout 0.3 push-many jobs --batch 2
    check_failure 14 DEADLINE_EXCEEDED
    [[ "$err" == *"(lines 1..2 may have been queued without their ids printed; nothing after them was)" ]] \
        || die "push-many: a batch without a reply may have been queued"
    kill "$SLOW_PID"
    wait "$SLOW_PID"
    SLOW_PID=

    #   A waiting claim is answered when a push comes
    (sleep 0.3; "$WP" push waiting '"late"' --id late >/dev/null) &
    local pusher=$!
    ok claim waiting --worker w --wait 30
    wait "$pusher"
    json "v['id'] == 'late' and v['data'] == 'late'"
}

# ---------------------------------------------------------------------------

unset WORKPOOL_ENDPOINT
#   keygen: the files it writes (czmq certificates, metadata, modes), and
#   what it refuses
check_keygen () {
    local dir=$TMP/keygen
    mkdir -p "$dir"
    ok keygen "$dir/alice" --role admin
    json 'v["public"] == "'"$dir/alice"'" and v["secret"] == "'"$dir/alice_secret"'"'
    json 'len(v["public_key"]) == 40 and v["role"] == "admin" and v["worker_prefix"] is None'
    CHECKS=$((CHECKS + 1))
    grep -q '^    role = "admin"' "$dir/alice" && grep -q 'public-key = ' "$dir/alice" \
        && ! grep -q 'secret-key' "$dir/alice" && grep -q 'secret-key = ' "$dir/alice_secret" \
        || die "keygen wrote no czmq certificate pair"
    [ "$(stat -c %a "$dir/alice_secret")" = 600 ] || die "the secret file is not 0600"
    ok keygen "$dir/gpu" --role worker --worker-prefix gpu-
    CHECKS=$((CHECKS + 1))
    grep -q '^    worker_prefix = "gpu-"' "$dir/gpu" || die "no worker_prefix in the metadata"
    ok keygen "$dir/broker" --server
    json 'v["role"] is None'
    CHECKS=$((CHECKS + 1))
    ! grep -q 'role' "$dir/broker" || die "a server certificate got a role"
    #   never overwrites, either file
    fails 16 ALREADY_EXISTS keygen "$dir/alice" --role admin
    rm "$dir/gpu"
    fails 16 ALREADY_EXISTS keygen "$dir/gpu" --role worker --worker-prefix gpu-
    usage keygen "$dir/w" --role worker
    usage keygen "$dir/w" --role producer --worker-prefix p-
    usage keygen "$dir/w" --role root
    usage keygen "$dir/w"
    usage keygen "$dir/w" --server --role admin
    usage keygen --role admin
    CHECKS=$((CHECKS + 1))
    [ ! -e "$dir/w" ] && [ ! -e "$dir/w_secret" ] || die "a refused keygen wrote a file"
}

#   A broker with CURVE: keys in and out, by flag and by environment, the
#   roles' refusals, and the clear errors of no key, an unknown key and a
#   wrong server key
check_curve () {
    local dir=$TMP/curve
    mkdir -p "$dir/keys"
    ok keygen "$dir/broker" --server
    ok keygen "$dir/keys/admin" --role admin
    ok keygen "$dir/keys/maker" --role producer
    ok keygen "$dir/keys/gpu" --role worker --worker-prefix gpu-
    ok keygen "$dir/stranger" --role admin
    ok keygen "$dir/impostor" --server
    mv "$dir"/keys/*_secret "$dir"
    "$WPD" --bind "ipc://$dir/curve.ipc" --store memory --log-level error \
        --curve-secret "$dir/broker_secret" --keys "$dir/keys" 2>"$dir/broker.log" &
    CURVE_PID=$!
    local e="ipc://$dir/curve.ipc" key="--server-key $dir/broker"
    for _ in $(seq 100); do
        "$WP" --endpoint "$e" $key --cert "$dir/admin_secret" --timeout 0.2 ping \
            >/dev/null 2>&1 && break
        kill -0 "$CURVE_PID" 2>/dev/null || { cat "$dir/broker.log" >&2; die "workpoold died"; }
    done
    ok --endpoint "$e" $key --cert "$dir/admin_secret" ping
    ok --endpoint "$e" $key --cert "$dir/maker_secret" push jobs '{"n": 1}' --id one
    is one
    WORKPOOL_SERVER_KEY=$dir/broker WORKPOOL_CERT=$dir/gpu_secret \
        ok --endpoint "$e" claim jobs --worker gpu-1
    json 'v["id"] == "one" and v["claimed_by"] == "gpu-1"'
    WORKPOOL_SERVER_KEY=$dir/broker WORKPOOL_CERT=$dir/gpu_secret \
        ok --endpoint "$e" complete jobs one '"done"' --worker gpu-1
    #   the roles (the broker's words reach the user unchanged)
    fails 17 PERMISSION_DENIED --endpoint "$e" $key --cert "$dir/maker_secret" stats
    [[ "$err" == *"role producer"* ]] || die "the refusal does not name the role"
    fails 17 PERMISSION_DENIED --endpoint "$e" $key --cert "$dir/gpu_secret" \
        heartbeat cpu-1
    ok --endpoint "$e" $key --cert "$dir/admin_secret" get jobs one
    json 'v["status"] == "done" and v["result"] == "done"'
    #   refused at once, not after --timeout
    local start=$SECONDS
    fails 26 UNAUTHENTICATED --endpoint "$e" --timeout 20 ping
    [[ "$err" == *"authentication failed"*"requires CURVE"* ]] || die "no-key message"
    fails 26 UNAUTHENTICATED --endpoint "$e" $key --cert "$dir/stranger_secret" --timeout 20 ping
    [[ "$err" == *"authentication failed: the broker refused this client's key"* ]] \
        || die "unknown-key message"
    [ $((SECONDS - start)) -lt 10 ] || die "a refused key waited for the deadline"
    fails 24 UNAVAILABLE --endpoint "$e" --server-key "$dir/impostor" \
        --cert "$dir/admin_secret" --timeout 1 ping
    [[ "$err" == *"(CURVE handshake failed: wrong server key?)"* ]] || die "wrong-key message"
    #   bad files, named
    fails 13 INVALID_ARGUMENT --endpoint "$e" $key --cert "$dir/nothing" ping
    [[ "$err" == *"$dir/nothing"* ]] || die "the missing file is not named"
    fails 13 INVALID_ARGUMENT --endpoint "$e" $key --cert "$dir/keys/admin" ping
    [[ "$err" == *"no secret-key"* ]] || die "a public file as --cert"
    fails 13 INVALID_ARGUMENT --endpoint "$e" $key ping
    #   the broker served on
    ok --endpoint "$e" $key --cert "$dir/admin_secret" size jobs
    is 0
    kill "$CURVE_PID"
    wait "$CURVE_PID"
    CURVE_PID=
}

#   check_scheduling KIND [broker]: delays, priorities, unique keys, retry
#   after, backoff and schedules through the command line; with broker,
#   also a schedule that fires
check_scheduling () {
    local kind=$1
    local p="sched-$kind"
    #   the command line's own refusals
    usage push "$p" 1 --delay 5 --at 2026-01-01T00:00:00Z
    [[ "$err" == *"give --delay or --at, not both"* ]] || die "delay and at"
    usage push "$p" 1 --delay soon
    usage push "$p" 1 --at tomorrow
    usage push "$p" 1 --priority 2147483648
    usage pool set "$p" --backoff 1,x
    usage pool set "$p"
    usage pool frob "$p" --backoff none
    usage schedule add n "$p" '* * * * *'
    usage schedule frob
    usage schedule list --priority 1
    #   the store's refusals, with its words
    fails 13 INVALID_ARGUMENT push "$p" 1 --delay 99999999
    [[ "$err" == *"delay_seconds must be 0..31622400"* ]] || die "delay bound"
    fails 13 INVALID_ARGUMENT pool set "$p" --backoff 10,5
    [[ "$err" == *"backoff cap must be at least the base"* ]] || die "backoff bound"
    fails 13 INVALID_ARGUMENT schedule add n "$p" '61 * * * *' 1
    [[ "$err" == *"cron: the minute field: '61'"* ]] || die "cron refused"

    #   priorities: lowest first, then the oldest; delays: scheduled
    ok push "$p" '"late"' --id late --delay 3600
    ok push "$p" '"low"' --id low --priority 5
    ok push "$p" '"mid"' --id mid
    ok push "$p" '"urgent"' --id urgent --priority -5 --unique-key u
    ok push "$p" '"again"' --unique-key u
    is urgent
    ok get "$p" late
    json "v['status'] == 'scheduled' and t(v['run_at']) > t(v['created_at'])"
    ok get "$p" urgent
    json "v['priority'] == -5 and v['unique_key'] == 'u' and list(v) == $ITEM_KEYS"
    ok size "$p"
    is 3
    ids "$p" --status scheduled
    is late
    for id in urgent mid low; do
        ok claim "$p" --worker w
        json "v['id'] == '$id'"
    done
    ok claim "$p" --worker w
    is null
    #   fail --retry-after: scheduled; pool set --backoff: the same by policy
    ok fail "$p" mid "429" --worker w --retry-after 3600
    is scheduled
    ok pool set "$p" --backoff 600,3600,0.5
    ok fail "$p" low "boom" --worker w
    is scheduled
    ok get "$p" low
    #   first failure: 600 s, less up to half of it
    json "295 <= (t(v['run_at']) - datetime.datetime.utcnow()).total_seconds() <= 601"
    ok pools
    lines "[x for x in v if x['pool'] == '$p'][0]['backoff_base_seconds'] == 600 and [x for x in v if x['pool'] == '$p'][0]['scheduled'] == 3"
    ok pool set "$p" --backoff none
    ok pools
    lines "[x for x in v if x['pool'] == '$p'][0]['backoff_base_seconds'] == 0"
    ok purge "$p" --status scheduled
    is 3
    ok push-many "$p" --priority 7 --delay 3600 < /dev/null
    run_in $'1\n2' push-many "$p" --priority 7 --delay 3600
    [ "$rc" -eq 0 ] || die "push-many with options"
    ids "$p" --status scheduled
    [ "$(echo $out | wc -w)" -eq 2 ] || die "push-many's items are not scheduled"

    #   schedules: add, list, replace, remove
    ok schedule add "nightly-$kind" "$p" '0 3 * * *' '{"job": 1}' --priority 2
    json "v['name'] == 'nightly-$kind' and v['cron'] == '0 3 * * *' and v['data'] == {'job': 1} and v['priority'] == 2 and v['max_retries'] is None and t(v['next_at']).hour == 3 and v['last_fired_at'] is None"
    ok schedule add "every-$kind" "$p" '* * * * * *' '"tick"' --max-retries 1
    ok schedule list
    lines "[x['name'] for x in v if x['name'].endswith('-$kind')] == ['every-$kind', 'nightly-$kind']"
    if [ "${2:-}" = broker ]; then
        #   the broker fires it: one item a second, id NAME@TICK
        local fired=0
        for _ in $(seq 50); do
            ok items "$p" --status pending
            fired=$(printf '%s\n' "$out" | grep -c "every-$kind@" || true)
            [ "$fired" -ge 2 ] && break
            sleep 0.1
        done
        [ "$fired" -ge 2 ] || die "the schedule did not fire twice in 5 s"
        lines "all(x['max_retries'] == 1 and x['data'] == 'tick' for x in v if x['id'].startswith('every-$kind@'))"
    fi
    ok schedule remove "every-$kind"
    is ''
    fails 15 NOT_FOUND schedule remove "every-$kind"
    [[ "$err" == *"no schedule 'every-$kind'"* ]] || die "remove unknown"
    ok schedule remove "nightly-$kind"
}

if [ "$PART" != broker ]; then
    check_keygen
    echo "keygen: ok"
    check_command_line
    echo "command line: ok"
    check_memory
    echo "memory: ok"
    export WORKPOOL_ENDPOINT="sqlite:$TMP/cli.db"
    check_backend sqlite
    check_lifecycle sqlite
    check_scheduling sqlite
    echo "sqlite: ok"
fi

if [ "$PART" != local ] && [ -n "$WPD" ]; then
    "$WPD" --bind "ipc://$TMP/broker.ipc" --db "$TMP/broker.db" --log-level error \
        2>"$TMP/broker.log" &
    BROKER_PID=$!
    export WORKPOOL_ENDPOINT="ipc://$TMP/broker.ipc"
    for _ in $(seq 100); do
        "$WP" --timeout 0.2 ping >/dev/null 2>&1 && break
        kill -0 "$BROKER_PID" 2>/dev/null || { cat "$TMP/broker.log" >&2; die "workpoold died"; }
    done
    check_backend remote
    check_lifecycle remote
    check_scheduling remote broker
    check_broker_only
    check_curve
    echo "curve: ok"
    kill "$BROKER_PID"
    wait "$BROKER_PID"
    status=$?
    BROKER_PID=
    [ "$status" -eq 0 ] || { cat "$TMP/broker.log" >&2; die "workpoold exited $status"; }
    echo "broker: ok"
elif [ "$PART" != local ]; then
    echo "broker: workpoold not given, skipped"
fi

echo "cli_test: OK ($CHECKS checks)"
