//! Synthetic customers for demos and benchmarks: believable Japanese profiles from a seeded
//! generator, sealed exactly like real ones.

use kura_domain::{
    AddressLine, CustomerProfile, Email, Gender, Kana, Person, PersonName, Phone, PostalCode,
    Prefecture,
};

const FAMILY: &[(&str, &str)] = &[
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
    ("佐々木", "ササキ"),
    ("山口", "ヤマグチ"),
    ("松本", "マツモト"),
    ("井上", "イノウエ"),
    ("木村", "キムラ"),
    ("林", "ハヤシ"),
    ("斎藤", "サイトウ"),
    ("清水", "シミズ"),
];
const GIVEN: &[(&str, &str)] = &[
    ("太郎", "タロウ"),
    ("花子", "ハナコ"),
    ("翔太", "ショウタ"),
    ("美咲", "ミサキ"),
    ("健一", "ケンイチ"),
    ("陽子", "ヨウコ"),
    ("大輔", "ダイスケ"),
    ("由美", "ユミ"),
    ("拓也", "タクヤ"),
    ("愛", "アイ"),
    ("誠", "マコト"),
    ("恵子", "ケイコ"),
    ("直樹", "ナオキ"),
    ("さくら", "サクラ"),
    ("隆", "タカシ"),
    ("真由美", "マユミ"),
    ("浩", "ヒロシ"),
    ("千尋", "チヒロ"),
    ("悠斗", "ユウト"),
    ("結衣", "ユイ"),
];
const TOWNS: &[&str] = &[
    "中央区本町",
    "北区栄町",
    "南区緑が丘",
    "東区旭町",
    "西区桜台",
    "青葉区若葉",
    "港区海岸通",
    "緑区平和台",
];

/// A small, fast, seeded generator (SplitMix64); not for secrets.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % (n.max(1) as u64)).unwrap_or(0)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }
}

/// The `n`th synthetic customer of a generator (deterministic for a given seed).
pub fn profile(rng: &mut Rng, n: u64) -> anyhow::Result<CustomerProfile> {
    let (family, family_kana) = rng.pick(FAMILY).copied().unwrap_or(("山田", "ヤマダ"));
    let (given, given_kana) = rng.pick(GIVEN).copied().unwrap_or(("太郎", "タロウ"));
    let pref = Prefecture::try_from(u8::try_from(rng.below(47) + 1).unwrap_or(13))?;
    let town = rng.pick(TOWNS).copied().unwrap_or("本町");
    Ok(CustomerProfile {
        person: Person {
            family_name: PersonName::parse(family)?,
            given_name: PersonName::parse(given)?,
            family_name_kana: Kana::parse(family_kana)?,
            given_name_kana: Kana::parse(given_kana)?,
            postal_code: PostalCode::parse(&format!(
                "{:03}{:04}",
                100 + rng.below(800),
                rng.below(10_000)
            ))?,
            prefecture: pref,
            address1: AddressLine::parse(&format!(
                "{town}{}丁目{}-{}",
                1 + rng.below(5),
                1 + rng.below(30),
                1 + rng.below(20)
            ))?,
            address2: if rng.below(3) == 0 {
                Some(AddressLine::parse(&format!(
                    "コーポ{}号室",
                    101 + rng.below(400)
                ))?)
            } else {
                None
            },
            phone: Phone::parse(&format!(
                "0{}0{:08}",
                7 + rng.below(3),
                rng.below(100_000_000)
            ))?,
        },
        email: Email::parse(&format!("customer{n}@example.jp"))?,
        birth_date: None,
        gender: match rng.below(4) {
            0 => Some(Gender::Female),
            1 => Some(Gender::Male),
            _ => None,
        },
    })
}
