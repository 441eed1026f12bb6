//! How shoppers' words meet the catalog: one folded form for indexed text and queries, and the
//! owner's synonym table that widens a query word to the words the catalog uses.

use unicode_normalization::UnicodeNormalization;

/// Raise this when [`search_form`] changes, so stored search text is written again at start.
pub const SEARCH_FORM_VERSION: &str = "2";

/// The form in which text is indexed and searched: NFKC (full-width letters and half-width
/// katakana folded), lower-case, hiragana as katakana (ぼとる finds ボトル), hyphens between
/// letters and digits dropped (KT-S10, kt s10 and kts10 are one model number only when typed
/// without the space), single spaces.
pub fn search_form(text: &str) -> String {
    let folded: Vec<char> = text
        .nfkc()
        .flat_map(char::to_lowercase)
        .map(katakana)
        .collect();
    let mut out = String::with_capacity(folded.len() * 3);
    for (i, &c) in folded.iter().enumerate() {
        if is_hyphen(c)
            && i.checked_sub(1)
                .and_then(|p| folded.get(p))
                .is_some_and(char::is_ascii_alphanumeric)
            && folded.get(i + 1).is_some_and(char::is_ascii_alphanumeric)
        {
            continue;
        }
        out.push(c);
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Hiragana as the katakana of the same sound; everything else as it is.
fn katakana(c: char) -> char {
    match c {
        'ぁ'..='ゖ' | 'ゝ' | 'ゞ' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
        _ => c,
    }
}

/// ASCII and typographic hyphens and minus signs (never the long-vowel mark ー).
fn is_hyphen(c: char) -> bool {
    matches!(
        c,
        '-' | '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2212}'
    )
}

/// The owner's synonym table: each line `word = other, other` (or `→` / `=>` for `=`); a query
/// word equal to the left side is also searched as each word on the right. Lines starting with
/// `#` and blank lines are skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Synonyms {
    entries: Vec<(String, Vec<String>)>,
}

/// A line of a synonym table that could not be read, numbered from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynonymLineError {
    pub line: usize,
    pub code: &'static str,
}

/// Most lines a synonym table may have, and most words on a line's right side.
pub const MAX_SYNONYM_LINES: usize = 500;
pub const MAX_SYNONYM_WORDS: usize = 10;

impl Synonyms {
    /// Reads a table as the owner typed it; every line that cannot be read is named.
    pub fn parse(text: &str) -> Result<Self, Vec<SynonymLineError>> {
        let (table, mut errors) = Self::read(text);
        if text.lines().count() > MAX_SYNONYM_LINES {
            errors.push(SynonymLineError {
                line: MAX_SYNONYM_LINES + 1,
                code: "too_many_lines",
            });
        }
        if errors.is_empty() {
            Ok(table)
        } else {
            Err(errors)
        }
    }

    /// The lines of a table that read, the others skipped.
    pub fn lenient(text: &str) -> Self {
        Self::read(text).0
    }

    fn read(text: &str) -> (Self, Vec<SynonymLineError>) {
        let mut entries: Vec<(String, Vec<String>)> = Vec::new();
        let mut errors = Vec::new();
        for (i, raw) in text.lines().take(MAX_SYNONYM_LINES).enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |code| SynonymLineError { line: i + 1, code };
            let normal: String = line.nfkc().collect();
            let Some((left, right)) = normal
                .split_once("=>")
                .or_else(|| normal.split_once('→'))
                .or_else(|| normal.split_once('='))
            else {
                errors.push(fail("no_arrow"));
                continue;
            };
            let word = search_form(left);
            if word.is_empty() || word.contains(' ') {
                errors.push(fail("one_word_on_the_left"));
                continue;
            }
            let others: Vec<String> = right
                .split([',', '、', '，'])
                .map(search_form)
                .filter(|w| !w.is_empty() && *w != word)
                .collect();
            if others.is_empty() {
                errors.push(fail("nothing_on_the_right"));
                continue;
            }
            if others.len() > MAX_SYNONYM_WORDS {
                errors.push(fail("too_many_words"));
                continue;
            }
            if others.iter().any(|w| w.chars().count() > 40) || word.chars().count() > 40 {
                errors.push(fail("word_too_long"));
                continue;
            }
            match entries.iter_mut().find(|(w, _)| *w == word) {
                Some((_, list)) => {
                    for o in others {
                        if !list.contains(&o) {
                            list.push(o);
                        }
                    }
                }
                None => entries.push((word, others)),
            }
        }
        (Self { entries }, errors)
    }

    /// The table written back as one line an entry, in [`search_form`].
    pub fn to_text(&self) -> String {
        self.entries
            .iter()
            .map(|(w, o)| format!("{w} = {}\n", o.join(", ")))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The words a query word is also searched as (the word itself first).
    fn widen(&self, word: &str) -> Vec<String> {
        let mut out = vec![word.to_string()];
        if let Some((_, others)) = self.entries.iter().find(|(w, _)| w == word) {
            out.extend(others.iter().cloned());
        }
        out
    }

    /// A query as groups of alternatives: each word of `query` (already in [`search_form`]) with
    /// its synonyms. A two-word entry such as `lunch box = bento` is not supported: the left
    /// side is one word.
    pub fn plan(&self, query: &str) -> Vec<Vec<String>> {
        query.split_whitespace().map(|w| self.widen(w)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kana_widths_and_cases_fold_to_one_form() {
        assert_eq!(search_form("ぼとる"), "ボトル");
        assert_eq!(search_form("ﾎﾞﾄﾙ"), "ボトル");
        assert_eq!(search_form("ボトル"), "ボトル");
        assert_eq!(search_form("ふーどじゃー"), "フードジャー");
        assert_eq!(search_form("ＢＯＴＴＬＥ　Ｌｉｇｈｔ"), "bottle light");
        assert_eq!(search_form("しゃもじ"), "シャモジ");
    }

    #[test]
    fn model_numbers_match_without_hyphens_but_the_long_vowel_mark_stays() {
        assert_eq!(search_form("KT-S10"), "kts10");
        assert_eq!(search_form("ＫＴ－Ｓ１０"), "kts10");
        assert_eq!(search_form("kt‐s10"), "kts10");
        assert_eq!(search_form("kts10"), "kts10");
        assert_eq!(search_form("ケトル-"), "ケトル-");
        assert_eq!(search_form("コーヒー"), "コーヒー");
        assert_eq!(search_form("spill - safe"), "spill - safe");
    }

    #[test]
    fn a_synonym_table_widens_query_words() {
        let s = Synonyms::parse(
            "# comment\n水筒 = ボトル, マグ\nぽっと → ケトル\n\nlunch => bento、弁当",
        )
        .unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(
            s.plan("水筒 ﾎﾟｯﾄ"),
            vec![
                vec!["水筒".to_string(), "ボトル".into(), "マグ".into()],
                vec!["ﾎﾟｯﾄ".to_string()]
            ]
        );
        assert_eq!(
            s.plan(&search_form("ﾎﾟｯﾄ")),
            vec![vec!["ポット".to_string(), "ケトル".into()]]
        );
        assert_eq!(s.plan("lunch")[0], vec!["lunch", "bento", "弁当"]);
        assert_eq!(Synonyms::parse(&s.to_text()).unwrap(), s);
    }

    #[test]
    fn unreadable_lines_are_named() {
        let e = Synonyms::parse("水筒 ボトル\n = ボトル\na b = c\nx =\nok = fine").unwrap_err();
        let codes: Vec<(usize, &str)> = e.iter().map(|e| (e.line, e.code)).collect();
        assert_eq!(
            codes,
            vec![
                (1, "no_arrow"),
                (2, "one_word_on_the_left"),
                (3, "one_word_on_the_left"),
                (4, "nothing_on_the_right")
            ]
        );
    }
}
