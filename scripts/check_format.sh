#!/usr/bin/env bash
# Checks that the C++ sources are formatted as .clang-format says, with Debian bookworm's
# clang-format-14 (another clang-format version formats some constructs differently).
#
#   scripts/check_format.sh [--fix] [--root DIR] [FILE...]
#
# Without FILE, checks every *.cc and *.h under src/, fuzz/ and bench/ of the source tree
# (--root DIR, default: the repository that holds this script; it must have a
# .clang-format). With FILEs, checks those, as given. Prints the files that are not
# formatted (their count, then one a line) and exits 1 if there are any, 0 otherwise; 2
# when clang-format-14 is missing or fails. --fix formats those files in place instead
# and exits 0. $CLANG_FORMAT overrides the clang-format command.
set -uo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
fix=0
files=()
while [ $# -gt 0 ]; do
  case "$1" in
    --fix) fix=1 ;;
    --root)
      [ $# -ge 2 ] || { echo "check_format: --root needs a directory" >&2; exit 2; }
      root=$2; shift ;;
    --) shift; files+=("$@"); break ;;
    -*) echo "check_format: unknown option '$1' (expected --fix, --root DIR, FILE...)" >&2; exit 2 ;;
    *) files+=("$1") ;;
  esac
  shift
done

count() { if [ "$1" = 1 ]; then echo "1 $2"; else echo "$1 $2s"; fi; }

clang_format=${CLANG_FORMAT:-clang-format-14}
if ! command -v "$clang_format" >/dev/null; then
  echo "check_format: $clang_format not found (scripts/setup.sh --tests installs it)" >&2
  exit 2
fi

if [ ${#files[@]} -eq 0 ]; then
  cd "$root" || { echo "check_format: no directory '$root'" >&2; exit 2; }
  if [ ! -f .clang-format ]; then
    echo "check_format: $root has no .clang-format" >&2
    exit 2
  fi
  dirs=()
  for d in src fuzz bench; do [ -d "$d" ] && dirs+=("$d"); done
  if [ ${#dirs[@]} -gt 0 ]; then
    mapfile -d '' files < <(find "${dirs[@]}" -type f \( -name '*.cc' -o -name '*.h' \) \
                              -print0 | LC_ALL=C sort -z)
  fi
  if [ ${#files[@]} -eq 0 ]; then
    echo "check_format: no *.cc or *.h file under src/, fuzz/ or bench/ of $root" >&2
    exit 2
  fi
fi

for f in "${files[@]}"; do
  if [ ! -f "$f" ] || [ ! -r "$f" ]; then
    echo "check_format: no file '$f'" >&2
    exit 2
  fi
done

# One run over all files (clang-format reads a missing file's name nowhere, hence the check
# above): each unformatted file gets one
# "FILE:LINE:COL: error: code should be clang-formatted [-Wclang-format-violations]".
out=$("$clang_format" --style=file --dry-run -Werror --ferror-limit=1 -- "${files[@]}" 2>&1)
rc=$?
mapfile -t bad < <(sed -nE 's/^(.*):[0-9]+:[0-9]+: error: code should be clang-formatted.*/\1/p' \
                     <<<"$out" | LC_ALL=C sort -u)
if [ "$rc" != 0 ] && [ ${#bad[@]} -eq 0 ]; then
  # Not a formatting difference: a broken .clang-format, say.
  echo "check_format: $clang_format failed (exit $rc):" >&2
  printf '%s\n' "$out" >&2
  exit 2
fi

if [ ${#bad[@]} -eq 0 ]; then
  echo "check_format: ok: $(count ${#files[@]} file) formatted ($clang_format)"
  exit 0
fi
if [ "$fix" = 1 ]; then
  if ! "$clang_format" --style=file -i -- "${bad[@]}"; then
    echo "check_format: $clang_format -i failed" >&2
    exit 2
  fi
  echo "check_format: formatted ${#bad[@]} of $(count ${#files[@]} file) in place ($clang_format):"
  printf '  %s\n' "${bad[@]}"
  exit 0
fi
echo "check_format: FAILED: $(count ${#bad[@]} file) of ${#files[@]} not formatted ($clang_format):"
printf '  %s\n' "${bad[@]}"
echo "check_format: scripts/check_format.sh --fix formats them in place"
exit 1
