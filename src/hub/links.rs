//! `Link: <…>; rel="next"` headers, as the Hub's listings page with them.

use reqwest::header::{HeaderMap, LINK};
use url::Url;

/// The `rel="next"` target of a `Link` header, resolved against the request URL.
pub fn next_link(headers: &HeaderMap, base: &Url) -> Option<Url> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| parse_next_link(v, base))
}

/// Parses `<URL>; rel="next"` out of a Link header value (several links may be comma-separated).
pub fn parse_next_link(value: &str, base: &Url) -> Option<Url> {
    let mut rest = value;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let end = after.find('>')?;
        let target = &after[..end];
        let params_end = after[end..].find('<').map_or(after.len(), |i| end + i);
        let params = &after[end + 1..params_end];
        let is_next = params.split(';').any(|p| {
            let p = p.trim().trim_end_matches(',').trim();
            p.strip_prefix("rel=")
                .map(|r| {
                    r.trim_matches('"')
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
                })
                .unwrap_or(false)
        });
        if is_next {
            return base.join(target).ok();
        }
        rest = &after[params_end..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn next_links_are_found_among_others() {
        let base = Url::parse("https://huggingface.co/api/models?filter=litert").unwrap();
        let v = "<https://huggingface.co/api/models?filter=litert&cursor=abc%3D>; rel=\"next\"";
        assert_eq!(
            parse_next_link(v, &base).unwrap().as_str(),
            "https://huggingface.co/api/models?filter=litert&cursor=abc%3D"
        );
        let v = "<https://x/prev>; rel=\"prev\", </api/models?cursor=2>; rel=next";
        assert_eq!(
            parse_next_link(v, &base).unwrap().as_str(),
            "https://huggingface.co/api/models?cursor=2"
        );
        assert_eq!(
            parse_next_link("<https://x/prev>; rel=\"prev\"", &base),
            None
        );
        assert_eq!(parse_next_link("garbage", &base), None);
    }

    proptest! {
        #[test]
        fn link_parsing_never_panics(s in "\\PC{0,300}") {
            let base = Url::parse("https://huggingface.co/api/models").unwrap();
            let _ = parse_next_link(&s, &base);
        }
    }
}
