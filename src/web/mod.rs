//! The wasm surface: no wasm-bindgen, no futures, no closures. Two buffers and two entry points.
//! JS writes the arguments of a call into the input buffer (`ak_in`), calls `ak_call(op)`, and
//! reads the answer where it points: always three values, the call's result, then the actions
//! the core queued, then the timer to arm. Both buffers use one tagged format (see `wire`). The
//! asynchronous transport (the refresh fetch, the Web Lock, the channel, the timer) is carried
//! out by `js/index.js` on these actions and reported back as calls; every decision stays in
//! `core`.
//!
//! Imports (module `env`): `now() -> f64` (Date.now), `random() -> f64` (Math.random),
//! `here(ptr, cap) -> len` (location.pathname written as UTF-8, for the redirect rule), and
//! `claims(token, out) -> step` (a token's time claims, read by JS from the text behind a
//! `Handle`).

mod alloc;
mod client;
mod wire;

use std::cell::UnsafeCell;

/// Single-threaded wasm, never re-entered (no import calls back into the module): one global.
struct Global<T>(UnsafeCell<T>);
unsafe impl<T> Sync for Global<T> {}

pub(crate) struct Buffers {
    pub input: Vec<u8>,
    pub output: Vec<u8>,
}

static BUFFERS: Global<Buffers> = Global(UnsafeCell::new(Buffers { input: Vec::new(), output: Vec::new() }));
static CLIENTS: Global<Vec<Option<client::Client>>> = Global(UnsafeCell::new(Vec::new()));

#[allow(clippy::mut_from_ref)]
fn buffers() -> &'static mut Buffers {
    // SAFETY: one thread, and no export is re-entered while another runs.
    unsafe { &mut *BUFFERS.0.get() }
}

/// Room for `len` bytes of arguments; JS writes them there before `ak_call`.
#[no_mangle]
pub extern "C" fn ak_in(len: usize) -> *mut u8 {
    let b = buffers();
    b.input.clear();
    b.input.reserve(len);
    // SAFETY: `reserve` made room for `len` bytes, all zeroed before they are counted.
    unsafe {
        b.input.as_mut_ptr().write_bytes(0, len);
        b.input.set_len(len);
    }
    b.input.as_mut_ptr()
}

/// The answer's three values are where the returned pointer points: JS reads them and no
/// further, so no length is needed.
#[no_mangle]
pub extern "C" fn ak_call(op: u32) -> *const u8 {
    let b = buffers();
    b.output.clear();
    let mut out = wire::Writer(&mut b.output);
    let mut args = wire::Reader { buf: &b.input, pos: 0 };
    // SAFETY: as for `buffers`.
    let clients = unsafe { &mut *CLIENTS.0.get() };
    client::dispatch(clients, op, &mut args, &mut out);
    b.output.as_ptr()
}

mod host {
    #[link(wasm_import_module = "env")]
    extern "C" {
        pub fn now() -> f64;
        pub fn random() -> f64;
        pub fn here(ptr: *mut u8, cap: usize) -> usize;
        pub fn claims(token: u32, out: *mut f64) -> u32;
    }
}

/// A token as the shipped build holds it: js/index.js keeps the text in a table and hands the
/// core its number, the same number for the same text while the core holds it (so equal
/// handles are equal tokens). The low bit says the text is blank (empty or ASCII whitespace),
/// the one thing the machine asks of a token's text besides its claims. No token byte enters
/// wasm memory. Never 0 (JS numbers them from 1), so that an `Option<Handle>` is one word: the
/// machine holds its tokens as options, and one word is passed in a register where two went
/// through memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Handle(pub core::num::NonZeroU32);

/// The handle of the empty string (js/index.js `tokenId('')`): what `Stored` and a `storage`
/// event read as "no token".
pub(crate) const EMPTY: Handle = Handle(core::num::NonZeroU32::MIN);

/// The empty string, as `String::default()` is on the host.
impl Default for Handle {
    fn default() -> Self {
        EMPTY
    }
}

impl crate::core::jwt::Token for Handle {
    fn is_blank(&self) -> bool {
        self.0.get() & 1 == 1
    }
}

/// A token's claims read by the browser (`atob` + `JSON.parse` in js/index.js): the machine's
/// `jwt::Decoder` in the shipped build. JS answers which step failed (the numbering of
/// js/index.js's `JWT_ERRORS`, off by one: `0` is success), or `exp`, `iat`, `nbf` (NaN when
/// absent).
pub(crate) fn decode_claims(token: &Handle) -> Result<crate::core::jwt::TimeClaims, crate::core::jwt::JwtError> {
    use crate::core::jwt::{JwtError, TimeClaims};
    let mut out = [f64::NAN; 3];
    let time = |v: f64| if v.is_nan() { None } else { Some(v.trunc() as i64) };
    match unsafe { host::claims(token.0.get(), out.as_mut_ptr()) } {
        0 => Ok(TimeClaims { exp: time(out[0]), iat: time(out[1]), nbf: time(out[2]) }),
        1 => Err(JwtError::Empty),
        2 => Err(JwtError::SegmentCount(0)),
        3 => Err(JwtError::Base64),
        4 => Err(JwtError::NotJson),
        5 => Err(JwtError::NotObject),
        6 => Err(JwtError::BadClaim("exp")),
        _ => Err(JwtError::TooLarge),
    }
}

pub(crate) fn now() -> crate::core::time::Millis {
    // Date.now() is finite; the cast saturates, and NaN or a negative reads as 0.
    crate::core::time::Millis(unsafe { host::now() } as u64)
}

pub(crate) fn jitter() -> f64 {
    unsafe { host::random() }
}

/// Whether `location.pathname` (up to 2 KiB of it) is the login page's.
/// The buffer is a static, not a local: 2 KiB on the stack gave the drain (where a `Redirect`
/// is encoded) a stack frame and a zeroing on every call.
#[inline(never)]
pub(crate) fn at_login_page(login_path: &str) -> bool {
    static HERE: Global<[u8; 2048]> = Global(UnsafeCell::new([0; 2048]));
    // SAFETY: as for `buffers`.
    let buf = unsafe { &mut *HERE.0.get() };
    let len = unsafe { host::here(buf.as_mut_ptr(), buf.len()) }.min(buf.len());
    // SAFETY: what `TextEncoder.encodeInto` wrote, `len` as it reported (see `Reader::text`).
    let here = unsafe { std::str::from_utf8_unchecked(&buf[..len]) };
    crate::core::machine::at_login_page(here, login_path)
}
