# Sourced by the build and test scripts: the environment for building Rust to wasm32.
# On the Debian route (TOOLCHAIN.md) std is built from Debian's rust-web-src with its matching rustc.
export PATH="$HOME/.cargo/bin:$PATH"
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ "$(cat "$_root/.wasm-route" 2>/dev/null)" = debian ]; then
  export WASM_CARGO=/usr/bin/cargo
  wasm_env() {
    env CARGO=/usr/bin/cargo RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
      CARGO_UNSTABLE_BUILD_STD=std,panic_abort \
      CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-22 \
      CARGO_TARGET_DIR="$_root/target/wasm-debian" "$@"
  }
else
  export WASM_CARGO=cargo
  wasm_env() { env "$@"; }
fi
