#!/usr/bin/env bash
# Fuzzing driver for websocket-rs, on the STABLE toolchain (no nightly, no RUSTC_BOOTSTRAP).
#
#   bash fuzz/run.sh ci                      each target for a bounded time (about 100 s of
#                                            fuzzing in all, plus the build); non-zero exit on
#                                            a crash
#   bash fuzz/run.sh long MINUTES [TARGET]   one long single-process run (default target
#                                            frame_and_message)
#   bash fuzz/run.sh build                   only build the targets
#   bash fuzz/run.sh cmin TARGET             minimize the grown corpus of TARGET in place
#
# Environment: FUZZ_TOOLCHAIN (default "stable"; empty = whatever `cargo` is).
#
# How it works: `cargo fuzz ... --sanitizer none` makes cargo-fuzz pass only stable rustc flags
# (-Cpasses=sancov-module, -Cllvm-args=-sanitizer-coverage-*, --cfg fuzzing,
# -Cdebug-assertions). AddressSanitizer (the cargo-fuzz default) needs nightly's -Zsanitizer;
# the code under test is safe Rust, so we lose little by running without it.
#
# Corpora: seeds are read from fuzz/corpus/<target>/ (kept in git, small); what the fuzzer
# finds is written to fuzz/work/corpus/<target>/ (ignored by git). Crashes go to
# fuzz/artifacts/<target>/ (crash-*, timeout-*, oom-*, slow-unit-*).
set -euo pipefail

FUZZ_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$FUZZ_DIR")"
TARGETS=(frame_and_message utf8 close_payload deflate)
# Seconds per target in `ci` mode (about 115 s of fuzzing in all).
declare -A CI_SECONDS=([frame_and_message]=40 [utf8]=25 [close_payload]=20 [deflate]=30)
# Largest input libFuzzer generates, per target.
declare -A MAX_LEN=([frame_and_message]=8192 [utf8]=4096 [close_payload]=256 [deflate]=8192)

TOOLCHAIN="${FUZZ_TOOLCHAIN-stable}"
cargo_() {
    if [[ -n "$TOOLCHAIN" ]] && command -v rustup >/dev/null 2>&1; then
        cargo "+$TOOLCHAIN" "$@"
    else
        cargo "$@"
    fi
}

ensure_cargo_fuzz() {
    if ! cargo_ fuzz --version >/dev/null 2>&1; then
        # About a minute on a 2-core machine.
        echo "run.sh: cargo-fuzz not found; installing it (cargo install cargo-fuzz --locked)" >&2
        cargo_ install cargo-fuzz --locked
    fi
}

build() {
    ensure_cargo_fuzz
    cd "$REPO"
    cargo_ fuzz build --fuzz-dir "$FUZZ_DIR" --sanitizer none
}

# run TARGET SECONDS: one libFuzzer process; returns libFuzzer's status (non-zero on a crash).
run() {
    local target="$1" seconds="$2"
    local work="$FUZZ_DIR/work/corpus/$target"
    mkdir -p "$work" "$FUZZ_DIR/artifacts/$target"
    cd "$REPO"
    echo "== $target for ${seconds}s (corpus $work, seeds $FUZZ_DIR/corpus/$target)"
    # The first corpus directory receives new inputs; the seed directory is only read.
    cargo_ fuzz run --fuzz-dir "$FUZZ_DIR" --sanitizer none "$target" \
        "$work" "$FUZZ_DIR/corpus/$target" -- \
        -max_total_time="$seconds" \
        -max_len="${MAX_LEN[$target]}" \
        -timeout=10 \
        -rss_limit_mb=2048 \
        -print_final_stats=1
}

report_crash() {
    local target="$1"
    echo "run.sh: $target FAILED. Inputs in $FUZZ_DIR/artifacts/$target/:" >&2
    ls -l "$FUZZ_DIR/artifacts/$target/" >&2 || true
    echo "Reproduce: cargo +stable fuzz run --fuzz-dir fuzz -s none $target <file>" >&2
    echo "Minimize:  cargo +stable fuzz tmin --fuzz-dir fuzz -s none $target <file>" >&2
}

mode="${1:-}"
case "$mode" in
    ci)
        build
        failed=()
        for t in "${TARGETS[@]}"; do
            if ! run "$t" "${CI_SECONDS[$t]}"; then
                report_crash "$t"
                failed+=("$t")
            fi
        done
        if ((${#failed[@]})); then
            echo "run.sh: crashes in: ${failed[*]}" >&2
            exit 1
        fi
        echo "run.sh: no crash"
        ;;
    long)
        minutes="${2:?usage: run.sh long MINUTES [TARGET]}"
        target="${3:-frame_and_message}"
        build
        if ! run "$target" "$((minutes * 60))"; then
            report_crash "$target"
            exit 1
        fi
        ;;
    build)
        build
        ;;
    cmin)
        target="${2:?usage: run.sh cmin TARGET}"
        build
        cd "$REPO"
        cargo_ fuzz cmin --fuzz-dir "$FUZZ_DIR" --sanitizer none "$target" \
            "$FUZZ_DIR/work/corpus/$target" -- -max_len="${MAX_LEN[$target]}"
        ;;
    *)
        sed -n '2,12p' "$0" >&2
        exit 2
        ;;
esac
