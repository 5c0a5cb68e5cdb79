# Sourced by .ci/run (bash): run named phases, keep going after a failure, time
# each one, and print one summary of what ran on which Node at the end.
#
#   phase NAME NODE COMMAND...   runs COMMAND with its output shown and kept,
#                                records ok/FAIL, the wall time and the test counts
#   skip NAME NODE WHY           records a phase that could not run (counts as a failure)
#   on_node MAJOR COMMAND...     runs COMMAND with that fetched Node first on PATH
#   summary                      prints the table; returns 1 if any phase failed or was skipped

ci_logs=$(mktemp -d "${TMPDIR:-/tmp}/ci-logs.XXXXXX")
ci_start=$SECONDS
ci_failed=0
ci_rows=()
ci_failures=()
ci_passed=0
ci_fails=0
ci_skips=0
declare -A node_bin=()

on_node () {
  local major=$1
  shift
  [ -n "${node_bin[$major]:-}" ] || { echo "on_node: Node $major was not fetched" >&2; return 1; }
  (
    export PATH="${node_bin[$major]}:$PATH"
    hash -r
    "$@"
  )
}

# Sets ci_count to "tap: N pass, N fail, N skip" from a tap run's closing
# "# { total: N, pass: N, ... }" and tstyche's "Tests: N passed"; adds tap's
# numbers to the run's totals.
ci_counts () {
  local log=$1 line pass fail skip todo out=''
  line=$(grep -E '^# \{ total: [0-9]+' "$log" | tail -n 1)
  if [ -n "$line" ]; then
    pass=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$line")
    fail=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$line")
    skip=$(sed -nE 's/.*skip: ([0-9]+).*/\1/p' <<<"$line")
    todo=$(sed -nE 's/.*todo: ([0-9]+).*/\1/p' <<<"$line")
    out="tap: ${pass:-0} pass, ${fail:-0} fail, ${skip:-0} skip${todo:+, $todo todo}"
    ci_passed=$((ci_passed + ${pass:-0}))
    ci_fails=$((ci_fails + ${fail:-0}))
    ci_skips=$((ci_skips + ${skip:-0}))
  fi
  line=$(sed -E 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^Tests: ' | tail -n 1)
  if [ -n "$line" ]; then
    out="${out:+$out; }tstyche:$(sed -E 's/^Tests: +/ /; s/, [0-9]+ total//' <<<"$line")"
  fi
  ci_count=$out
}

ci_version () {
  if [ "$1" = - ]; then printf -- '-'; else on_node "$1" node --version 2>/dev/null || printf 'v%s?' "$1"; fi
}

phase () {
  local name=$1 major=$2 rc start log version
  shift 2
  log=$ci_logs/$(printf '%02d' "${#ci_rows[@]}").log
  version=$(ci_version "$major")
  echo ""
  echo "=== $name  [node $version]  $(date -u +%H:%M:%S) UTC"
  start=$SECONDS
  "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  local took=$((SECONDS - start)) result=ok
  if [ "$rc" != 0 ]; then result="FAIL($rc)"; ci_failed=1; fi
  echo "=== $name: $result in ${took}s"
  ci_counts "$log"
  # A failing phase's failed test points, kept for the end: a long run's log is read from its tail.
  if [ "$rc" != 0 ]; then
    ci_failures+=("--- $name [node $version]:")
    mapfile -t -O "${#ci_failures[@]}" ci_failures < <(grep -E '^ *not ok ' "$log" | sed -E 's/^ +/  /' | head -n 40)
  fi
  ci_rows+=("$name"$'\t'"$version"$'\t'"$result"$'\t'"${took}s"$'\t'"$ci_count")
  return "$rc"
}

skip () {
  ci_failed=1
  echo ""
  echo "=== $1: NOT RUN: $3"
  ci_rows+=("$1"$'\t'"$(ci_version "$2")"$'\t'"NOT RUN"$'\t'"-"$'\t'"$3")
}

summary () {
  echo ""
  echo "================================ CI summary ================================"
  {
    printf 'phase\tnode\tresult\twall\ttests\n'
    printf '%s\n' "${ci_rows[@]}"
    printf 'whole run\t\t%s\t%ss\t\n' "$([ "$ci_failed" = 0 ] && echo ok || echo FAILED)" "$((SECONDS - ci_start))"
  } | awk -F '\t' '
    { for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > width[i]) width[i] = length($i) } n[NR] = NF }
    END { for (r = 1; r <= NR; r++) { line = ""
      for (i = 1; i <= n[r]; i++) line = line sprintf(i < n[r] ? "%-" width[i] "s  " : "%s", cell[r, i])
      sub(/ +$/, "", line); print line } }'
  echo "============================================================================"
  if [ "${#ci_failures[@]}" != 0 ]; then
    echo "failed test points (the first 40 of each failing phase):"
    printf '%s\n' "${ci_failures[@]}"
  fi
  rm -rf "$ci_logs"
  # The closing line: tap's test points over every Node line.
  echo "tests: $ci_passed passed, $ci_fails failed, $ci_skips skipped"
  [ "$ci_failed" = 0 ]
}
