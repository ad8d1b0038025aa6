#!/usr/bin/env bash
# Fuzzes SoMLier's parsers of outside input (fuzz/*.cc) with libFuzzer: installs Debian's
# clang and libFuzzer when missing, builds the project with clang under AddressSanitizer +
# UndefinedBehaviorSanitizer and libFuzzer's coverage instrumentation in build-fuzz/, and
# fuzzes each target for a while.
#
#   bench/fuzz.sh [--seconds N] [--clang VERSION] [--merge] [TARGET...]
#
#   --seconds N   how long to fuzz each target (default 60)
#   --clang V     the clang to build with (default 16: clang-16, libclang-rt-16-dev,
#                 libfuzzer-16-dev). clang-14 (with libfuzzer-14-dev) lacks C++20's lambda
#                 captures of structured bindings, which src/somlier/api uses.
#   --merge       afterwards, add the inputs that reach new code to the seed corpus
#                 fuzz/corpus/<target>/ (libFuzzer's -merge=1); without it nothing in the
#                 repository is written
#   TARGET...     the targets to fuzz (default: all), e.g. json_body yaml_project
#
# Each target fuzzes a working corpus build-fuzz/corpus/<target>/ (the seed corpus copied in,
# plus what earlier runs found). A crash — a sanitizer report, an uncaught exception, a
# failed FUZZ_CHECK, a timeout (-timeout, 10 s) or running out of memory (-rss_limit_mb=2048)
# — leaves its input in build-fuzz/crashes/<target>/; the fuzzer is then restarted (without
# that input) for the rest of the target's time (up to 20 crashes), so one run can report
# several. libFuzzer's output is in build-fuzz/logs/<target>.log. At the end the crashes are
# listed by kind (the first line of the sanitizer's or the check's message, with one input
# each), and the last lines say, per target,
#
#   TARGET: N execs, M exec/s, K crashes
#
# and the exit status is non-zero when any target crashed (or did not build).
#
# Runs as root (apt-get directly) or as a user with sudo, like scripts/setup.sh.
set -uo pipefail
cd "$(dirname "$0")/.."

all_targets=(json_body train_request search_filter log_batch model_input yaml_project
             requirements param_grid paging_token http_framing)
# The longest input each target gets: a request body or file of a few kilobytes (larger than
# the largest seed, which libFuzzer would otherwise cut), a command-line word for param_grid.
declare -A max_len=(
  [json_body]=8192 [train_request]=8192 [search_filter]=2048 [log_batch]=8192
  [model_input]=8192 [yaml_project]=8192 [requirements]=4096 [param_grid]=256
  [paging_token]=1024 [http_framing]=8192
)

seconds=60
clang=16
merge=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds)
      [ $# -ge 2 ] && [[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -gt 0 ] ||
        { echo "fuzz.sh: --seconds needs a positive number of seconds" >&2; exit 2; }
      seconds=$2; shift ;;
    --clang)
      [ $# -ge 2 ] && [[ "$2" =~ ^[0-9]+$ ]] ||
        { echo "fuzz.sh: --clang needs a version number, e.g. 16" >&2; exit 2; }
      clang=$2; shift ;;
    --merge) merge=1 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*)
      echo "fuzz.sh: unknown option '$1' (expected --seconds N, --clang V, --merge, TARGET...)" >&2
      exit 2 ;;
    *)
      if [[ ! " ${all_targets[*]} " =~ " $1 " ]]; then
        echo "fuzz.sh: unknown target '$1' (one of: ${all_targets[*]})" >&2; exit 2
      fi
      targets+=("$1") ;;
  esac
  shift
done
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

# clang and libFuzzer (the rest of the build's packages are scripts/setup.sh's). From
# version 15 on, Debian ships the sanitizer and libFuzzer runtimes in libclang-rt-V-dev.
packages=("clang-$clang" "libfuzzer-$clang-dev")
[ "$clang" -lt 15 ] || packages+=("libclang-rt-$clang-dev")
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "fuzz: installing ${missing[*]}"
  sudo=()
  [ "$(id -u)" != 0 ] && sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || exit 1
fi

build=build-fuzz
# The libraries get the sanitizers and libFuzzer's coverage instrumentation
# (fuzzer-no-link); SOMLIER_LIBFUZZER links the targets with -fsanitize=fuzzer (its main).
# The Sanitize build type: -O1, line tables, assertions on.
sanitize_flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
sanitize_flags+=" -fno-omit-frame-pointer"
compiler=$(command -v "clang++-$clang") || { echo "fuzz.sh: clang++-$clang not found" >&2; exit 1; }
# CMake cannot switch the compiler of a configured build directory: start it afresh.
if [ -f "$build/CMakeCache.txt" ] &&
   ! grep -qx "CMAKE_CXX_COMPILER:[A-Z]*=$compiler" "$build/CMakeCache.txt"; then
  rm -rf "$build/CMakeCache.txt" "$build/CMakeFiles"
fi
echo "fuzz: configuring $build (clang-$clang, ASan + UBSan + libFuzzer)"
cmake -S . -B "$build" -G Ninja \
  -DCMAKE_CXX_COMPILER="$compiler" \
  -DCMAKE_BUILD_TYPE=Sanitize \
  -DCMAKE_CXX_FLAGS="$sanitize_flags" \
  -DSOMLIER_SANITIZE=OFF \
  -DSOMLIER_BUILD_TESTS=ON \
  -DSOMLIER_BUILD_BENCH=OFF \
  -DSOMLIER_LIBFUZZER=ON >/dev/null || exit 1
echo "fuzz: building ${targets[*]}"
nice cmake --build "$build" --target "${targets[@]/#/fuzz_}" || exit 1

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Stacks with function names and lines need llvm-symbolizer (any version).
for symbolizer in "/usr/lib/llvm-$clang/bin/llvm-symbolizer" "$(command -v llvm-symbolizer)"; do
  if [ -x "$symbolizer" ]; then
    export ASAN_SYMBOLIZER_PATH=$symbolizer UBSAN_SYMBOLIZER_PATH=$symbolizer
    break
  fi
done
# The targets' scratch files (fuzz/fuzz_util.h) stay inside the build directory.
export TMPDIR=$PWD/$build/tmp
mkdir -p "$TMPDIR" "$build/logs"

# The value of libFuzzer's final-stats line `stat::NAME: VALUE` in a log, or 0.
final_stat() { sed -nE "s/^stat::$1: *([0-9]+).*/\1/p" "$2" | tail -n 1 | grep . || echo 0; }

summary=()
failed=0
# Crashes by kind (the target and its message with the numbers left out) -> how many, and
# the first one's message and input.
declare -A kind_count=()
declare -A kind_message=()
declare -A kind_example=()
kinds=()
for target in "${targets[@]}"; do
  bin=$PWD/$build/fuzz/fuzz_$target
  corpus=$PWD/$build/corpus/$target
  crashes=$PWD/$build/crashes/$target
  log=$PWD/$build/logs/$target.log
  mkdir -p "$corpus" "$crashes"
  cp -f fuzz/corpus/"$target"/* "$corpus"/ 2>/dev/null
  : >"$log"
  echo "fuzz: $target for $seconds s"
  execs=0
  found=0
  start=$SECONDS
  while true; do
    left=$((seconds - (SECONDS - start)))
    [ "$left" -gt 0 ] || break
    run_log=$(mktemp "$TMPDIR/run.XXXXXX")
    nice "$bin" "$corpus" -max_total_time="$left" -max_len="${max_len[$target]}" \
      -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$crashes/" >"$run_log" 2>&1
    rc=$?
    cat "$run_log" >>"$log"
    execs=$((execs + $(final_stat number_of_executed_units "$run_log")))
    if [ "$rc" = 0 ]; then
      rm -f "$run_log"
      break
    fi
    # "Test unit written to <artifact>" names the input that crashed.
    artifact=$(sed -nE 's/.*Test unit written to (.*)$/\1/p' "$run_log" | tail -n 1)
    # What went wrong, in one line: the sanitizer's, libFuzzer's or the invariant's words.
    reason=$(grep -m 1 -E 'runtime error:|FUZZ_CHECK|fuzz invariant failed|what\(\)|^SUMMARY: ' \
             "$run_log" | cut -c 1-200)
    # And where, in SoMLier's code: the innermost frame of the stack in src/somlier/.
    where=$(grep -m 1 -oE '/src/somlier/[^ ]+:[0-9]+' "$run_log")
    [ -z "$where" ] || reason+=" (at ${where#/})"
    rm -f "$run_log"
    found=$((found + 1))
    if [ -z "$artifact" ] || [ ! -f "$artifact" ]; then
      kinds+=("$target: libFuzzer failed (exit $rc) without saving an input; see $log")
      break
    fi
    reason=${reason:-(no message found)}
    # One kind per message, whatever the numbers in it (addresses, offsets, bytes).
    kind="$target: $(sed -E 's/0x[0-9a-fA-F]+//g; s/[0-9]+//g' <<<"$reason")"
    if [ -z "${kind_count[$kind]:-}" ]; then
      kinds+=("$kind")
      kind_count[$kind]=0
      kind_message[$kind]="$target: $(sed -E 's/^ +//' <<<"$reason")"
      kind_example[$kind]=$artifact
    fi
    kind_count[$kind]=$((kind_count[$kind] + 1))
    # A crashing input from the working corpus would crash every restart: drop it there.
    for f in "$corpus"/*; do
      if cmp -s "$f" "$artifact"; then rm -f "$f"; fi
    done
    [ "$found" -lt 20 ] || break  # the same bug, again and again: enough
  done
  elapsed=$((SECONDS - start))
  [ "$elapsed" -gt 0 ] || elapsed=1
  summary+=("$target: $execs execs, $((execs / elapsed)) exec/s, $found crashes")
  [ "$found" = 0 ] || failed=1

  if [ "$merge" = 1 ]; then
    echo "fuzz: merging new coverage of $target into fuzz/corpus/$target"
    "$bin" -merge=1 -max_len="${max_len[$target]}" -rss_limit_mb=2048 -timeout=10 \
      fuzz/corpus/"$target" "$corpus" >>"$log" 2>&1 ||
      echo "fuzz: merging $target failed; see $log" >&2
  fi
done
rm -rf "$TMPDIR"

echo
if [ ${#kinds[@]} -gt 0 ]; then
  echo "fuzz: crashes by kind (inputs in $build/crashes/, libFuzzer's reports in $build/logs/):"
  for kind in "${kinds[@]}"; do
    if [ -n "${kind_count[$kind]:-}" ]; then
      echo "  ${kind_count[$kind]} x ${kind_message[$kind]}"
      echo "      e.g. ${kind_example[$kind]}"
    else
      echo "  $kind"
    fi
  done
  echo
fi
printf '%s\n' "${summary[@]}"
exit "$failed"
