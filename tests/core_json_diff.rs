#![cfg(not(target_arch = "wasm32"))]
//! Differential tests of the hand-written JSON reader and base64url decoder against the crates
//! they replaced (dev-dependencies only): serde_json (with `float_roundtrip`, whose numbers are
//! correctly rounded, like `str::parse::<f64>`) and base64.
//!
//! The property, for every input: `Json::parse` accepts exactly when
//! `serde_json::from_str::<Value>` accepts (except documents nested deeper than our
//! `MAX_DEPTH`, which we refuse by design), and reads the same value: numbers bit for bit as
//! `f64`, objects with the last duplicate winning. Inputs are valid documents rendered with
//! random whitespace, escapes, number spellings and duplicate keys; mutations of them; soups of
//! JSON-ish tokens; number and string literals from their grammars; and the exact decimal
//! midpoints between adjacent doubles (the hardest rounding cases), subnormals included.

use authkeeper::core::json::{base64url_decode, Json, MAX_DEPTH};
use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use proptest::prelude::*;
use serde_json::Value;

/// `cases` per property; `PROPTEST_CASES=n` runs every property n times instead (long runs).
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(cases);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Nesting depth of arrays and objects (a scalar is 0).
fn depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Our tree equals serde_json's: numbers bitwise as f64, object members last-duplicate-wins.
fn same(ours: &Json, theirs: &Value) -> bool {
    match (ours, theirs) {
        (Json::Null, Value::Null) => true,
        (Json::Bool(a), Value::Bool(b)) => a == b,
        (Json::Num(a), Value::Number(b)) => b.as_f64().map(f64::to_bits) == Some(a.to_bits()),
        (Json::Str(a), Value::String(b)) => a == b,
        (Json::Arr(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y)),
        (Json::Obj(members), Value::Object(map)) => {
            let mut last = std::collections::BTreeMap::new();
            for (k, v) in members {
                last.insert(k.as_str(), v);
            }
            last.len() == map.len() && map.iter().all(|(k, v)| last.get(k.as_str()).is_some_and(|o| same(o, v)))
        }
        _ => false,
    }
}

/// The differential property for one input.
fn agree(text: &str) -> Result<(), TestCaseError> {
    let ours = Json::parse(text);
    let theirs = serde_json::from_str::<Value>(text);
    match (&ours, &theirs) {
        (Some(o), Ok(t)) => prop_assert!(same(o, t), "{text:?}: ours {o:?}, serde_json {t:?}"),
        (None, Err(_)) => {}
        (None, Ok(t)) if depth(t) > MAX_DEPTH => {}
        _ => prop_assert!(false, "{text:?}: ours {ours:?}, serde_json {theirs:?}"),
    }
    Ok(())
}

/// `agree`, and for a bare number also the same bits as `str::parse::<f64>`.
fn agree_number(text: &str) -> Result<(), TestCaseError> {
    agree(text)?;
    if let Some(Json::Num(n)) = Json::parse(text) {
        let std: f64 = text.parse().expect("accepted literal parses");
        prop_assert_eq!(n.to_bits(), std.to_bits(), "{:?}", text);
    }
    Ok(())
}

// ---- A random renderer of valid documents -------------------------------------------------

/// SplitMix64: the renderer's choices, seeded by proptest (so failures shrink and replay).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
}

fn ws(rng: &mut Rng, out: &mut String) {
    if rng.chance(2) {
        for _ in 0..rng.below(3) + 1 {
            out.push([' ', '\t', '\n', '\r'][rng.below(4) as usize]);
        }
    }
}

fn hex4(rng: &mut Rng, unit: u16, out: &mut String) {
    let text = format!("{unit:04x}");
    out.push_str("\\u");
    out.push_str(&if rng.chance(2) { text.to_uppercase() } else { text });
}

fn render_string(rng: &mut Rng, s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        let short = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            '/' if rng.chance(2) => Some("\\/"),
            _ => None,
        };
        let must_escape = c < ' ' || c == '"' || c == '\\';
        if let (Some(esc), true) = (short, must_escape || rng.chance(2)) {
            out.push_str(esc);
        } else if must_escape || rng.chance(4) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                hex4(rng, *unit, out);
            }
        } else {
            out.push(c);
        }
    }
    out.push('"');
}

/// A spelling of the same number: plain, exponent forms, padded exponents, extra zeros.
fn render_number(rng: &mut Rng, n: &serde_json::Number, out: &mut String) {
    if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
        let text = match rng.below(6) {
            0 => format!("{f}"),
            1 => format!("{f:e}"),
            2 => format!("{f:E}"),
            3 => format!("{f:.770e}"), // the exact expansion, zero-padded
            4 => format!("{f:e}").replace('e', "e+").replace("e+-", "e-"),
            _ => serde_json::to_string(&f).unwrap(),
        };
        out.push_str(&text);
        return;
    }
    let int = n.to_string();
    out.push_str(&int);
    match rng.below(5) {
        0 => out.push_str(".0"),
        1 => out.push_str("e0"),
        2 => out.push_str("0E-001"),
        3 => out.push_str(".000e+0"),
        _ => {}
    }
}

fn render(rng: &mut Rng, v: &Value, out: &mut String) {
    ws(rng, out);
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => render_number(rng, n, out),
        Value::String(s) => render_string(rng, s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                render(rng, item, out);
            }
            ws(rng, out);
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            let mut first = true;
            for (k, item) in map {
                // Sometimes an earlier duplicate that the real member must override.
                let dup = rng.chance(5).then(|| Value::from(rng.next() as i64));
                for item in dup.iter().chain(std::iter::once(item)) {
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    ws(rng, out);
                    render_string(rng, k, out);
                    ws(rng, out);
                    out.push(':');
                    render(rng, item, out);
                }
            }
            ws(rng, out);
            out.push('}');
        }
    }
    ws(rng, out);
}

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z\"\\\\/\u{0}-\u{1f}\u{7f}é€😀\u{fffd}\u{feff}]{0,12}",
        prop::sample::select(vec!["", "access", "refresh", "error", "detail", "exp", "a", "k"]).prop_map(String::from),
    ]
}

fn arb_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (0u64..2_000_000_000).prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        any::<u64>().prop_filter_map("finite", |bits| serde_json::Number::from_f64(f64::from_bits(bits)).map(Value::Number)),
    ]
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        arb_number(),
        arb_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(8, 96, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((arb_string(), inner), 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

// ---- Mutations and token soups --------------------------------------------------------------

const INTERESTING: &[&str] = &[
    "\"", "\\", ",", ":", "[", "]", "{", "}", "0", "1", "9", "-", "+", ".", "e", "E", "u", "x", " ", "\t", "\n", "\r",
    "\u{b}", "\u{c}", "\u{a0}", "\u{feff}", "\u{0}", "\u{1f}", "\u{7f}", "é", "😀", "\\u", "\\ud800", "\\udc00",
    "\\ud83d\\ude00", "\\uD83D", "\\n", "\\x", "true", "false", "null", "nul", "00", "01", "1e400", "-0", "0e400", "1.",
    ".5", "1e", "e5", "\"\"", "[]", "{}", "NaN", "Infinity",
];

#[derive(Clone, Debug)]
enum Mutation {
    Delete(usize),
    Insert(usize, &'static str),
    Replace(usize, &'static str),
    Truncate(usize),
    Duplicate(usize, usize),
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    let piece = prop::sample::select(INTERESTING);
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), piece.clone()).prop_map(|(i, p)| Mutation::Insert(i, p)),
        (any::<usize>(), piece).prop_map(|(i, p)| Mutation::Replace(i, p)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1usize..8).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

fn mutate(text: &str, m: &Mutation) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| if chars.is_empty() { 0 } else { i % (chars.len() + 1) };
    let s = |range: std::ops::Range<usize>| chars[range].iter().collect::<String>();
    match *m {
        Mutation::Delete(i) if !chars.is_empty() => {
            let i = i % chars.len();
            s(0..i) + &s(i + 1..chars.len())
        }
        Mutation::Insert(i, p) => s(0..at(i)) + p + &s(at(i)..chars.len()),
        Mutation::Replace(i, p) if !chars.is_empty() => {
            let i = i % chars.len();
            s(0..i) + p + &s(i + 1..chars.len())
        }
        Mutation::Truncate(i) => s(0..at(i)),
        Mutation::Duplicate(i, n) => {
            let (a, b) = (at(i), (at(i) + n).min(chars.len()));
            s(0..b) + &s(a..b) + &s(b..chars.len())
        }
        _ => text.to_owned(),
    }
}

// ---- Number literals -----------------------------------------------------------------------

fn arb_number_literal() -> impl Strategy<Value = String> {
    let sign = prop::sample::select(vec!["", "", "-", "+"]);
    let int = prop_oneof![
        4 => Just(String::from("0")),
        8 => "[1-9][0-9]{0,20}",
        2 => "[1-9][0-9]{20,60}",
        1 => "[1-9][0-9]{300,420}",
        1 => "0[0-9]{1,3}",
        1 => Just(String::new()),
    ];
    let frac = prop_oneof![
        4 => Just(None),
        6 => "[0-9]{1,20}".prop_map(Some),
        1 => "0{300,360}[0-9]{1,20}".prop_map(Some),
        1 => "[0-9]{700,900}".prop_map(Some),
        1 => Just(Some(String::new())),
    ];
    let exp = prop_oneof![
        4 => Just(None),
        6 => (prop::sample::select(vec!["e", "E"]), prop::sample::select(vec!["", "+", "-"]), "[0-9]{1,3}")
            .prop_map(|(e, s, d)| Some(format!("{e}{s}{d}"))),
        1 => (prop::sample::select(vec!["e", "e-", "e+"]), "[0-9]{4,25}").prop_map(|(e, d)| Some(format!("{e}{d}"))),
        1 => prop::sample::select(vec!["e", "e+", "e-", "E-"]).prop_map(|e| Some(e.to_owned())),
    ];
    (sign, int, frac, exp).prop_map(|(sign, int, frac, exp)| {
        let mut text = format!("{sign}{int}");
        if let Some(frac) = frac {
            text.push('.');
            text.push_str(&frac);
        }
        text.push_str(exp.as_deref().unwrap_or(""));
        text
    })
}

/// A decimal `0.d1d2d3... × 10^exp` as its digits and exponent (of the digit before the point).
#[derive(Clone, Debug)]
struct Decimal {
    digits: Vec<u8>,
    exp: i32,
}

impl Decimal {
    /// The exact decimal value of a finite positive double, from Rust's exact formatter.
    fn exact(f: f64) -> Decimal {
        let text = format!("{f:.1100e}");
        let (mantissa, exp) = text.split_once('e').unwrap();
        let digits = mantissa.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').collect();
        Decimal { digits, exp: exp.parse::<i32>().unwrap() + 1 }.normalised()
    }

    /// Without leading or trailing zeros (zero is the single digit 0).
    fn normalised(mut self) -> Decimal {
        let lead = self.digits.iter().take_while(|&&d| d == 0).count();
        self.digits.drain(..lead);
        self.exp -= lead as i32;
        while self.digits.last() == Some(&0) {
            self.digits.pop();
        }
        if self.digits.is_empty() {
            return Decimal { digits: vec![0], exp: 1 };
        }
        self
    }

    /// Place value of digit `i`: 10^(exp - 1 - i).
    fn place(&self, i: usize) -> i32 {
        self.exp - 1 - i as i32
    }

    fn digit_at(&self, place: i32) -> u8 {
        let i = self.exp - 1 - place;
        if i < 0 { 0 } else { self.digits.get(i as usize).copied().unwrap_or(0) }
    }

    fn add(&self, other: &Decimal) -> Decimal {
        let hi = self.exp.max(other.exp) + 1;
        let lo = self.place(self.digits.len().saturating_sub(1)).min(other.place(other.digits.len().saturating_sub(1)));
        let mut digits = Vec::new();
        let mut carry = 0;
        for place in lo..hi {
            let sum = self.digit_at(place) + other.digit_at(place) + carry;
            digits.push(sum % 10);
            carry = sum / 10;
        }
        digits.reverse();
        Decimal { digits, exp: hi }.normalised()
    }

    /// Half of `self`: times 5, one place down.
    fn half(&self) -> Decimal {
        let mut digits = vec![0; self.digits.len() + 1];
        let mut carry = 0;
        for i in (0..self.digits.len()).rev() {
            let v = self.digits[i] * 5 + carry;
            digits[i + 1] = v % 10;
            carry = v / 10;
        }
        digits[0] = carry;
        Decimal { digits, exp: self.exp }.normalised()
    }

    /// Minus one unit `extra` places past the last digit: just below `self`.
    fn just_below(&self, extra: usize) -> Decimal {
        let mut digits = self.digits.clone();
        digits.extend(std::iter::repeat_n(0, extra));
        for d in digits.iter_mut().rev() {
            if *d == 0 {
                *d = 9;
            } else {
                *d -= 1;
                break;
            }
        }
        Decimal { digits, exp: self.exp }
    }

    /// Plus one unit `extra` places past the last digit: just above `self`.
    fn just_above(&self, extra: usize) -> Decimal {
        let mut digits = self.digits.clone();
        digits.extend(std::iter::repeat_n(0, extra));
        *digits.last_mut().unwrap() = 1;
        Decimal { digits, exp: self.exp }
    }

    /// `0.digits` with an exponent; `point` moves the decimal point for another spelling.
    fn text(&self, point: usize) -> String {
        let point = point.min(self.digits.len());
        let ds = |r: std::ops::Range<usize>| self.digits[r].iter().map(|d| char::from(b'0' + d)).collect::<String>();
        let int = if point == 0 { String::from("0") } else { ds(0..point) };
        let int = match int.trim_start_matches('0') {
            "" => "0".to_owned(),
            rest => rest.to_owned(),
        };
        let frac = ds(point..self.digits.len());
        let frac = if frac.is_empty() { String::new() } else { format!(".{frac}") };
        format!("{int}{frac}e{}", self.exp - point as i32)
    }
}

/// The exact midpoint between a positive finite double and the next one up.
fn midpoint(f: f64) -> Option<Decimal> {
    let up = f.next_up();
    if !up.is_finite() {
        return None;
    }
    let ulp = up - f; // exact: a power of two
    let half = if ulp > f64::from_bits(1) { Decimal::exact(ulp / 2.0) } else { Decimal::exact(ulp).half() };
    Some(Decimal::exact(f).add(&half))
}

// ---- The properties -------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(2_000))]

    #[test]
    fn rendered_documents_read_as_serde_json_reads_them(v in arb_value(), seed in any::<u64>()) {
        let mut text = String::new();
        render(&mut Rng(seed), &v, &mut text);
        agree(&text)?;
        let ours = Json::parse(&text);
        prop_assert!(ours.as_ref().is_some_and(|o| same(o, &v)), "{text:?} read as {ours:?}, expected {v:?}");
        agree(&serde_json::to_string(&v).unwrap())?;
        agree(&serde_json::to_string_pretty(&v).unwrap())?;
    }
}

proptest! {
    #![proptest_config(config(4_000))]

    #[test]
    fn mutated_documents_are_accepted_exactly_when_serde_json_accepts(
        v in arb_value(),
        seed in any::<u64>(),
        mutations in prop::collection::vec(arb_mutation(), 1..4),
    ) {
        let mut text = String::new();
        render(&mut Rng(seed), &v, &mut text);
        for m in &mutations {
            text = mutate(&text, m);
        }
        agree(&text)?;
    }
}

proptest! {
    #![proptest_config(config(6_000))]

    #[test]
    fn token_soups_are_accepted_exactly_when_serde_json_accepts(
        tokens in prop::collection::vec(prop::sample::select(INTERESTING), 0..14),
    ) {
        agree(&tokens.concat())?;
        // The same soup inside a string and as an array element.
        agree(&format!("\"{}\"", tokens.concat()))?;
        agree(&format!("[{}]", tokens.concat()))?;
    }

    #[test]
    fn number_literals_match_serde_json_and_str_parse(text in arb_number_literal()) {
        agree_number(&text)?;
        agree(&format!("[{text}]"))?;
        agree(&format!("{{\"exp\":{text}}}"))?;
    }
}

proptest! {
    #![proptest_config(config(2_000))]

    #[test]
    fn doubles_in_every_spelling_read_back_bit_for_bit(bits in any::<u64>(), precision in 0usize..40, point in 0usize..30) {
        let f = f64::from_bits(bits);
        prop_assume!(f.is_finite());
        for text in [format!("{f}"), format!("{f:e}"), format!("{f:.precision$e}"), format!("{f:.800e}")] {
            agree_number(&text)?;
        }
        if f > 0.0 {
            agree_number(&Decimal::exact(f).text(point))?;
        }
    }
}

proptest! {
    #![proptest_config(config(1_000))]

    #[test]
    fn exact_midpoints_between_doubles_round_to_even(
        bits in prop_oneof![
            any::<u64>(),
            0u64..(1 << 52),                                        // subnormals
            (0x7FE0_0000_0000_0000u64..0x7FF0_0000_0000_0000),      // the largest binade
            (0x3FF0_0000_0000_0000u64..0x4340_0000_0000_0000),      // 1 ..= 2^53: timestamps live here
        ],
        extra in 1usize..20,
        point in 0usize..30,
    ) {
        let f = f64::from_bits(bits & !(1 << 63));
        prop_assume!(f.is_finite());
        if let Some(mid) = midpoint(f) {
            for d in [mid.clone(), mid.just_below(extra), mid.just_above(extra)] {
                agree_number(&d.text(point))?;
                agree_number(&format!("-{}", d.text(0)))?;
            }
        }
    }
}

proptest! {
    #![proptest_config(config(4_000))]

    #[test]
    fn string_literals_match_serde_json(
        pieces in prop::collection::vec(prop_oneof![
            any::<char>().prop_map(String::from),
            prop::sample::select(vec![
                "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u0041", "\\u00E9", "\\uFFFF", "\\u0000",
                "\\ud83d\\ude00", "\\uD83D\\uDE00", "\\ud800", "\\udfff", "\\ud800\\u0041", "\\ud800\\ud800",
                "\\ud800\\n", "\\u12", "\\u12g4", "\\x41", "\\a", "\\'", "\\U0041", "\\", "\u{7f}", "\u{1f}",
            ]).prop_map(String::from),
        ], 0..10),
    ) {
        let text = format!("\"{}\"", pieces.concat());
        agree(&text)?;
        agree(&format!("{{{text}:{text}}}"))?;
    }

    #[test]
    fn nesting_agrees_up_to_our_bound_and_is_refused_past_it(n in 1usize..200, object in any::<bool>()) {
        let text = if object {
            format!("{}0{}", "{\"a\":".repeat(n), "}".repeat(n))
        } else {
            format!("{}{}", "[".repeat(n), "]".repeat(n))
        };
        agree(&text)?;
        prop_assert_eq!(Json::parse(&text).is_some(), n <= MAX_DEPTH);
    }
}

// ---- base64url --------------------------------------------------------------------------------

/// Our documented policy, as a base64 engine: URL-safe alphabet, canonical trailing bits,
/// padding optional (at most the canonical amount).
const URL_SAFE_OPTIONAL_PAD: GeneralPurpose =
    GeneralPurpose::new(&URL_SAFE, GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent));

proptest! {
    #![proptest_config(config(6_000))]

    #[test]
    fn base64url_round_trips_what_encoders_produce(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let unpadded = URL_SAFE_NO_PAD.encode(&bytes);
        prop_assert_eq!(base64url_decode(&unpadded), Some(bytes.clone()));
        let padded = base64::engine::general_purpose::URL_SAFE.encode(&bytes);
        prop_assert_eq!(base64url_decode(&padded), Some(bytes));
    }

    #[test]
    fn base64url_accepts_exactly_what_the_base64_crate_accepts(text in "[A-Za-z0-9_=+/. -]{0,24}") {
        let ours = base64url_decode(&text);
        prop_assert_eq!(&ours, &URL_SAFE_OPTIONAL_PAD.decode(&text).ok(), "{:?}", text);
        if !text.contains('=') {
            prop_assert_eq!(&ours, &URL_SAFE_NO_PAD.decode(&text).ok(), "{:?}", text);
        }
    }

    #[test]
    fn base64url_near_valid_inputs_agree_with_the_base64_crate(
        bytes in prop::collection::vec(any::<u8>(), 0..16),
        pad in 0usize..4,
        last in prop::sample::select(b"AQgw_-9zBCDE".to_vec()),
        tweak in any::<bool>(),
    ) {
        // Valid encodings with their last character swapped (trailing bits set or not) and any
        // amount of padding.
        let mut text = URL_SAFE_NO_PAD.encode(&bytes);
        if tweak && !text.is_empty() {
            text.pop();
            text.push(char::from(last));
        }
        text.push_str(&"=".repeat(pad));
        prop_assert_eq!(base64url_decode(&text), URL_SAFE_OPTIONAL_PAD.decode(&text).ok(), "{:?}", text);
    }
}

#[test]
fn the_midpoint_generator_is_exact() {
    // 1 + 2^-53, the midpoint between 1 and the next double: a tie, to the even 1.
    let mid = midpoint(1.0).unwrap();
    assert_eq!(mid.text(1), "1.00000000000000011102230246251565404236316680908203125e0");
    assert_eq!(mid.text(0), "0.100000000000000011102230246251565404236316680908203125e1");
    let parse = |d: &Decimal| d.text(0).parse::<f64>().unwrap();
    assert_eq!(parse(&mid), 1.0);
    assert_eq!(parse(&mid.just_above(3)), 1.0f64.next_up());
    assert_eq!(parse(&mid.just_below(3)), 1.0);
    // 2^-1075, half the smallest subnormal: a tie between 0 and 2^-1074, to the even 0.
    let tiny = midpoint(0.0).unwrap();
    assert_eq!(tiny.digits.len(), 752); // 5^1075 has 752 digits
    assert_eq!(parse(&tiny), 0.0);
    assert_eq!(parse(&tiny.just_above(1)), f64::from_bits(1));
    // Between the two smallest subnormals, 3 × 2^-1075: a tie, to the even 2^-1073.
    assert_eq!(parse(&midpoint(f64::from_bits(1)).unwrap()), f64::from_bits(2));
}

