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

/// The ways people type an address or a phone number into a form, for one synthetic customer:
/// the stored forms of [`profile`] and the variants a real form receives (block, building and
/// room numbers in one line, rural 番地 and Hokkaido 条 addresses, full-width digits, the
/// long-vowel mark or a full-width hyphen for `-`, landlines, `+81`, extensions). Used by
/// `kura bench-card` to count how many real inputs the card-number guard would refuse.
pub struct TypedFields {
    pub addresses: Vec<String>,
    pub phones: Vec<String>,
    pub postal_codes: Vec<String>,
    /// Not a real field: an address line ending in a room number and a phone number typed
    /// together in one field, the hardest case for the guard (reported, not a goal).
    pub address_and_phone: Vec<String>,
}

const BUILDINGS: &[&str] = &[
    "コーポ",
    "サンハイツ",
    "グランドメゾン",
    "パークマンション",
    "レジデンス",
    "ハイツ",
];
const RURAL: &[&str] = &["大字上野", "字中島", "大字本郷", "字北原"];

/// Full-width digits, `－` for `-` and the ideographic space for a space, as an input method
/// in full-width mode types them.
fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(c as u32 - '0' as u32 + '０' as u32).unwrap_or(c),
            '-' => '－',
            ' ' => '\u{3000}',
            _ => c,
        })
        .collect()
}

/// `-` typed as the long-vowel mark `ー`, as happens in kana mode.
fn long_vowel_hyphens(s: &str) -> String {
    s.replace('-', "ー")
}

pub fn typed_fields(rng: &mut Rng, p: &CustomerProfile) -> TypedFields {
    let town = rng.pick(TOWNS).copied().unwrap_or("本町");
    let building = rng.pick(BUILDINGS).copied().unwrap_or("コーポ");
    let rural = rng.pick(RURAL).copied().unwrap_or("大字上野");
    let chome = 1 + rng.below(9);
    let ban = 1 + rng.below(60);
    let go = 1 + rng.below(40);
    let floor = 1 + rng.below(30);
    let room = floor * 100 + 1 + rng.below(20);
    let banchi = 1 + rng.below(3000);
    let edaban = 1 + rng.below(20);
    let jo = 1 + rng.below(25);
    let blocks = format!("{chome}-{ban}-{go}");

    let mut addresses = vec![p.person.address1.as_str().to_string()];
    if let Some(a2) = &p.person.address2 {
        addresses.push(a2.as_str().to_string());
    }
    let lines = [
        format!("{town}{blocks}"),
        format!("{town}{chome}丁目{ban}番{go}号"),
        format!("{town}{chome}丁目{ban}番地{go}"),
        format!("{town}{blocks} {building}{room}"),
        format!("{town}{blocks} {building} {room}号室"),
        format!("{town}{blocks}-{room}"),
        format!("{town}{blocks} {room}"),
        format!("{blocks} {room}"),
        format!("{blocks}-{room}"),
        format!("{building} {room}"),
        format!("{building}{room}号室"),
        format!("{room}号室"),
        format!("{room}"),
        format!("{building} {floor}F"),
        format!("{rural}{banchi}番地{edaban}"),
        format!("{rural}{banchi}-{edaban}"),
        format!("{banchi}-{edaban} {room}"),
        format!("北{jo}条西{chome}丁目{ban}-{go}"),
        format!("北{jo}条西{chome}-{ban}-{go} {room}"),
    ];
    for line in lines {
        addresses.push(full_width(&line));
        addresses.push(long_vowel_hyphens(&line));
        addresses.push(line);
    }

    let phone = p.person.phone.as_str();
    let (area, rest) = phone.split_at(3.min(phone.len()));
    let (middle, last) = rest.split_at(4.min(rest.len()));
    let national = area.strip_prefix('0').unwrap_or(area);
    let landline = match rng.below(4) {
        0 => format!("03-{:04}-{:04}", rng.below(10_000), rng.below(10_000)),
        1 => format!("06-{:04}-{:04}", rng.below(10_000), rng.below(10_000)),
        2 => format!(
            "0{}-{:03}-{:04}",
            11 + rng.below(89),
            rng.below(1000),
            rng.below(10_000)
        ),
        _ => format!(
            "0{}-{:02}-{:04}",
            111 + rng.below(889),
            rng.below(100),
            rng.below(10_000)
        ),
    };
    let extension = 1 + rng.below(9999);
    let mut phones = vec![phone.to_string()];
    let forms = [
        format!("{area}-{middle}-{last}"),
        format!("{area} {middle} {last}"),
        format!("({area}){middle}-{last}"),
        format!("+81 {national}-{middle}-{last}"),
        format!("+81-{national}-{middle}-{last}"),
        format!("+81{national}{middle}{last}"),
        format!("+81 (0){national}-{middle}-{last}"),
        landline.clone(),
        landline.replace('-', ""),
        format!("{landline} 内線{extension}"),
        format!("{landline}(内線 {extension})"),
        format!("{landline} ext. {extension}"),
    ];
    for form in forms {
        phones.push(full_width(&form));
        phones.push(long_vowel_hyphens(&form));
        phones.push(form);
    }

    let postal = p.person.postal_code.as_str();
    let (head, tail) = postal.split_at(3.min(postal.len()));
    let postal_codes = vec![
        postal.to_string(),
        format!("{head}-{tail}"),
        format!("〒{head}-{tail}"),
        full_width(&format!("{head}-{tail}")),
        format!(
            "〒{head}-{tail} {}{town}{blocks} {room}",
            p.person.prefecture.name_ja()
        ),
    ];
    let address_and_phone = vec![
        format!("{town}{blocks} {room} {area}-{middle}-{last}"),
        format!("{blocks}-{room} {landline}"),
    ];
    TypedFields {
        addresses,
        phones,
        postal_codes,
        address_and_phone,
    }
}
