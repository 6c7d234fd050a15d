//! The one data format across the boundary, both directions: a sequence of tagged values.
//! `0` null; `1` + f64 (8 bytes, little-endian); `2` + u32 length + UTF-8 bytes; `3` + u32
//! count + that many values (a list); from the wasm only, `4` + u32: a token's handle, which JS
//! reads as the token's text. Nothing else, so both codecs are a few lines. Tokens come in as
//! their handles, plain numbers.

use super::Handle;

pub struct Reader<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Reader<'a> {
    fn tag(&mut self) -> u8 {
        let t = self.buf.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        t
    }
    /// The next `n` bytes, `None` when the input is shorter (it lies about a length).
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let b = self.buf.get(self.pos..self.pos.wrapping_add(n));
        self.pos = self.pos.wrapping_add(n);
        b
    }
    /// The next `N` bytes, zeros when the input is shorter: by a thin reference to an array,
    /// where `bytes`' slice came back through memory.
    fn word<const N: usize>(&mut self) -> [u8; N] {
        let at = self.pos;
        self.pos = at.wrapping_add(N);
        match self.buf.get(at..).and_then(<[u8]>::first_chunk) {
            Some(word) => *word,
            None => [0; N],
        }
    }
    fn u32(&mut self) -> usize {
        u32::from_le_bytes(self.word()) as usize
    }
    fn skip(&mut self, tag: u8) {
        match tag {
            1 => self.pos += 8,
            2 => {
                let n = self.u32();
                self.pos += n;
            }
            3 => {
                for _ in 0..self.u32() {
                    let t = self.tag();
                    self.skip(t);
                }
            }
            _ => {}
        }
    }
    /// The next value's tag, not consumed.
    pub fn peek(&self) -> u8 {
        self.buf.get(self.pos).copied().unwrap_or(0)
    }
    /// Steps into a list: its items are read next.
    pub fn enter(&mut self) -> usize {
        self.tag();
        self.u32()
    }
    /// A number, NaN for anything else (JS never sends NaN where a number is read as such): an
    /// `f64` comes back in a register, where an `Option<f64>` went through memory at every call.
    pub fn num(&mut self) -> f64 {
        match self.tag() {
            1 => f64::from_le_bytes(self.word()),
            t => {
                self.skip(t);
                f64::NAN
            }
        }
    }
    /// A number, `None` for anything else, NaN kept apart (an option's value, which the core
    /// refuses when it is NaN and defaults when it is left out).
    pub fn opt_num(&mut self) -> Option<f64> {
        if self.peek() == 1 {
            return Some(self.num());
        }
        self.num();
        None
    }
    /// A finite, non-negative number, its fraction dropped (times, counts, generations).
    #[inline(never)]
    pub fn whole(&mut self) -> Option<u64> {
        let v = self.num();
        (v.is_finite() && v >= 0.0).then_some(v as u64)
    }
    pub fn flag(&mut self) -> bool {
        let n = self.num();
        n != 0.0 && !n.is_nan()
    }
    /// A string where it lies in the input, `None` for anything else: for what is read and
    /// not kept, so nothing is allocated, copied or dropped.
    pub fn text(&mut self) -> Option<&'a str> {
        match self.tag() {
            2 => {
                let n = self.u32();
                // Cut short only if the input lies about its length: then it is not a string.
                // SAFETY: every string that reaches the wasm was written by
                // `TextEncoder.encodeInto` (js/index.js: `put` for the input buffer, the `here`
                // import): it encodes lone surrogates as U+FFFD and, when the room runs out,
                // stops before a character rather than inside one, so its output is always
                // well-formed UTF-8. Checking it again here cost ~750 bytes of wasm
                // (`str::from_utf8`). `n` is exactly the length JS reported as written.
                self.bytes(n).map(|bytes| unsafe { std::str::from_utf8_unchecked(bytes) })
            }
            t => {
                self.skip(t);
                None
            }
        }
    }
    /// A token's handle, `None` for anything but a number (or 0, which no token has; NaN casts
    /// to it).
    pub fn token(&mut self) -> Option<Handle> {
        core::num::NonZeroU32::new(self.num() as u32).map(Handle)
    }
    /// A string, `None` for anything else.
    pub fn str(&mut self) -> Option<String> {
        self.text().map(str::to_owned)
    }
}

pub struct Writer<'a>(pub &'a mut Vec<u8>);

impl Writer<'_> {
    pub fn null(&mut self) {
        self.0.push(0);
    }
    pub fn num(&mut self, n: f64) {
        self.0.push(1);
        self.0.extend_from_slice(&n.to_le_bytes());
    }
    /// A small whole number (a kind, a flag, a count): an `i32` constant at each call site
    /// where an `f64` one takes 9 bytes.
    #[inline(never)]
    pub fn int(&mut self, n: u32) {
        self.num(f64::from(n));
    }
    pub fn str(&mut self, s: &str) {
        self.0.push(2);
        self.0.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
    }
    /// By reference to the option: `as_deref` at each call went through memory.
    pub fn opt_str(&mut self, s: &Option<String>) {
        match s {
            Some(s) => self.str(s),
            None => self.null(),
        }
    }
    /// A token, which JS reads as its text.
    pub fn token(&mut self, token: Handle) {
        self.0.push(4);
        self.0.extend_from_slice(&token.0.get().to_le_bytes());
    }
    /// By value: an `Option<Handle>` is one word (0: none), where a reference went through a
    /// `select` on its address at every call.
    pub fn opt_token(&mut self, token: Option<Handle>) {
        match token {
            Some(token) => self.token(token),
            None => self.null(),
        }
    }
    /// A token's handle as a number (what JS names the tokens to keep by), or null.
    pub fn opt_token_number(&mut self, token: Option<Handle>) {
        self.opt_num(token.map(|t| f64::from(t.0.get())));
    }
    pub fn opt_num(&mut self, n: Option<f64>) {
        match n {
            Some(n) => self.num(n),
            None => self.null(),
        }
    }
    /// Starts a list of `n` values; the caller writes them next.
    pub fn list(&mut self, n: usize) {
        self.0.push(3);
        self.0.extend_from_slice(&(n as u32).to_le_bytes());
    }
    /// A list of `n` values whose first is the small whole number `kind`; the caller writes
    /// the other `n - 1` next.
    #[inline(never)]
    pub fn head(&mut self, n: usize, kind: u32) {
        self.list(n);
        self.int(kind);
    }
    /// Starts a list whose count is known only at the end (`close`): where its head is.
    pub fn open(&mut self) -> usize {
        let head = self.0.len();
        self.list(0);
        head
    }
    /// Patches the count of the list `open` started at `head`.
    #[inline(never)]
    pub fn close(&mut self, head: usize, n: u32) {
        if let Some(count) = self.0.get_mut(head + 1..).and_then(<[u8]>::first_chunk_mut) {
            *count = n.to_le_bytes();
        }
    }
    pub fn strs(&mut self, items: &[String]) {
        self.list(items.len());
        for s in items {
            self.str(s);
        }
    }
    /// The strings of the input's next list that `keep` accepts, as a list (empty when the
    /// input has none): copied straight across, the count patched in at the end.
    pub fn strs_from(&mut self, a: &mut Reader, keep: impl Fn(&str) -> bool) {
        let head = self.open();
        let mut n: u32 = 0;
        let count = if a.peek() == 3 {
            a.enter()
        } else {
            a.num();
            0
        };
        for _ in 0..count {
            if let Some(s) = a.text().filter(|s| keep(s)) {
                self.str(s);
                n += 1;
            }
        }
        self.close(head, n);
    }
}
