//! A small JSON reader for the two things authkeeper parses: JWT payloads and refresh
//! responses. serde_json did the job but was about a third of the shipped wasm; this reads
//! RFC 8259 JSON into a plain tree, bounded in depth so hostile input cannot exhaust the stack.
//!
//! It accepts exactly the documents `serde_json::from_str::<serde_json::Value>` accepts, and
//! reads the same values (`tests/core_json_diff.rs` checks both against serde_json):
//!
//! - Grammar: RFC 8259 to the letter. Whitespace is only space, tab, LF and CR (a byte order
//!   mark is not whitespace and is refused); no leading zeros (`01`, `-01`), no `+1`, `.5`,
//!   `1.` or `1e`; no trailing commas; nothing but whitespace after the value.
//! - Strings: control characters (U+0000..=U+001F) must be escaped; only the nine RFC escapes
//!   exist; `\uXXXX` takes either case of hex digit; a UTF-16 surrogate must come as a high
//!   surrogate immediately followed by an escaped low one; a lone surrogate refuses the
//!   document (a string cannot hold one, and replacing it would read a different value).
//! - Numbers: the value is the literal's exact decimal value correctly rounded to the nearest
//!   `f64` (ties to even), the same bits as Rust's `str::parse::<f64>` and serde_json with its
//!   `float_roundtrip` feature. Integers beyond 2^53 round like `u64 as f64`, which is also
//!   what serde_json's `as_f64()` gives for them. A literal too large for `f64` (`1e400`,
//!   `-1.8e308`) refuses the document, as serde_json does ("number out of range"); a too small
//!   one rounds to zero, keeping its sign (`1e-400` is 0, `-0` and `-1e-400` are -0).
//!   `str::parse::<f64>` itself is not used: its tables added 17 KB to the wasm (+14 KB gzip).
//! - Objects: members stay in document order, duplicates included; `get` returns the last
//!   occurrence of a key, as serde_json's `Value` map and JavaScript's `JSON.parse` keep it.
//! - Limits: at most `MAX_DEPTH` nested arrays/objects (serde_json allows 127). Callers bound
//!   the input size (`policy::MAX_BODY_BYTES`).
//!
//! serde_json without `float_roundtrip` can be one ulp off on long literals; this reader is not.
//! JavaScript's `JSON.parse` keeps a lone surrogate and reads `1e400` as `Infinity`; this reader
//! refuses both documents, as serde_json does (no honest token or refresh response has either).

/// A parsed JSON value. Objects keep their members in document order, duplicated keys included;
/// `get` resolves a duplicated key to its last occurrence, as JavaScript's `JSON.parse` does.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

/// Arrays and objects nested deeper than this refuse the document: nothing authkeeper reads is
/// more than two levels deep, and the reader recurses once per level.
pub const MAX_DEPTH: usize = 64;

impl Json {
    pub fn parse(text: &str) -> Option<Json> {
        let mut reader = Reader { text, bytes: text.as_bytes(), pos: 0 };
        let value = reader.value(MAX_DEPTH)?;
        reader.skip_ws();
        (reader.pos == reader.bytes.len()).then_some(value)
    }

    /// An object member; `None` for a missing key or a non-object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Num(n) => Some(*n),
            _ => None,
        }
    }
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    /// Consumes `byte` if it is next.
    fn eat_byte(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        self.pos += usize::from(found);
        found
    }

    /// RFC 8259's four whitespace characters, nothing else.
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, literal: &[u8]) -> Option<()> {
        let end = self.pos.checked_add(literal.len())?;
        (self.bytes.get(self.pos..end)? == literal).then(|| self.pos = end)
    }

    /// `levels`: how many more arrays/objects may open at this point.
    fn value(&mut self, levels: usize) -> Option<Json> {
        self.skip_ws();
        match self.peek()? {
            b'{' => self.object(levels.checked_sub(1)?),
            b'[' => self.array(levels.checked_sub(1)?),
            b'"' => self.string().map(Json::Str),
            b't' => self.eat(b"true").map(|_| Json::Bool(true)),
            b'f' => self.eat(b"false").map(|_| Json::Bool(false)),
            b'n' => self.eat(b"null").map(|_| Json::Null),
            _ => self.number().map(Json::Num),
        }
    }

    fn object(&mut self, levels: usize) -> Option<Json> {
        self.pos += 1;
        let mut members = Vec::new();
        self.skip_ws();
        if self.eat_byte(b'}') {
            return Some(Json::Obj(members));
        }
        loop {
            self.skip_ws();
            if self.peek()? != b'"' {
                return None;
            }
            let key = self.string()?;
            self.skip_ws();
            (self.bump()? == b':').then_some(())?;
            let value = self.value(levels)?;
            members.push((key, value));
            self.skip_ws();
            match self.bump()? {
                b',' => continue,
                b'}' => return Some(Json::Obj(members)),
                _ => return None,
            }
        }
    }

    fn array(&mut self, levels: usize) -> Option<Json> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.eat_byte(b']') {
            return Some(Json::Arr(items));
        }
        loop {
            items.push(self.value(levels)?);
            self.skip_ws();
            match self.bump()? {
                b',' => continue,
                b']' => return Some(Json::Arr(items)),
                _ => return None,
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = char::from(self.bump()?).to_digit(16)?;
            code = code * 16 + digit;
        }
        Some(code)
    }

    fn string(&mut self) -> Option<String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            // Copy the run up to the next quote, backslash or control character in one go: it
            // starts and ends next to ASCII bytes, so it is whole UTF-8 characters.
            let start = self.pos;
            while matches!(self.peek(), Some(b) if b != b'"' && b != b'\\' && b >= 0x20) {
                self.pos += 1;
            }
            out.push_str(self.text.get(start..self.pos)?);
            match self.bump()? {
                b'"' => return Some(out),
                b'\\' => out.push(match self.bump()? {
                    b'"' => '"',
                    b'\\' => '\\',
                    b'/' => '/',
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'n' => '\n',
                    b'r' => '\r',
                    b't' => '\t',
                    b'u' => self.escaped_char()?,
                    _ => return None,
                }),
                // An unescaped control character.
                _ => return None,
            }
        }
    }

    /// `\uXXXX`, or a UTF-16 surrogate pair `\uD83D\uDE00`; a lone surrogate is refused.
    fn escaped_char(&mut self) -> Option<char> {
        let first = self.hex4()?;
        if !(0xD800..0xDC00).contains(&first) {
            // A low surrogate here is lone: `from_u32` refuses it.
            return char::from_u32(first);
        }
        self.eat(b"\\u")?;
        let second = self.hex4()?;
        (0xDC00..0xE000).contains(&second).then_some(())?;
        char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, correctly rounded.
    fn number(&mut self) -> Option<f64> {
        let bytes = self.bytes;
        let negative = self.eat_byte(b'-');
        let int_start = self.pos;
        match self.bump()? {
            // A leading zero stands alone.
            b'0' if matches!(self.peek(), Some(b'0'..=b'9')) => return None,
            b'0' => {}
            b'1'..=b'9' => self.skip_digits(),
            _ => return None,
        }
        let int = &bytes[int_start..self.pos];
        let mut frac: &[u8] = &[];
        if self.eat_byte(b'.') {
            let frac_start = self.pos;
            self.skip_digits();
            frac = &bytes[frac_start..self.pos];
            if frac.is_empty() {
                return None;
            }
        }
        let mut exp: i64 = 0;
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            let exp_negative = self.eat_byte(b'-');
            if !exp_negative {
                self.eat_byte(b'+');
            }
            let exp_start = self.pos;
            while let Some(d @ b'0'..=b'9') = self.peek() {
                // Past a billion the value is 0 or out of range whatever the digits.
                exp = (exp * 10 + i64::from(d - b'0')).min(1_000_000_000);
                self.pos += 1;
            }
            if self.pos == exp_start {
                return None;
            }
            if exp_negative {
                exp = -exp;
            }
        }
        let value = decimal_to_f64(Digits { int, frac }, exp)?;
        Some(if negative { -value } else { value })
    }

    fn skip_digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }
}

/// The digits of a number literal, integer and fraction part, as one sequence.
#[derive(Clone, Copy)]
struct Digits<'a> {
    int: &'a [u8],
    frac: &'a [u8],
}

impl Digits<'_> {
    fn len(&self) -> usize {
        self.int.len() + self.frac.len()
    }

    fn get(&self, i: usize) -> u8 {
        let b = if i < self.int.len() { self.int[i] } else { self.frac[i - self.int.len()] };
        b - b'0'
    }
}

/// Significant digits kept by the exact path. Beyond 767 significant digits no decimal is a
/// tie between two `f64`s, so cutting there and standing a `1` in for the (nonzero) rest
/// rounds the same way as the whole literal.
const MAX_SIGNIFICANT_DIGITS: usize = 800;

/// `int.frac × 10^exp10` correctly rounded (ties to even) to a non-negative `f64`; `None` when
/// it rounds to infinity.
fn decimal_to_f64(digits: Digits, exp10: i64) -> Option<f64> {
    let Some(first) = (0..digits.len()).find(|&i| digits.get(i) != 0) else {
        return Some(0.0);
    };
    let last = (first..digits.len()).rev().find(|&i| digits.get(i) != 0).unwrap_or(first);
    // value = D × 10^e, D the significant digits first..=last, D < 10^n.
    let n = (last - first + 1) as i64;
    let e = exp10 - digits.frac.len() as i64 + (digits.len() - 1 - last) as i64;
    // 10^(n+e-1) <= value < 10^(n+e).
    let magnitude = n + e;
    if magnitude > 310 {
        return None; // at least 1e310
    }
    if magnitude < -324 {
        return Some(0.0); // below 1e-325, under half the smallest subnormal (4.9e-324)
    }
    // Clinger's fast path: D and 10^|e| are both exact doubles, so one IEEE operation rounds
    // correctly. Every timestamp and lifetime in a token or refresh response takes it.
    if n <= 15 && (-22..=22).contains(&e) {
        let d = (first..=last).fold(0u64, |acc, i| acc * 10 + u64::from(digits.get(i))) as f64;
        let scale = (0..e.unsigned_abs()).fold(1.0f64, |p, _| p * 10.0);
        return Some(if e < 0 { d / scale } else { d * scale });
    }
    // The exact path: big integers, num / den = D × 10^e.
    let mut num = Big::new(0);
    let kept = last.min(first + MAX_SIGNIFICANT_DIGITS - 1);
    // Nine digits at a time.
    let (mut chunk, mut chunk_len) = (0, 0);
    for i in first..=kept {
        chunk = chunk * 10 + u32::from(digits.get(i));
        chunk_len += 1;
        if chunk_len == 9 || i == kept {
            num.mul_add(10u32.pow(chunk_len), chunk);
            (chunk, chunk_len) = (0, 0);
        }
    }
    let mut e = e + (last - kept) as i64;
    if kept < last {
        num.mul_add(10, 1);
        e -= 1;
    }
    let mut den = Big::new(1);
    let scale = if e < 0 { &mut den } else { &mut num };
    let mut power = e.unsigned_abs();
    while power > 0 {
        let step = power.min(9);
        scale.mul_add(10u32.pow(step as u32), 0);
        power -= step;
    }
    // Scale by 2^shift so that q = floor(num / den) has 56 or 57 bits (2^55 < num/den < 2^57),
    // then divide the schoolbook way, one quotient bit per step.
    let shift = 56 - (num.bits() as i64 - den.bits() as i64);
    num.shl(shift.max(0) as usize);
    den.shl((57 - shift.min(0)) as usize);
    let mut q: u64 = 0;
    for _ in 0..57 {
        num.shl(1);
        q <<= 1;
        if num.ge(&den) {
            num.sub(&den);
            q |= 1;
        }
    }
    round_to_f64(q, !num.is_zero(), -shift)
}

/// `(q + a fraction, nonzero when `inexact`) × 2^exp2` rounded to nearest, ties to even, with
/// subnormals; `None` on overflow. `q` has 56 or 57 bits.
fn round_to_f64(q: u64, inexact: bool, exp2: i64) -> Option<f64> {
    let bits = i64::from(64 - q.leading_zeros());
    // The exponent of the result's last mantissa bit: 53 bits, or fewer below 2^-1022.
    let lsb = (bits - 1 + exp2 - 52).max(-1074);
    if lsb > 971 {
        return None;
    }
    // At least 3 bits go (`bits` >= 56); past 63 the value is below half the smallest subnormal.
    let dropped = (lsb - exp2).min(63) as u32;
    let mut mantissa = q >> dropped;
    let half = (q >> (dropped - 1)) & 1 == 1;
    let rest = q & ((1 << (dropped - 1)) - 1) != 0 || inexact;
    if half && (rest || mantissa & 1 == 1) {
        mantissa += 1;
    }
    let pow2 = if lsb >= -1022 { f64::from_bits(((lsb + 1023) as u64) << 52) } else { f64::from_bits(1 << (lsb + 1074)) };
    // Exact: the mantissa has at most 53 bits (2^53 after rounding up is a power of two).
    let value = mantissa as f64 * pow2;
    value.is_finite().then_some(value)
}

/// A non-negative big integer, 32-bit limbs, least significant first. Only the exact number
/// path uses it (at most ~3,800 bits: 801 digits, exponents bounded by the magnitude checks).
struct Big(Vec<u32>);

impl Big {
    fn new(value: u32) -> Big {
        Big(vec![value])
    }

    /// `self = self × m + a`.
    fn mul_add(&mut self, m: u32, a: u32) {
        let mut carry = u64::from(a);
        for limb in &mut self.0 {
            let v = u64::from(*limb) * u64::from(m) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    fn bits(&self) -> usize {
        let top = self.0.iter().rposition(|&l| l != 0);
        top.map_or(0, |i| i * 32 + 32 - self.0[i].leading_zeros() as usize)
    }

    fn is_zero(&self) -> bool {
        self.0.iter().all(|&l| l == 0)
    }

    /// `self <<= bits`.
    fn shl(&mut self, mut bits: usize) {
        while bits > 0 {
            let step = bits.min(31);
            self.mul_add(1 << step, 0);
            bits -= step;
        }
    }

    /// `self >= other`.
    fn ge(&self, other: &Big) -> bool {
        let len = self.0.len().max(other.0.len());
        for i in (0..len).rev() {
            let (a, b) = (self.0.get(i).copied().unwrap_or(0), other.0.get(i).copied().unwrap_or(0));
            if a != b {
                return a > b;
            }
        }
        true
    }

    /// `self -= other`, for `self >= other`.
    fn sub(&mut self, other: &Big) {
        let mut borrow = false;
        for (i, limb) in self.0.iter_mut().enumerate() {
            let (v, b1) = limb.overflowing_sub(other.0.get(i).copied().unwrap_or(0));
            let (v, b2) = v.overflowing_sub(u32::from(borrow));
            *limb = v;
            borrow = b1 || b2;
        }
    }
}

/// Decodes base64url (RFC 4648 §5), the encoding of JWT segments, which carry no padding.
///
/// Exactly what the `base64` crate's `URL_SAFE_NO_PAD` engine accepts, and the same bytes,
/// plus optional `=` padding up to the canonical amount ("ab", "ab=" and "ab==" decode alike;
/// "abcd=" and "abc==" do not), as its `DecodePaddingMode::Indifferent` has it: some encoders
/// pad, and refusing their tokens would gain nothing. The unused low bits of a final partial
/// character must be zero: no encoder sets them, so a token with them set was altered.
pub fn base64url_decode(input: &str) -> Option<Vec<u8>> {
    let trimmed = input.trim_end_matches('=');
    let partial = trimmed.len() % 4;
    if partial == 1 || input.len() - trimmed.len() > (4 - partial) % 4 {
        return None;
    }
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in trimmed.bytes() {
        let sextet = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(sextet);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    (acc & ((1 << bits) - 1) == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(text: &str) -> Option<f64> {
        Json::parse(text).and_then(|v| v.as_f64())
    }

    #[test]
    fn parses_every_kind_of_value() {
        let v = Json::parse(r#" {"a": [1, -2.5, 3e2, true, false, null], "b": {"c": "d"}} "#).unwrap();
        assert_eq!(
            v.get("a"),
            Some(&Json::Arr(vec![
                Json::Num(1.0),
                Json::Num(-2.5),
                Json::Num(300.0),
                Json::Bool(true),
                Json::Bool(false),
                Json::Null
            ]))
        );
        assert_eq!(v.get("b").and_then(|b| b.get("c")).and_then(Json::as_str), Some("d"));
    }

    #[test]
    fn integers_up_to_two_to_the_53_are_exact() {
        assert_eq!(num("9007199254740992"), Some(9_007_199_254_740_992.0));
        assert_eq!(num("1700000000"), Some(1_700_000_000.0));
        assert_eq!(num("1700000000.123"), Some(1_700_000_000.123));
    }

    #[test]
    fn numbers_are_correctly_rounded_like_str_parse() {
        for text in [
            "0.1",
            "0.3",
            "1e23",
            "8.98846567431158e307",
            "2.2250738585072011e-308", // the classic slow-path case, just under the smallest normal
            "2.2250738585072014e-308",
            "4.9406564584124654e-324", // the smallest subnormal
            "1e-310",
            "2.4703282292062328e-324", // just over half the smallest subnormal: rounds up to it
            "1.7976931348623157e308",
            "1.7976931348623158e308", // rounds down to f64::MAX
            "9007199254740993",       // 2^53 + 1: a tie, to even
            "9007199254740995",
            "18446744073709551615",
            "123456789012345678901234567890",
            "0.000000000000000000000000000000000000000000001234567890123456789",
            "7.2057594037927933e16",
            "1.00000000000000011102230246251565404236316680908203125", // 1 + half an ulp: tie to 1
            "1.00000000000000011102230246251565404236316680908203126", // just over: up
        ] {
            let expected: f64 = text.parse().unwrap();
            assert_eq!(num(text).map(f64::to_bits), Some(expected.to_bits()), "{text}");
        }
        assert_eq!(num("4.9406564584124654e-324"), Some(f64::from_bits(1)));
        assert_eq!(num("1.7976931348623157e308"), Some(f64::MAX));
    }

    #[test]
    fn numbers_beyond_f64_refuse_the_document_and_tiny_ones_are_zero() {
        for bad in ["1e400", "-1e400", "1.7976931348623159e308", "1e309", "123456789e303", "1e99999999999999999999"] {
            assert_eq!(Json::parse(bad), None, "{bad}");
            assert_eq!(Json::parse(&format!("[0,{bad}]")), None, "{bad}");
        }
        for zero in ["0e400", "0.000e99999999999999999999", "1e-400", "2.4703282292062327e-324", "1e-99999999999999999999"] {
            assert_eq!(num(zero).map(f64::to_bits), Some(0f64.to_bits()), "{zero}");
        }
        for negative_zero in ["-0", "-0.0", "-0e5", "-1e-400"] {
            assert_eq!(num(negative_zero).map(f64::to_bits), Some((-0f64).to_bits()), "{negative_zero}");
        }
    }

    #[test]
    fn number_grammar_is_rfc_8259s() {
        for bad in [
            "01", "-01", "00", "0123", "[01]", "+1", ".5", "1.", "1.e5", "1e", "1e+", "-", "--1", "0x10", "Infinity",
            "NaN", "-Infinity", "1_000", "1e5.5", "0.-1",
        ] {
            assert_eq!(Json::parse(bad), None, "{bad}");
        }
        for (good, value) in [("0", 0.0), ("-1", -1.0), ("1E2", 100.0), ("1e+2", 100.0), ("10e-1", 1.0), ("0.5e1", 5.0)] {
            assert_eq!(num(good), Some(value), "{good}");
        }
    }

    #[test]
    fn string_escapes_and_surrogate_pairs_decode() {
        let v = Json::parse(r#""a\"b\\c\/d\n\u00e9\ud83d\ude00\uD83D\uDE00\b\f\r\t""#).unwrap();
        assert_eq!(v.as_str(), Some("a\"b\\c/d\né😀😀\u{8}\u{c}\r\t"));
        assert_eq!(Json::parse("\"ü€😀\u{7f}\"").unwrap().as_str(), Some("ü€😀\u{7f}"));
    }

    #[test]
    fn lone_surrogates_refuse_the_document() {
        for bad in [r#""\ud800""#, r#""\ud800x""#, r#""\udc00""#, r#""\ud800\u0041""#, r#""\ud800\ud800""#, r#""\ud800\n""#] {
            assert_eq!(Json::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn control_characters_and_unknown_escapes_are_refused() {
        for c in (0u8..0x20).map(char::from) {
            assert_eq!(Json::parse(&format!("\"a{c}b\"")), None, "{:?}", c);
        }
        for bad in [r#""\x41""#, r#""\a""#, r#""\u12""#, r#""\u12G4""#, r#""\U0041""#, r#""\'""#, "\"\\\u{e9}\""] {
            assert_eq!(Json::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn whitespace_is_exactly_rfc_8259s_four_characters() {
        assert_eq!(Json::parse(" \t\n\r[ \t\n\r1 \t\n\r] \t\n\r"), Some(Json::Arr(vec![Json::Num(1.0)])));
        for ws in ['\u{b}', '\u{c}', '\u{a0}', '\u{feff}', '\u{2028}', '\u{3000}'] {
            assert_eq!(Json::parse(&format!("{ws}1")), None, "{:?}", ws);
            assert_eq!(Json::parse(&format!("1{ws}")), None, "{:?}", ws);
            assert_eq!(Json::parse(&format!("[1,{ws}2]")), None, "{:?}", ws);
        }
    }

    #[test]
    fn duplicate_keys_resolve_to_the_last_like_json_parse() {
        assert_eq!(Json::parse(r#"{"k":1,"k":2}"#).unwrap().get("k"), Some(&Json::Num(2.0)));
    }

    #[test]
    fn malformed_documents_are_refused() {
        for bad in [
            "", " ", "{", "}", "[1,]", "{\"a\":}", "{\"a\" 1}", "{a:1}", "tru", "nul", "01x", "-", "1.", "1e", "\"abc",
            "\"bad \\x escape\"", "\"raw \n newline\"", "{} {}", "[1 2]", "{\"a\":1,}", "[,1]", "{,}", "truex", "[true false]",
            "{\"a\":1 \"b\":2}", "{\"a\"}", "{1:2}", "[1]]", "'a'", "\u{feff}{}",
        ] {
            assert_eq!(Json::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn nesting_is_bounded_at_max_depth_without_exhausting_the_stack() {
        let deep = "[".repeat(100_000);
        assert_eq!(Json::parse(&deep), None);
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(Json::parse(&nested(MAX_DEPTH)).is_some());
        assert_eq!(Json::parse(&nested(MAX_DEPTH + 1)), None);
        let objects = |n: usize| format!("{}1{}", r#"{"a":"#.repeat(n), "}".repeat(n));
        assert!(Json::parse(&objects(MAX_DEPTH)).is_some());
        assert_eq!(Json::parse(&objects(MAX_DEPTH + 1)), None);
    }

    #[test]
    fn big_integer_helpers_agree_with_u128() {
        let mut a = Big::new(0);
        for d in b"340282366920938463463374607431768211455" {
            a.mul_add(10, u32::from(d - b'0'));
        }
        assert_eq!(a.bits(), 128);
        let mut b = Big::new(1);
        b.shl(100);
        assert_eq!(b.bits(), 101);
        assert!(a.ge(&b) && !b.ge(&a));
        a.sub(&b);
        let expected = u128::MAX - (1u128 << 100);
        assert_eq!(a.0, (0..4).map(|i| (expected >> (32 * i)) as u32).collect::<Vec<_>>());
        b.shl(31);
        assert_eq!(b.bits(), 132);
        b.sub(&Big(b.0.clone()));
        assert!(b.is_zero());
    }

    #[test]
    fn base64url_decodes_with_and_without_padding() {
        assert_eq!(base64url_decode("eyJhIjoxfQ").as_deref(), Some(&br#"{"a":1}"#[..]));
        assert_eq!(base64url_decode("eyJhIjoxfQ==").as_deref(), Some(&br#"{"a":1}"#[..]));
        assert_eq!(base64url_decode("eyJhIjoxfQ=").as_deref(), Some(&br#"{"a":1}"#[..]));
        assert_eq!(base64url_decode("_-8").as_deref(), Some(&[0xff, 0xef][..]));
        assert_eq!(base64url_decode("_-8=").as_deref(), Some(&[0xff, 0xef][..]));
        assert_eq!(base64url_decode(""), Some(vec![]));
    }

    #[test]
    fn base64url_refuses_other_alphabets_impossible_lengths_and_extra_padding() {
        for bad in ["a+b/", "abcde", "ab===", "a b", "!!!", "abcd=", "abc==", "=", "==", "ab=c", "ab==cd"] {
            assert_eq!(base64url_decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn base64url_refuses_nonzero_unused_bits() {
        // "_-8" ends in '8' (60 = 0b111100): its low two bits are unused and zero. '9' sets one.
        assert_eq!(base64url_decode("_-9"), None);
        assert_eq!(base64url_decode("QQ").as_deref(), Some(&b"A"[..]));
        assert_eq!(base64url_decode("QR"), None);
    }
}
