//! The customer password rule (REFERENCES.md items 13 and 15; NIST SP 800-63B-4 §3.1.1.2).
//!
//! At least 12 characters (Unicode code points) and at most 1024; no composition rules; not
//! mostly made of the customer's own name, kana or email address; and a `zxcvbn` strength
//! estimate of at least 3 with those personal values as user inputs. A refusal always says
//! why, in the visitor's language.

use zxcvbn::feedback::{Suggestion, Warning};

use crate::i18n::Tr;

pub const MIN_CHARS: usize = 12;
pub const MAX_CHARS: usize = 1024;
const MIN_SCORE: u8 = 3;
/// zxcvbn's cost grows with length; like the original library, only this many characters are
/// estimated (a longer password is judged by its start, and is long enough anyway).
const ESTIMATE_CHARS: usize = 100;
/// What must remain once the personal parts are taken out.
const MIN_REST: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordProblem {
    Empty,
    TooShort,
    TooLong,
    Mismatch,
    Personal,
    Weak {
        warning: Option<&'static str>,
        suggestion: Option<&'static str>,
    },
}

fn warning_key(w: Warning) -> &'static str {
    match w {
        Warning::StraightRowsOfKeysAreEasyToGuess => "password.warning.keyboard_row",
        Warning::ShortKeyboardPatternsAreEasyToGuess => "password.warning.keyboard_pattern",
        Warning::RepeatsLikeAaaAreEasyToGuess => "password.warning.repeat",
        Warning::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess => "password.warning.repeat_group",
        Warning::ThisIsATop10Password
        | Warning::ThisIsATop100Password
        | Warning::ThisIsACommonPassword => "password.warning.common",
        Warning::ThisIsSimilarToACommonlyUsedPassword => "password.warning.similar_common",
        Warning::SequencesLikeAbcAreEasyToGuess => "password.warning.sequence",
        Warning::RecentYearsAreEasyToGuess => "password.warning.years",
        Warning::AWordByItselfIsEasyToGuess => "password.warning.single_word",
        Warning::DatesAreOftenEasyToGuess => "password.warning.dates",
        Warning::NamesAndSurnamesByThemselvesAreEasyToGuess
        | Warning::CommonNamesAndSurnamesAreEasyToGuess => "password.warning.names",
    }
}

fn suggestion_key(s: Suggestion) -> &'static str {
    match s {
        Suggestion::UseAFewWordsAvoidCommonPhrases
        | Suggestion::AddAnotherWordOrTwo
        | Suggestion::NoNeedForSymbolsDigitsOrUppercaseLetters => "password.suggestion.words",
        Suggestion::CapitalizationDoesntHelpVeryMuch
        | Suggestion::AllUppercaseIsAlmostAsEasyToGuessAsAllLowercase => {
            "password.suggestion.capitals"
        }
        Suggestion::ReversedWordsArentMuchHarderToGuess => "password.suggestion.reversed",
        Suggestion::PredictableSubstitutionsDontHelpVeryMuch => "password.suggestion.substitutions",
        Suggestion::UseALongerKeyboardPatternWithMoreTurns => "password.suggestion.keyboard",
        Suggestion::AvoidRepeatedWordsAndCharacters => "password.suggestion.repeats",
        Suggestion::AvoidSequences => "password.suggestion.sequences",
        Suggestion::AvoidRecentYears
        | Suggestion::AvoidYearsThatAreAssociatedWithYou
        | Suggestion::AvoidDatesAndYearsThatAreAssociatedWithYou => "password.suggestion.dates",
    }
}

/// The pieces of personal values worth looking for: whole values and, for an email address,
/// its local part split at punctuation with trailing digits dropped.
fn personal_pieces(personal: &[&str]) -> Vec<String> {
    let mut pieces = Vec::new();
    for value in personal {
        let v = value.trim().to_lowercase();
        if v.is_empty() {
            continue;
        }
        if let Some((local, _)) = v.split_once('@') {
            pieces.push(local.to_string());
            for part in local.split(['.', '_', '-', '+']) {
                pieces.push(part.to_string());
                pieces.push(
                    part.trim_end_matches(|c: char| c.is_ascii_digit())
                        .to_string(),
                );
            }
        }
        pieces.push(v);
    }
    pieces.retain(|p| p.chars().count() >= 3);
    pieces.sort_by_key(|p| std::cmp::Reverse(p.len()));
    pieces.dedup();
    pieces
}

/// Checks a new password and its confirmation against the rule.
pub fn check(password: &str, confirm: &str, personal: &[&str]) -> Result<(), PasswordProblem> {
    check_with(password, confirm, personal, MIN_CHARS)
}

/// [`check`] with another least length (staff passwords have 15).
pub fn check_with(
    password: &str,
    confirm: &str,
    personal: &[&str],
    min_chars: usize,
) -> Result<(), PasswordProblem> {
    let chars = password.chars().count();
    if chars == 0 {
        return Err(PasswordProblem::Empty);
    }
    if chars < min_chars {
        return Err(PasswordProblem::TooShort);
    }
    if chars > MAX_CHARS {
        return Err(PasswordProblem::TooLong);
    }
    if password != confirm {
        return Err(PasswordProblem::Mismatch);
    }
    let pieces = personal_pieces(personal);
    let mut rest = password.to_lowercase();
    for piece in &pieces {
        rest = rest.replace(piece.as_str(), "");
    }
    if rest.chars().count() < MIN_REST {
        return Err(PasswordProblem::Personal);
    }
    let head: String = password.chars().take(ESTIMATE_CHARS).collect();
    let inputs: Vec<&str> = pieces.iter().map(String::as_str).collect();
    let estimate = zxcvbn::zxcvbn(&head, &inputs);
    if u8::from(estimate.score()) >= MIN_SCORE {
        return Ok(());
    }
    let feedback = estimate.feedback();
    Err(PasswordProblem::Weak {
        warning: feedback.and_then(|f| f.warning()).map(warning_key),
        suggestion: feedback
            .and_then(|f| f.suggestions().first().copied())
            .map(suggestion_key),
    })
}

/// The refusal as a sentence or two in the visitor's language.
pub fn message(tr: Tr, problem: &PasswordProblem) -> String {
    message_with(tr, problem, MIN_CHARS)
}

/// [`message`] for a rule with another least length.
pub fn message_with(tr: Tr, problem: &PasswordProblem, min_chars: usize) -> String {
    match problem {
        PasswordProblem::Empty => tr.t("password.error.empty").to_string(),
        PasswordProblem::TooShort => tr
            .t("password.error.too_short")
            .replace("{min}", &min_chars.to_string()),
        PasswordProblem::TooLong => tr.t("password.error.too_long").to_string(),
        PasswordProblem::Mismatch => tr.t("password.error.mismatch").to_string(),
        PasswordProblem::Personal => tr.t("password.error.personal").to_string(),
        PasswordProblem::Weak {
            warning,
            suggestion,
        } => {
            let mut text = tr.t("password.error.weak").to_string();
            for key in [warning, suggestion].into_iter().flatten() {
                text.push(' ');
                text.push_str(tr.t(key));
            }
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: [&str; 3] = ["鏑木", "カブラギ", "mizuho.kaburagi1@example.jp"];

    #[test]
    fn length_bounds_and_confirmation() {
        assert_eq!(check("", "", &ME), Err(PasswordProblem::Empty));
        assert_eq!(
            check("short pass", "short pass", &ME),
            Err(PasswordProblem::TooShort)
        );
        let long = "あ".repeat(1025);
        assert_eq!(check(&long, &long, &ME), Err(PasswordProblem::TooLong));
        assert_eq!(
            check("Tsuki no Usagi ga hashiru 42", "other", &ME),
            Err(PasswordProblem::Mismatch)
        );
    }

    #[test]
    fn weak_and_personal_passwords_are_refused_with_a_reason() {
        assert!(matches!(
            check("password1234", "password1234", &ME),
            Err(PasswordProblem::Weak { .. })
        ));
        assert_eq!(
            check("kaburagimizuho1987", "kaburagimizuho1987", &ME),
            Err(PasswordProblem::Personal)
        );
        assert_eq!(
            check(
                "Tsuki no Usagi ga hashiru 42",
                "Tsuki no Usagi ga hashiru 42",
                &ME
            ),
            Ok(())
        );
        // Japanese passphrases count characters, not bytes.
        assert_eq!(
            check(
                "月夜の兎が跳ねる坂道と古い灯台",
                "月夜の兎が跳ねる坂道と古い灯台",
                &ME
            ),
            Ok(())
        );
    }
}
