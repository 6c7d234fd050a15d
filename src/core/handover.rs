//! The bearer handed across the wasm boundary. Copying a token into a JS string costs more than
//! the rest of the fast path's decision, and it is the same token for thousands of requests
//! (and for every request a refresh releases): so the driver says "the one you already have"
//! while it is unchanged.
//!
//! The driver and JS keep one "last one" each and must agree: every answer that hands a bearer
//! over goes through [`LastHandedOver::hand_over`] in the order JS reads the answers (the op's
//! result, then its actions), and JS reads every one of them, even a `Resolve` for a request
//! that was cancelled meanwhile.

/// Remembers the last bearer handed over.
#[derive(Debug, Default)]
pub struct LastHandedOver {
    token: Option<String>,
}

impl LastHandedOver {
    /// `true` when `token` is the one handed over last (JS may use its copy); otherwise it
    /// becomes the last one and must be sent whole.
    pub fn hand_over(&mut self, token: &str) -> bool {
        if self.token.as_deref() == Some(token) {
            return true;
        }
        self.token = Some(token.to_owned());
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_handed_over_once_until_it_changes() {
        let mut last = LastHandedOver::default();
        assert!(!last.hand_over("A"));
        assert!(last.hand_over("A"));
        assert!(!last.hand_over("B"));
        assert!(last.hand_over("B"));
        assert!(!last.hand_over("A"));
    }
}
