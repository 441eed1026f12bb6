//! Food labelling a Japanese shopper looks for before buying: the allergens that the Food
//! Labelling Standard (食品表示基準, 別表第十四) makes mandatory to declare.

/// One of the eight 特定原材料 whose presence a food label must declare (くるみ joined the list
/// in 2023). The twenty "recommended" ones (特定原材料に準ずるもの) are free text beside them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Allergen {
    /// えび
    Shrimp,
    /// かに
    Crab,
    /// くるみ
    Walnut,
    /// 小麦
    Wheat,
    /// そば
    Buckwheat,
    /// 卵
    Egg,
    /// 乳
    Milk,
    /// 落花生
    Peanut,
}

impl Allergen {
    /// Every mandatory allergen, in the order labels list them.
    pub const ALL: [Allergen; 8] = [
        Allergen::Shrimp,
        Allergen::Crab,
        Allergen::Walnut,
        Allergen::Wheat,
        Allergen::Buckwheat,
        Allergen::Egg,
        Allergen::Milk,
        Allergen::Peanut,
    ];

    /// A stable snake_case code: stored, used in form field names and translation keys.
    pub fn code(self) -> &'static str {
        match self {
            Allergen::Shrimp => "shrimp",
            Allergen::Crab => "crab",
            Allergen::Walnut => "walnut",
            Allergen::Wheat => "wheat",
            Allergen::Buckwheat => "buckwheat",
            Allergen::Egg => "egg",
            Allergen::Milk => "milk",
            Allergen::Peanut => "peanut",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.code() == code)
    }
}

/// What a food's label says of the mandatory allergens.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AllergenStatement {
    /// Nothing said (not a food, or not filled in yet): a page shows no allergen line.
    #[default]
    NotStated,
    /// None of the eight is used: said explicitly, never inferred from an empty list.
    NoneOfTheEight,
    /// These are contained, in [`Allergen::ALL`] order, without repeats.
    Contains(Vec<Allergen>),
}

impl AllergenStatement {
    /// The stored form: `""`, `"none"` or codes joined by commas.
    pub fn code(&self) -> String {
        match self {
            Self::NotStated => String::new(),
            Self::NoneOfTheEight => "none".into(),
            Self::Contains(list) => list.iter().map(|a| a.code()).collect::<Vec<_>>().join(","),
        }
    }

    /// Reads the stored form; `None` when it names something unknown.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "" => Some(Self::NotStated),
            "none" => Some(Self::NoneOfTheEight),
            list => {
                let mut found = Vec::new();
                for code in list.split(',') {
                    found.push(Allergen::parse(code.trim())?);
                }
                Some(Self::contains(found))
            }
        }
    }

    /// The allergens in label order, without repeats; no allergen at all is "not stated".
    pub fn contains(mut list: Vec<Allergen>) -> Self {
        list.sort();
        list.dedup();
        if list.is_empty() {
            Self::NotStated
        } else {
            Self::Contains(list)
        }
    }

    pub fn is_stated(&self) -> bool {
        *self != Self::NotStated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_round_trip_in_label_order() {
        let s = AllergenStatement::contains(vec![Allergen::Milk, Allergen::Egg, Allergen::Milk]);
        assert_eq!(s.code(), "egg,milk");
        assert_eq!(AllergenStatement::parse("egg,milk"), Some(s));
        assert_eq!(
            AllergenStatement::parse("none"),
            Some(AllergenStatement::NoneOfTheEight)
        );
        assert_eq!(
            AllergenStatement::parse(""),
            Some(AllergenStatement::NotStated)
        );
        assert_eq!(AllergenStatement::parse("egg,soy"), None);
        assert_eq!(Allergen::ALL.len(), 8);
        for a in Allergen::ALL {
            assert_eq!(Allergen::parse(a.code()), Some(a));
        }
    }
}
