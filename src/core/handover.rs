//! The bearer handed across the wasm boundary. Copying a token into a JS string costs more than
//! the rest of the fast path's decision, and it is the same token for thousands of requests: so
//! the driver says "the one you already have" while it is unchanged.

/// What the driver tells JS about the bearer of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handover {
    /// The same string as the last one handed over.
    Unchanged,
    /// A different token: JS keeps it as the new "last one".
    New(String),
}

/// Remembers the last bearer handed over.
#[derive(Debug, Default)]
pub struct LastHandedOver {
    token: Option<String>,
}

impl LastHandedOver {
    pub fn hand_over(&mut self, token: String) -> Handover {
        if self.token.as_deref() == Some(token.as_str()) {
            return Handover::Unchanged;
        }
        self.token = Some(token.clone());
        Handover::New(token)
    }

    /// JS's copy is gone or must not be trusted (a promise resolved with a token directly).
    pub fn forget(&mut self) {
        self.token = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_handed_over_once_until_it_changes() {
        let mut last = LastHandedOver::default();
        assert_eq!(last.hand_over("A".into()), Handover::New("A".into()));
        assert_eq!(last.hand_over("A".into()), Handover::Unchanged);
        assert_eq!(last.hand_over("B".into()), Handover::New("B".into()));
        assert_eq!(last.hand_over("A".into()), Handover::New("A".into()));
        last.forget();
        assert_eq!(last.hand_over("A".into()), Handover::New("A".into()));
    }
}
