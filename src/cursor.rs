//! The one codec of the API's opaque page cursors: a value serialised as JSON, then base64url without
//! padding. Used by `GET /models` (a [`crate::store::Keyset`]) and `GET /sync/runs`; what a cursor
//! holds is the caller's type, checked when it is decoded.

use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Longer cursors are refused before they are decoded.
const MAX_CURSOR: usize = 512;

/// The opaque cursor of `value`.
pub fn encode<T: Serialize>(value: &T) -> String {
    let json = serde_json::to_vec(value).expect("cursor values serialise");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

/// The value a cursor made by [`encode`] holds; `None` for anything else.
pub fn decode<T: DeserializeOwned>(cursor: &str) -> Option<T> {
    if cursor.len() > MAX_CURSOR {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = super::encode(&("a", 1));
        assert_eq!(super::decode::<(String, i32)>(&c), Some(("a".into(), 1)));
        assert_eq!(super::decode::<(String, i32)>("not-base64!!"), None);
        assert_eq!(super::decode::<(String, i32)>(&"A".repeat(600)), None);
        assert_eq!(super::decode::<(String, i32)>(&super::encode(&"x")), None);
    }
}
