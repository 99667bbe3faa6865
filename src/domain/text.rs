//! What counts as text (issue #29): no NUL, no C0 or C1 control character and no DEL — tab, newline
//! and carriage return aside in fields that hold prose —, and a name is more than spaces and invisible
//! characters. Requests that break it are refused (422) before anything reaches SQL; data from the Hub
//! that breaks it is [`clean`]ed.

/// Whether `c` is refused in text: a control character (C0, DEL, C1), except tab, newline and
/// carriage return when `prose` allows them.
pub fn is_refused(c: char, prose: bool) -> bool {
    match c {
        '\t' | '\n' | '\r' => !prose,
        c => c.is_control(),
    }
}

/// The first refused character of `s`, when there is one.
pub fn first_refused(s: &str, prose: bool) -> Option<char> {
    s.chars().find(|c| is_refused(*c, prose))
}

/// A refused character as a person reads it (`U+0000`).
pub fn shown(c: char) -> String {
    format!("U+{:04X}", c as u32)
}

/// Whether `c` shows nothing: white space, and the format characters and fillers that render as
/// nothing (zero-width spaces and joiners, direction marks, the byte-order mark, soft hyphens, the
/// Hangul fillers).
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
            | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
            | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}' | '\u{E0000}'..='\u{E007F}')
}

/// Whether `s` shows nothing at all (empty, or only spaces and invisible characters).
pub fn is_blank(s: &str) -> bool {
    s.chars().all(is_invisible)
}

/// `s` without its refused characters (tab, newline and carriage return kept), for text that comes
/// from the Hub: what a person wrote there is kept, what no database or client can hold is dropped.
pub fn clean(s: &str) -> std::borrow::Cow<'_, str> {
    if first_refused(s, true).is_none() {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(s.chars().filter(|c| !is_refused(*c, true)).collect())
    }
}

/// `value` with the refused characters of every string and key dropped ([`clean`]): what is derived
/// from a model file (its tensor names, its metadata) is stored as text a database and a client hold.
pub fn clean_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => {
            if let std::borrow::Cow::Owned(cleaned) = clean(s) {
                *s = cleaned;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(clean_json),
        serde_json::Value::Object(map) => {
            if map.keys().any(|k| first_refused(k, true).is_some()) {
                let old = std::mem::take(map);
                for (k, v) in old {
                    map.insert(clean(&k).into_owned(), v);
                }
            }
            map.values_mut().for_each(clean_json);
        }
        _ => {}
    }
}

/// Where in a JSON value the first refused character is (a dotted path, `$` the root), for any
/// string or object key in it: JSON bodies hold prose, so tab, newline and carriage return pass.
pub fn refused_in_json(value: &serde_json::Value) -> Option<(String, char)> {
    fn walk(v: &serde_json::Value, path: &mut String) -> Option<(String, char)> {
        match v {
            serde_json::Value::String(s) => first_refused(s, true).map(|c| (path.clone(), c)),
            serde_json::Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(item, path);
                path.truncate(len);
                found
            }),
            serde_json::Value::Object(map) => map.iter().find_map(|(k, item)| {
                let len = path.len();
                path.push('.');
                path.push_str(
                    &k.chars()
                        .take(64)
                        .filter(|c| !c.is_control())
                        .collect::<String>(),
                );
                let found = first_refused(k, false)
                    .map(|c| (path.clone(), c))
                    .or_else(|| walk(item, path));
                path.truncate(len);
                found
            }),
            _ => None,
        }
    }
    walk(value, &mut "$".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn controls_are_refused_and_prose_keeps_its_line_breaks() {
        for c in ['\0', '\u{1}', '\u{1b}', '\u{7f}', '\u{80}', '\u{9f}'] {
            assert!(is_refused(c, true), "{}", shown(c));
            assert!(is_refused(c, false), "{}", shown(c));
        }
        for c in ['\t', '\n', '\r'] {
            assert!(!is_refused(c, true));
            assert!(is_refused(c, false));
        }
        for c in ['a', ' ', 'é', '\u{200b}', '😀', '\u{a0}'] {
            assert!(!is_refused(c, false), "{}", shown(c));
        }
        assert_eq!(first_refused("a\0b", true), Some('\0'));
        assert_eq!(shown('\0'), "U+0000");
    }

    #[test]
    fn a_name_of_spaces_and_invisible_characters_is_blank() {
        assert!(is_blank(""));
        assert!(is_blank(" \t "));
        assert!(is_blank("\u{200b}\u{feff}\u{2060}\u{3164}"));
        assert!(!is_blank(" a\u{200b}"));
        assert!(!is_blank("模型"));
    }

    #[test]
    fn hub_text_is_cleaned_not_lost() {
        assert_eq!(clean("Mobile\0Net\u{1}"), "MobileNet");
        assert_eq!(clean("line\nbreak\ttab"), "line\nbreak\ttab");
        assert!(matches!(clean("plain"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn json_from_a_model_file_is_cleaned_throughout() {
        let mut v = json!({"in\u{0}puts": [{"name": "image\u{0}", "shape": [1]}], "note": "ok\n"});
        clean_json(&mut v);
        assert_eq!(
            v,
            json!({"inputs": [{"name": "image", "shape": [1]}], "note": "ok\n"})
        );
        assert_eq!(refused_in_json(&v), None);
    }

    #[test]
    fn the_first_refused_character_of_a_body_is_located() {
        let body = json!({"name": "ok", "assets": {"tflite": "x"}, "tags": ["a", "b\u{0}"]});
        assert_eq!(refused_in_json(&body), Some(("$.tags[1]".into(), '\0')));
        assert_eq!(
            refused_in_json(&json!({"a\u{1}": 1})),
            Some(("$.a".into(), '\u{1}'))
        );
        assert_eq!(refused_in_json(&json!({"d": "two\nlines"})), None);
    }
}
