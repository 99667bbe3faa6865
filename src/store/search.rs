//! The word search behind `q`: how a query and a model's text are split into words, the text the word
//! index reads (SQLite FTS5, PostgreSQL `tsvector`) and the ways a search can read its matches (the
//! listing chooses one: `browse`, `Store::search_plan`).

/// The words a `q` search looks for: the runs of letters and digits of `q`, lower-cased, at most
/// [`MAX_SEARCH_WORDS`]. A model matches when each word starts a word of its name, description or
/// tags (`mobile` finds "MobileNet", `yolov8 face` finds "yolov8n-face").
pub fn search_words(q: &str) -> Vec<String> {
    words(q).take(MAX_SEARCH_WORDS).collect()
}

/// The runs of letters and digits of `text`, lower-cased: how both a query and a model's text are
/// split into words.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// More words than this in one `q` are ignored (each is an index lookup).
pub const MAX_SEARCH_WORDS: usize = 16;

/// The words of a model's search text on PostgreSQL, as indexed by `ml_models_search` (migration
/// 0028): the words [`search_text`] holds, taken as they are (no parser).
pub(super) const PG_SEARCH_VECTOR: &str =
    "array_to_tsvector(string_to_array(btrim(search_text), ' '))";

/// The text of a model its word index reads (`ml_models_fts` on SQLite, `ml_models_search` on
/// PostgreSQL; migrations 0011 and 0028): the words of its name, description, tags and Hub repo id
/// (owner and repo name: `user109` finds the owner's models) as [`search_words`] splits a query, each
/// followed by one space, after a leading one — so a query word `w` matches iff the text contains
/// `' ' || w` ([`Dialect::word_in_text`](super::Dialect::word_in_text)).
pub(crate) fn search_text(
    name: &str,
    description: &str,
    tags: &[String],
    hf_model_id: Option<&str>,
) -> String {
    let repo = hf_model_id.unwrap_or_default();
    let mut s =
        String::with_capacity(name.len() + description.len() + repo.len() + 16 * tags.len() + 1);
    s.push(' ');
    let parts = [name, description, repo]
        .into_iter()
        .chain(tags.iter().map(String::as_str));
    for word in parts.flat_map(words) {
        s.push_str(&word);
        s.push(' ');
    }
    s
}

/// How a listing with a search reads its matches. On PostgreSQL, `Drive` and `Probe` are one SQL
/// whose plan its planner chooses by its own statistics (a sync that rewrote much of the catalogue
/// refreshes them: [`Store::refresh_statistics`](super::Store::refresh_statistics)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SearchPlan {
    /// The word index lists the matches and they are sorted: few matches.
    Drive,
    /// The sort index leads and each row is looked up in the word index's match list, which is read
    /// in full first: many matches, but not where the page is.
    Probe,
    /// The sort index leads and each row's text is tested in place ([`Dialect::word_in_text`](super::Dialect::word_in_text)),
    /// for at most `rows` rows: the page's matches are among the first rows in its order, as a
    /// common word's are. Reads nothing it does not show.
    Walk { rows: i64 },
}

/// A search with at most this many matches reads them from the word index and sorts them.
pub(super) const SEARCH_DRIVE_MAX: i64 = 2_000;

/// A walk reads at most this many rows for each row its page needs: it is chosen when one row in
/// this many matches where the page is (a word in 5 % of the catalogue).
pub(super) const WALK_ROWS_PER_MATCH: i64 = 20;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Dialect;

    #[test]
    fn search_words_are_lower_cased_runs_of_letters_and_digits() {
        assert_eq!(search_words("YOLOv8n-face"), ["yolov8n", "face"]);
        assert_eq!(
            search_words("  ssd_mobilenet v2 "),
            ["ssd", "mobilenet", "v2"]
        );
        assert_eq!(search_words("Über Modèle ✓"), ["über", "modèle"]);
        assert!(search_words("%_ -- '\"").is_empty());
        assert_eq!(search_words(&"a ".repeat(40)).len(), MAX_SEARCH_WORDS);
    }

    #[test]
    fn a_models_text_is_its_words_each_after_a_space() {
        assert_eq!(
            search_text(
                "YOLOv8n-face",
                "Finds, faces!",
                &["Über".into(), "ΟΔΟΣ".into()],
                Some("user109/yolo-v8")
            ),
            " yolov8n face finds faces user109 yolo v8 über οδος "
        );
        assert_eq!(search_text("", "-", &[], None), " ");
    }

    #[test]
    fn word_queries_take_each_word_as_a_prefix() {
        let words = search_words("Mobile-Net v2");
        assert_eq!(
            Dialect::Sqlite.search_query(&words),
            r#""mobile"* "net"* "v2"*"#
        );
        assert_eq!(
            Dialect::Postgres.search_query(&words),
            "'mobile':* & 'net':* & 'v2':*"
        );
    }
}
