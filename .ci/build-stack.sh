#!/usr/bin/env bash
# Build the real servers the stack tests run (no Docker here): the project's OpenTelemetry Collector
# (collector-config/otelcol-aiw) and Jaeger v2 (collector-config/jaeger), and install Debian's
# Prometheus (2.42, with promtool) and Pushgateway when missing.
#
# Binaries land in ${AIW_OTEL_CACHE:-$HOME/.cache/aiw-otel}/bin/ as NAME-KEY, KEY a hash of the
# module's go.mod, go.sum and main.go, the Go version and the build flags; NAME links to the newest.
# NAME.sources holds the hash of the sources alone, which tests/stack.py recomputes to spot a stale
# build. A build runs only when its key is new, so a second run takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cache="${AIW_OTEL_CACHE:-$HOME/.cache/aiw-otel}"
bindir="$cache/bin"
mkdir -p "$bindir"

# Lean builds: no symbol tables or DWARF, no race detector, no VCS stamping, paths trimmed.
ldflags='-s -w'
export CGO_ENABLED=0

# sha256 of each file's relative path and bytes, in the order given; tests/stack.py does the same.
sources_hash() {
    local dir=$1 f
    shift
    for f in "$@"; do
        [ -f "$dir/$f" ] || continue
        printf '%s\0' "$f"
        cat "$dir/$f"
        printf '\0'
    done | sha256sum | cut -c1-64
}

# build NAME MODULE_DIR PACKAGE: go build PACKAGE inside MODULE_DIR unless NAME-KEY is cached.
build() {
    local name=$1 dir=$root/$2 pkg=$3 sources key target start took
    sources=$(sources_hash "$dir" go.mod go.sum main.go)
    key=$(printf '%s %s %s %s' "$sources" "$(go env GOVERSION)" "$ldflags" "$CGO_ENABLED" | sha256sum | cut -c1-16)
    target="$bindir/$name-$key"
    start=$(date +%s.%N)
    if [ -x "$target" ]; then
        took=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
        echo "build-stack: $name cached ($target, ${took}s)"
    else
        # Quiet unless it fails: a first build lists every module it downloads.
        if ! (cd "$dir" && go build -trimpath -buildvcs=false -ldflags="$ldflags" -o "$target.tmp" "$pkg") \
            >"$bindir/$name.build.log" 2>&1; then
            cat "$bindir/$name.build.log" >&2
            echo "build-stack: building $name failed" >&2
            exit 1
        fi
        rm -f "$bindir/$name.build.log"
        mv -f "$target.tmp" "$target"
        took=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
        echo "build-stack: $name built in ${took}s ($target)"
        # Older builds of this binary are of no further use.
        find "$bindir" -maxdepth 1 -name "$name-*" ! -name "$name-$key" ! -name "*.sources" ! -name "*.log" -delete
    fi
    ln -sfn "$name-$key" "$bindir/$name"
    echo "$sources" >"$bindir/$name.sources"
}

if ! command -v go >/dev/null 2>&1; then
    echo "build-stack: no Go toolchain on PATH; the stack tests will be skipped" >&2
else
    build otelcol-aiw collector-config/otelcol-aiw .
    build jaeger collector-config/jaeger github.com/jaegertracing/jaeger/cmd/jaeger
fi

# Debian's Prometheus 2.42 (prometheus, promtool) and the Pushgateway.
missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-pushgateway >/dev/null 2>&1 || missing+=(prometheus-pushgateway)
if [ ${#missing[@]} -gt 0 ]; then
    start=$(date +%s.%N)
    apt-get update -q >/dev/null
    # The packages start their services where an init system runs; the tests start their own.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
    took=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
    echo "build-stack: installed $(printf '%s ' "${missing[@]}" | xargs -n1 | sort -u | xargs) in ${took}s"
fi
echo "build-stack: $(prometheus --version 2>&1 | head -n1)"
