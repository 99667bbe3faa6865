//! The one codec of the API's opaque page cursors: a value serialised as JSON, then base64url without
//! padding. Used by `GET /models` (a [`Keyset`], [`keyset`]) and `GET /sync/runs`; what a cursor
//! holds is the caller's type, checked when it is decoded.

use crate::store::{Keyset, SortKey};
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

/// The keyset a `GET /models` cursor holds; it must have been made for the same sort order.
pub fn keyset(cursor: &str, sort: SortKey) -> Result<Keyset, String> {
    decode::<Keyset>(cursor)
        .ok_or_else(|| "invalid cursor".to_string())?
        .for_sort(sort)
}

#[cfg(test)]
mod tests {
    use crate::store::{Keyset, SortKey, SortValue};

    #[test]
    fn keyset_cursors_round_trip_and_refuse_another_sort() {
        let k = Keyset {
            sort: SortKey::Name,
            value: SortValue::Text("abc".into()),
            id: uuid::Uuid::new_v4(),
        };
        assert_eq!(super::keyset(&super::encode(&k), SortKey::Name).unwrap(), k);
        assert!(super::keyset(&super::encode(&k), SortKey::CreatedAt).is_err());
        assert!(super::keyset("not-base64!!", SortKey::Name).is_err());
        assert!(super::keyset("e30", SortKey::Name).is_err());
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = super::encode(&("a", 1));
        assert_eq!(super::decode::<(String, i32)>(&c), Some(("a".into(), 1)));
        assert_eq!(super::decode::<(String, i32)>("not-base64!!"), None);
        assert_eq!(super::decode::<(String, i32)>(&"A".repeat(600)), None);
        assert_eq!(super::decode::<(String, i32)>(&super::encode(&"x")), None);
    }
}
