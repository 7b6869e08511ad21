//! Text as search compares it: letters without their accents, in lowercase, so that "tomas"
//! finds "Tomás" and "ZOE" finds "Zoë" ([`quire_store::text::fold`], as the CLI finds
//! members by name).

pub use quire_store::text::fold;

/// The words of a query, each [`fold`]ed.
pub fn words(query: &str) -> Vec<String> {
    fold(query).split_whitespace().map(str::to_string).collect()
}

/// Whether `folded` (already [`fold`]ed) holds every one of `words`.
pub fn matches(folded: &str, words: &[String]) -> bool {
    words.iter().all(|w| folded.contains(w.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accents_and_case_do_not_matter_either_way() {
        let name = fold("Tomás Zoë Ångström");
        assert!(matches(&name, &words("tomas")));
        assert!(matches(&name, &words("TOMÁS")));
        assert!(matches(&name, &words("zoe angstrom")));
        assert!(matches(&fold("tomas"), &words("Tomás")));
        assert!(!matches(&name, &words("tomas zara")));
    }

    #[test]
    fn compatibility_forms_fold_to_their_plain_letters() {
        // A ligature and full-width letters, as pasted from a word processor or a phone.
        assert!(matches(&fold("ﬁnale"), &words("finale")));
        assert!(matches(&fold("ＭＩＬＬ"), &words("mill")));
    }

    #[test]
    fn an_empty_query_matches_everything() {
        assert!(matches(&fold("anything"), &words("   ")));
    }
}
