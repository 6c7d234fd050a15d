# Sourced by the build and test scripts: the environment for building Rust to wasm32.
# Only the release build targets wasm32 (the tests run the core on the host and the shipped
# package in Chromium), and it uses one pinned toolchain on every machine.
export PATH="$HOME/.cargo/bin:$PATH"
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The release toolchain is pinned to Debian's rustc-web 1.96 + its own std source (rust-web-src),
# with std rebuilt from source, on every route. Why this one and not rustup's:
# - it is the only compiler + matching std source pair that every machine of this project can
#   install: apt's mirror is always reachable, rustup's server usually is not (no rust-src
#   component to rebuild std with, and rustup's nightly cannot build the 1.96 std we can get);
# - std must be rebuilt from source to apply -Cpanic=immediate-abort and the location/fmt flags
#   below, which is where the 18% between the two routes came from (TOOLCHAIN.md);
# - it is a versioned package (/usr/bin/rustc, LLVM 22, wasm-ld-22), not whatever `stable`
#   happens to be on a machine. scripts/build.sh prints the exact version next to the hash and
#   warns when it is not RELEASE_RUSTC.
# Setup installs it on both routes (rustc-web cargo-web rust-web-src lld-22; quick when present).
export RELEASE_RUSTC="1.96.0"
export RELEASE_CARGO=/usr/bin/cargo
export RELEASE_TARGET_DIR="$_root/target/wasm-release"
# wasm-opt's passes for the release (scripts/build.sh; scripts/size-report.sh adds -g to keep names).
# -ocimfs: -Oz inlines every function that has one caller, whatever its size, which folded all of
# src/web/client.rs's per-op functions back into one 21.5 KB dispatcher; V8 compiles a wasm
# function on its first call, and that one took 1.3-6.6 ms at start-up. Functions above this many
# bytes keep their own body, so the start-up compiles only the ops it uses.
WASM_OPT_FLAGS=(
  -Oz --converge --one-caller-inline-max-function-size=80
  --zero-filled-memory --low-memory-unused --strip-target-features --strip-producers
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-reference-types
  --enable-multivalue --enable-mutable-globals
  # Then the control flow rebuilt from scratch and optimised again: -106 B gz on the wasm of
  # d000839 (19,558 -> 19,452 gzip -9; more rounds of it gained nothing).
  --flatten --rereloop -Oz
)
release_wasm_env() {
  local cargo_home="${CARGO_HOME:-$HOME/.cargo}"
  # Flags, one per element (CARGO_ENCODED_RUSTFLAGS is \x1f-separated: paths with spaces are fine,
  # and it outranks RUSTFLAGS and any build.rustflags / target.*.rustflags in a cargo config).
  # - panic=immediate-abort: a panic is a bare trap, no panic message or formatting machinery;
  # - location-detail=none: no file:line:col strings for panics / #[track_caller];
  # - fmt-debug=none: `{:?}` prints nothing (the crate uses Debug only in tests, which do not
  #   use this build);
  # - remap-path-prefix: neither the checkout path nor the cargo home (registry sources) enters
  #   the bytes; when several prefixes match rustc applies the last one given, so the checkout
  #   comes last (it contains target/, where build-script outputs live).
  local flags=(
    -Zunstable-options -Cpanic=immediate-abort
    -Zlocation-detail=none -Zfmt-debug=none
    "--remap-path-prefix=/usr/lib/rustlib/src/rust=/rustc/src"
    "--remap-path-prefix=$cargo_home=/cargo"
    "--remap-path-prefix=$_root=/authkeeper"
  )
  local IFS=$'\x1f'
  # Anything in the caller's environment that could change the code generated is dropped;
  # opt-level/lto/codegen-units/panic come from Cargo.toml's [profile.release].
  env -u RUSTFLAGS -u CARGO_BUILD_RUSTFLAGS -u CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS \
    -u CARGO_PROFILE_RELEASE_OPT_LEVEL -u CARGO_PROFILE_RELEASE_LTO -u CARGO_PROFILE_RELEASE_CODEGEN_UNITS \
    -u CARGO_PROFILE_RELEASE_DEBUG -u CARGO_PROFILE_RELEASE_STRIP -u CARGO_PROFILE_RELEASE_PANIC \
    -u CARGO_BUILD_TARGET_DIR -u RUSTC_WRAPPER -u RUSTC_WORKSPACE_WRAPPER -u CARGO_BUILD_RUSTC_WRAPPER \
    CARGO=/usr/bin/cargo RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
    CARGO_UNSTABLE_BUILD_STD=std,panic_abort \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-22 \
    CARGO_ENCODED_RUSTFLAGS="${flags[*]}" \
    CARGO_TARGET_DIR="$RELEASE_TARGET_DIR" "$@"
}
