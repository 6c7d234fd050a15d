//! A minimal multipart/form-data parser (RFC 7578): enough to list field names, text values,
//! and file names and sizes. Hand-written instead of `multer` to keep the dependency tree
//! small; the whole body is already in memory (bounded by the body limit).

pub struct Part<'a> {
    pub name: String,
    pub filename: Option<String>,
    pub data: &'a [u8],
}

/// The boundary parameter of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let mime = params.next()?.trim();
    if !mime.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let v = v.trim().trim_matches('"');
        (!v.is_empty() && v.len() <= 200).then(|| v.to_string())
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > haystack.len() {
        return None;
    }
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Skip one line break (CRLF, or a bare LF from lenient clients).
fn skip_newline(body: &[u8], at: usize) -> Option<usize> {
    if body.get(at..at + 2) == Some(b"\r\n") {
        Some(at + 2)
    } else if body.get(at) == Some(&b'\n') {
        Some(at + 1)
    } else {
        None
    }
}

/// Value of `param` in a `Content-Disposition` header, quoted or not.
fn disposition_param(header: &str, param: &str) -> Option<String> {
    let mut rest = header;
    // Walk `; key=value` pairs, honouring quotes so a `;` inside a filename doesn't split.
    while let Some(semi) = rest.find(';') {
        rest = rest[semi + 1..].trim_start();
        let eq = rest.find('=')?;
        let key = rest[..eq].trim();
        let after = &rest[eq + 1..];
        let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            out.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => out.push(c),
                }
            }
            (out, &quoted[end.min(quoted.len())..])
        } else {
            let end = after.find(';').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        if key.eq_ignore_ascii_case(param) {
            return Some(value);
        }
        rest = tail;
    }
    None
}

pub fn parse<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, &'static str> {
    let delim = format!("--{boundary}").into_bytes();
    // The delimiter inside the body is always preceded by a line break.
    let inner_delim = [b"\r\n".as_slice(), &delim].concat();
    let mut pos = find(body, &delim, 0).ok_or("boundary not found")? + delim.len();
    let mut parts = Vec::new();
    loop {
        if body.get(pos..pos + 2) == Some(b"--") {
            return Ok(parts); // closing delimiter
        }
        // Transport padding (spaces/tabs) may follow a delimiter.
        while matches!(body.get(pos), Some(b' ' | b'\t')) {
            pos += 1;
        }
        pos = skip_newline(body, pos).ok_or("expected a line break after the boundary")?;

        let headers_end = find(body, b"\r\n\r\n", pos).ok_or("part headers not terminated")?;
        let headers = std::str::from_utf8(&body[pos..headers_end])
            .map_err(|_| "part headers are not UTF-8")?;
        let disposition = headers
            .split("\r\n")
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-disposition"))
            .map(|(_, v)| v.trim())
            .ok_or("part without Content-Disposition")?;
        let name = disposition_param(disposition, "name").ok_or("part without a name")?;
        let filename = disposition_param(disposition, "filename");

        let data_start = headers_end + 4;
        let data_end = find(body, &inner_delim, data_start).ok_or("missing closing boundary")?;
        parts.push(Part {
            name,
            filename,
            data: &body[data_start..data_end],
        });
        pos = data_end + inner_delim.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_from_content_type() {
        assert_eq!(
            boundary("multipart/form-data; boundary=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(
            boundary("Multipart/Form-Data; charset=utf-8; boundary=\"x y\"").as_deref(),
            Some("x y")
        );
        assert_eq!(boundary("application/json"), None);
        assert_eq!(boundary("multipart/form-data"), None);
    }

    #[test]
    fn parses_fields_and_files() {
        let body = b"preamble\r\n--XX\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--XX\r\n\
Content-Disposition: form-data; name=\"file\"; filename=\"a;b.csv\"\r\nContent-Type: text/csv\r\n\r\n1,2\r\n3,4\r\n--XX--\r\n";
        let parts = parse(body, "XX").expect("valid multipart");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "note");
        assert_eq!(parts[0].data, b"hello");
        assert_eq!(parts[0].filename, None);
        assert_eq!(parts[1].name, "file");
        assert_eq!(parts[1].filename.as_deref(), Some("a;b.csv"));
        assert_eq!(parts[1].data, b"1,2\r\n3,4");
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse(b"nothing here", "XX").is_err());
        assert!(parse(
            b"--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated",
            "XX"
        )
        .is_err());
        assert!(parse(b"--XX\r\nX-Other: 1\r\n\r\nv\r\n--XX--", "XX").is_err());
    }

    #[test]
    fn empty_form() {
        assert_eq!(parse(b"--XX--\r\n", "XX").map(|p| p.len()), Ok(0));
    }
}
