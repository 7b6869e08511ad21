//! Text measures shared by every peer (word counts must agree everywhere), and text as a
//! person looking for something compares it.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Words in `text`: runs of characters between Unicode whitespace that hold at least one
/// letter or digit (so a lone "—" or "*" is not a word).
pub fn word_count(text: &str) -> u32 {
    let words = text
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .count();
    u32::try_from(words).unwrap_or(u32::MAX)
}

/// Collapses runs of whitespace and trims, for names and titles.
pub fn tidy(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `text` decomposed (NFKD), without combining marks, in lowercase: the form in which what
/// someone types is compared with names and titles, so that "tomas" finds "Tomás", "ZOE"
/// finds "Zoë" and a ligature its letters.
pub fn fold(text: &str) -> String {
    text.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_drops_accents_case_and_compatibility_forms() {
        assert_eq!(fold("Tomás Zoë Ångström"), "tomas zoe angstrom");
        assert_eq!(fold("ﬁnale ＭＩＬＬ"), "finale mill");
    }

    #[test]
    fn counts_words_not_punctuation() {
        assert_eq!(word_count(""), 0);
        assert_eq!(word_count("  The mill — it turned.\n\nSlowly * "), 5);
        assert_eq!(word_count("naïve café"), 2);
    }

    #[test]
    fn tidy_collapses_whitespace() {
        assert_eq!(tidy("  Tuesday \t Writers \n"), "Tuesday Writers");
    }
}
