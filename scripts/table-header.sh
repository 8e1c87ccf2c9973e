# Sourced by the scripts that write measured tables (benchmark-tables.sh, fuzz.sh): every
# table carries what it ran on, when, from which commit, and the command that regenerates it.

# current_commit: HEAD, short, and whether tracked files differ from it.
current_commit() {
  local commit
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit with uncommitted changes"; fi
  echo "$commit"
}

# machine_header COMMAND DESCRIPTION: the header lines, to stdout. The commit is $MEASURED_COMMIT
# when set (a long run records the commit it started from: the tree may move on meanwhile).
machine_header() {
  local command=$1 description=$2 cpu simd commit
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
  if grep -qw avx512f /proc/cpuinfo; then simd="AVX-512"; elif grep -qw avx2 /proc/cpuinfo; then simd="AVX2 (no AVX-512)"; else simd="no AVX2"; fi
  commit=${MEASURED_COMMIT:-$(current_commit)}
  echo "Measured $(date -u +%Y-%m-%d) at commit $commit on: $cpu, $(nproc) cores, $simd;"
  echo "OpenBLAS $(dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null || echo '?'), $description."
  echo "Regenerate with \`$command\`."
}

# write_table FILE: stdin to FILE, atomically.
write_table() {
  local tmp
  tmp=$(mktemp "$1.XXXXXX")
  cat >"$tmp"
  mv "$tmp" "$1"
  echo "wrote $1"
}
