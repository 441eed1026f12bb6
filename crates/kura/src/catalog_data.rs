//! The demo catalog: a maker of rice cookers, vacuum bottles, kettles and food jars, with the
//! spare parts they need and a few reduced-rate (8 %) food items.

use kura_app::catalog::{Category, FoodDetails, Product, ProductDetails, Spec, Variant};
use kura_domain::{Allergen, AllergenStatement, TaxRate, Yen};

struct Item {
    slug: &'static str,
    category: &'static str,
    ja: &'static str,
    en: &'static str,
    desc_ja: &'static str,
    desc_en: &'static str,
    image: &'static str,
    tax: TaxRate,
    /// (sku suffix, label ja, label en, price, stock)
    variants: Vec<(&'static str, &'static str, &'static str, i64, i64)>,
}

const CATEGORIES: &[(&str, &str, &str)] = &[
    ("rice-cookers", "炊飯器", "Rice cookers"),
    ("bottles", "真空断熱ボトル", "Vacuum bottles"),
    ("kettles", "電気ケトル", "Electric kettles"),
    (
        "food-jars",
        "フードジャー・弁当箱",
        "Food jars & lunch boxes",
    ),
    ("parts", "交換部品", "Spare parts"),
    ("food", "食品", "Food"),
];

const SIZES_RC: &[(&str, &str, &str, i64, i64)] = &[
    ("3", "3合炊き", "3 cups", 19_800, 12),
    ("55", "5.5合炊き", "5.5 cups", 29_800, 20),
    ("10", "1升炊き", "10 cups", 39_800, 6),
];
const BOTTLE: &[(&str, &str, &str, i64, i64)] = &[
    ("35-WH", "350ml ホワイト", "350 ml white", 2_980, 40),
    ("35-NV", "350ml ネイビー", "350 ml navy", 2_980, 35),
    ("50-WH", "500ml ホワイト", "500 ml white", 3_480, 30),
    ("50-NV", "500ml ネイビー", "500 ml navy", 3_480, 0),
];
const KETTLE: &[(&str, &str, &str, i64, i64)] = &[
    ("08-RD", "0.8L レッド", "0.8 L red", 5_980, 15),
    ("08-BK", "0.8L ブラック", "0.8 L black", 5_980, 15),
    ("12-BK", "1.2L ブラック", "1.2 L black", 7_480, 10),
];
const JAR: &[(&str, &str, &str, i64, i64)] = &[
    ("30", "300ml", "300 ml", 3_280, 25),
    ("40", "400ml", "400 ml", 3_680, 25),
    ("50", "500ml", "500 ml", 4_180, 18),
];

fn items() -> Vec<Item> {
    let mut v = vec![
        Item {
            slug: "ih-rice-cooker-kamado",
            category: "rice-cookers",
            ja: "圧力IH炊飯器 かまど炊き",
            en: "Pressure IH rice cooker Kamado",
            desc_ja: "厚釜と圧力で、かまど炊きのような粒立ちに。保温40時間。",
            desc_en: "A thick pot and pressure give rice the bite of a wood-fired stove. Keeps warm for 40 hours.",
            image: "rice-cooker",
            tax: TaxRate::Standard,
            variants: SIZES_RC.to_vec(),
        },
        Item {
            slug: "ih-rice-cooker-simple",
            category: "rice-cookers",
            ja: "IH炊飯器 シンプル",
            en: "IH rice cooker Simple",
            desc_ja: "毎日のごはんに必要な機能だけ。お手入れは内ぶたと内釜の2点。",
            desc_en: "Just what everyday rice needs. Only the inner lid and pot to wash.",
            image: "rice-cooker",
            tax: TaxRate::Standard,
            variants: vec![
                ("3", "3合炊き", "3 cups", 12_800, 25),
                ("55", "5.5合炊き", "5.5 cups", 16_800, 30),
            ],
        },
        Item {
            slug: "micom-rice-cooker",
            category: "rice-cookers",
            ja: "マイコン炊飯器 ひとり暮らし",
            en: "Micom rice cooker for one",
            desc_ja: "一人分でもおいしく炊ける小型モデル。",
            desc_en: "A small model that cooks even one portion well.",
            image: "rice-cooker",
            tax: TaxRate::Standard,
            variants: vec![
                ("3-WH", "3合 ホワイト", "3 cups white", 8_980, 40),
                ("3-BK", "3合 ブラック", "3 cups black", 8_980, 40),
            ],
        },
        Item {
            slug: "donabe-rice-cooker",
            category: "rice-cookers",
            ja: "土鍋炊飯器 匠",
            en: "Clay-pot rice cooker Takumi",
            desc_ja: "本物の土鍋を使った最上位モデル。数量限定。",
            desc_en: "Our top model with a real clay pot. Limited quantity.",
            image: "rice-cooker",
            tax: TaxRate::Standard,
            variants: vec![("55", "5.5合炊き", "5.5 cups", 89_800, 0)],
        },
        Item {
            slug: "vacuum-bottle-light",
            category: "bottles",
            ja: "真空断熱ケータイマグ ライト",
            en: "Vacuum travel mug Light",
            desc_ja: "軽さ180g。6時間後も熱さが続きます。",
            desc_en: "Only 180 g, still hot after six hours.",
            image: "vacuum-bottle",
            tax: TaxRate::Standard,
            variants: BOTTLE.to_vec(),
        },
        Item {
            slug: "vacuum-bottle-sport",
            category: "bottles",
            ja: "真空断熱スポーツボトル",
            en: "Vacuum sports bottle",
            desc_ja: "ワンタッチで開く直飲みタイプ。保冷専用。",
            desc_en: "Opens with one touch; for cold drinks.",
            image: "vacuum-bottle",
            tax: TaxRate::Standard,
            variants: vec![
                ("80", "800ml", "800 ml", 4_280, 20),
                ("100", "1.0L", "1.0 L", 4_780, 20),
            ],
        },
        Item {
            slug: "vacuum-bottle-classic",
            category: "bottles",
            ja: "真空断熱ボトル クラシック",
            en: "Vacuum bottle Classic",
            desc_ja: "コップ付きの定番。アウトドアに。",
            desc_en: "The classic with a cup, for outdoors.",
            image: "vacuum-bottle",
            tax: TaxRate::Standard,
            variants: vec![
                ("100", "1.0L", "1.0 L", 5_480, 15),
                ("150", "1.5L", "1.5 L", 6_480, 10),
            ],
        },
        Item {
            slug: "tumbler-stainless",
            category: "bottles",
            ja: "真空断熱タンブラー",
            en: "Vacuum tumbler",
            desc_ja: "氷が溶けにくく、結露しません。",
            desc_en: "Ice lasts, and no condensation.",
            image: "tumbler",
            tax: TaxRate::Standard,
            variants: vec![
                ("34", "340ml", "340 ml", 2_480, 50),
                ("45", "450ml", "450 ml", 2_780, 50),
            ],
        },
        Item {
            slug: "tumbler-lid",
            category: "bottles",
            ja: "フタ付きタンブラー",
            en: "Tumbler with lid",
            desc_ja: "こぼれにくいスライド式のフタ付き。",
            desc_en: "With a sliding lid that keeps spills in.",
            image: "tumbler",
            tax: TaxRate::Standard,
            variants: vec![("36", "360ml", "360 ml", 2_980, 30)],
        },
        Item {
            slug: "electric-kettle-drip",
            category: "kettles",
            ja: "電気ケトル ドリップ",
            en: "Electric kettle Drip",
            desc_ja: "細口でハンドドリップに。温度調節5段階。",
            desc_en: "A fine spout for pour-over coffee; five temperature settings.",
            image: "kettle",
            tax: TaxRate::Standard,
            variants: KETTLE.to_vec(),
        },
        Item {
            slug: "electric-kettle-safe",
            category: "kettles",
            ja: "電気ケトル 転倒湯もれ防止",
            en: "Spill-safe electric kettle",
            desc_ja: "倒れてもお湯がこぼれにくい安全設計。",
            desc_en: "Designed so little water spills if it tips over.",
            image: "kettle",
            tax: TaxRate::Standard,
            variants: vec![("10", "1.0L", "1.0 L", 6_980, 20)],
        },
        Item {
            slug: "electric-pot",
            category: "kettles",
            ja: "電動給湯ポット",
            en: "Electric hot-water pot",
            desc_ja: "VE保温で電気代を抑えます。",
            desc_en: "Vacuum-electric keep-warm saves power.",
            image: "kettle",
            tax: TaxRate::Standard,
            variants: vec![
                ("30", "3.0L", "3.0 L", 14_800, 8),
                ("40", "4.0L", "4.0 L", 16_800, 8),
            ],
        },
        Item {
            slug: "food-jar",
            category: "food-jars",
            ja: "真空断熱フードジャー",
            en: "Vacuum food jar",
            desc_ja: "スープやおかゆを温かいまま。",
            desc_en: "Keeps soup and rice porridge warm.",
            image: "food-jar",
            tax: TaxRate::Standard,
            variants: JAR.to_vec(),
        },
        Item {
            slug: "food-jar-wide",
            category: "food-jars",
            ja: "フードジャー ワイド",
            en: "Food jar Wide",
            desc_ja: "口が広く、洗いやすい。",
            desc_en: "A wide mouth that is easy to wash.",
            image: "food-jar",
            tax: TaxRate::Standard,
            variants: vec![("52", "520ml", "520 ml", 4_480, 15)],
        },
        Item {
            slug: "lunch-jar",
            category: "food-jars",
            ja: "保温弁当箱 ランチジャー",
            en: "Insulated lunch jar",
            desc_ja: "ごはんもおかずも温かく。",
            desc_en: "Rice and side dishes stay warm.",
            image: "lunch-box",
            tax: TaxRate::Standard,
            variants: vec![
                ("S", "Sサイズ", "Small", 5_480, 12),
                ("L", "Lサイズ", "Large", 5_980, 12),
            ],
        },
        Item {
            slug: "bento-box",
            category: "food-jars",
            ja: "2段弁当箱",
            en: "Two-tier bento box",
            desc_ja: "電子レンジ対応、食洗機対応。",
            desc_en: "Microwave and dishwasher safe.",
            image: "lunch-box",
            tax: TaxRate::Standard,
            variants: vec![
                ("RD", "レッド", "Red", 1_980, 40),
                ("BK", "ブラック", "Black", 1_980, 40),
            ],
        },
        Item {
            slug: "rice",
            category: "food",
            ja: "特選 コシヒカリ 2kg",
            en: "Koshihikari rice 2 kg",
            desc_ja: "炊飯器の開発に使っている新潟県産コシヒカリ。",
            desc_en: "The Niigata Koshihikari we test our cookers with.",
            image: "food-jar",
            tax: TaxRate::Reduced,
            variants: vec![("2KG", "2kg", "2 kg", 1_980, 60)],
        },
        Item {
            slug: "hojicha",
            category: "food",
            ja: "ほうじ茶 ティーバッグ 30包",
            en: "Roasted green tea, 30 bags",
            desc_ja: "ボトルで水出しできるティーバッグ。",
            desc_en: "Tea bags that steep cold in a bottle.",
            image: "tumbler",
            tax: TaxRate::Reduced,
            variants: vec![("30", "30包", "30 bags", 864, 80)],
        },
        Item {
            slug: "soup-set",
            category: "food",
            ja: "フードジャー用 スープの素 6食",
            en: "Soup mix for food jars, 6 servings",
            desc_ja: "お湯を注ぐだけ。",
            desc_en: "Just add hot water.",
            image: "food-jar",
            tax: TaxRate::Reduced,
            variants: vec![("6", "6食", "6 servings", 1_296, 50)],
        },
        Item {
            slug: "genmai",
            category: "food",
            ja: "発芽玄米 1kg",
            en: "Germinated brown rice 1 kg",
            desc_ja: "炊飯器の玄米モードで。",
            desc_en: "For the brown-rice setting of your cooker.",
            image: "food-jar",
            tax: TaxRate::Reduced,
            variants: vec![("1KG", "1kg", "1 kg", 1_404, 40)],
        },
    ];
    // Spare parts: an inner pot and a lid gasket for each cooker size, packings for bottles.
    let parts: &[(
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        i64,
    )] = &[
        (
            "inner-pot-kamado-3",
            "内釜（かまど炊き 3合用）",
            "Inner pot (Kamado, 3 cups)",
            "inner-pot",
            "KP3",
            "標準",
            6_600,
        ),
        (
            "inner-pot-kamado-55",
            "内釜（かまど炊き 5.5合用）",
            "Inner pot (Kamado, 5.5 cups)",
            "inner-pot",
            "KP55",
            "標準",
            8_800,
        ),
        (
            "inner-pot-kamado-10",
            "内釜（かまど炊き 1升用）",
            "Inner pot (Kamado, 10 cups)",
            "inner-pot",
            "KP10",
            "標準",
            11_000,
        ),
        (
            "inner-pot-simple-3",
            "内釜（シンプル 3合用）",
            "Inner pot (Simple, 3 cups)",
            "inner-pot",
            "SP3",
            "標準",
            4_400,
        ),
        (
            "inner-pot-simple-55",
            "内釜（シンプル 5.5合用）",
            "Inner pot (Simple, 5.5 cups)",
            "inner-pot",
            "SP55",
            "標準",
            5_500,
        ),
        (
            "inner-pot-micom",
            "内釜（ひとり暮らし用）",
            "Inner pot (for one)",
            "inner-pot",
            "MP3",
            "標準",
            3_300,
        ),
        (
            "lid-gasket-kamado",
            "内ぶたパッキン（かまど炊き用）",
            "Lid gasket (Kamado)",
            "gasket",
            "KG",
            "標準",
            990,
        ),
        (
            "lid-gasket-simple",
            "内ぶたパッキン（シンプル用）",
            "Lid gasket (Simple)",
            "gasket",
            "SG",
            "標準",
            770,
        ),
        (
            "lid-gasket-micom",
            "内ぶたパッキン（ひとり暮らし用）",
            "Lid gasket (for one)",
            "gasket",
            "MG",
            "標準",
            660,
        ),
        (
            "steam-cap",
            "蒸気口キャップ",
            "Steam vent cap",
            "gasket",
            "SC",
            "標準",
            550,
        ),
        (
            "bottle-packing-light",
            "せんパッキン（ライト用）",
            "Stopper packing (Light)",
            "gasket",
            "BPL",
            "標準",
            330,
        ),
        (
            "bottle-packing-sport",
            "せんパッキン（スポーツ用）",
            "Stopper packing (Sport)",
            "gasket",
            "BPS",
            "標準",
            330,
        ),
        (
            "bottle-stopper-classic",
            "せんユニット（クラシック用）",
            "Stopper unit (Classic)",
            "gasket",
            "BSC",
            "標準",
            1_100,
        ),
        (
            "jar-lid-packing",
            "フードジャー フタパッキン",
            "Food jar lid packing",
            "gasket",
            "JLP",
            "標準",
            440,
        ),
        (
            "kettle-filter",
            "電気ケトル 茶こしフィルター",
            "Kettle filter",
            "gasket",
            "KF",
            "標準",
            660,
        ),
        (
            "pot-lid-unit",
            "給湯ポット フタユニット",
            "Hot-water pot lid unit",
            "gasket",
            "PLU",
            "標準",
            2_200,
        ),
        (
            "lunch-jar-packing",
            "ランチジャー パッキンセット",
            "Lunch jar packing set",
            "gasket",
            "LJP",
            "標準",
            550,
        ),
        (
            "rice-scoop",
            "しゃもじ（内釜用）",
            "Rice paddle",
            "gasket",
            "RS",
            "標準",
            330,
        ),
        (
            "measuring-cup",
            "計量カップ（1合）",
            "Measuring cup (1 go)",
            "gasket",
            "MC",
            "標準",
            220,
        ),
        (
            "bottle-pouch",
            "ボトルポーチ",
            "Bottle pouch",
            "vacuum-bottle",
            "BP",
            "標準",
            1_320,
        ),
    ];
    let spare: Vec<Item> = parts
        .iter()
        .map(|(slug, ja, en, image, code, label, price)| {
            let variants = vec![(*code, *label, "Standard", *price, 25)];
            Item {
                slug,
                category: "parts",
                ja,
                en,
                desc_ja: "純正の交換部品です。型番をご確認のうえお求めください。",
                desc_en: "A genuine spare part. Please check your model before ordering.",
                image,
                tax: TaxRate::Standard,
                variants,
            }
        })
        .collect();
    v.extend(spare);
    v
}

pub fn categories() -> Vec<Category> {
    CATEGORIES
        .iter()
        .enumerate()
        .map(|(i, (slug, ja, en))| Category {
            id: i64::try_from(i).unwrap_or(0) + 1,
            slug: (*slug).into(),
            name_ja: (*ja).into(),
            name_en: (*en).into(),
            position: i64::try_from(i).unwrap_or(0),
        })
        .collect()
}

pub fn products() -> Vec<Product> {
    let categories = categories();
    items()
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let id = 1000 + i64::try_from(i).unwrap_or(0);
            let prefix: String = item
                .slug
                .split('-')
                .map(|w| w.chars().next().unwrap_or('X').to_ascii_uppercase())
                .collect();
            Product {
                id,
                slug: item.slug.into(),
                category_id: categories
                    .iter()
                    .find(|c| c.slug == item.category)
                    .map_or(1, |c| c.id),
                name_ja: item.ja.into(),
                name_en: item.en.into(),
                description_ja: item.desc_ja.into(),
                description_en: item.desc_en.into(),
                tax: item.tax,
                image: item.image.into(),
                position: i64::try_from(i).unwrap_or(0),
                variants: item
                    .variants
                    .iter()
                    .enumerate()
                    .map(|(j, (code, ja, en, price, stock))| Variant {
                        id: id * 100 + i64::try_from(j).unwrap_or(0),
                        product_id: id,
                        sku: format!("{prefix}-{code}"),
                        label_ja: (*ja).into(),
                        label_en: (*en).into(),
                        price: Yen(*price),
                        stock: *stock,
                        position: i64::try_from(j).unwrap_or(0),
                    })
                    .collect(),
                active: true,
                photo: None,
                details: details(item.slug),
            }
        })
        .collect()
}

fn spec(label_ja: &str, label_en: &str, value_ja: &str, value_en: &str) -> Spec {
    Spec {
        label_ja: label_ja.into(),
        label_en: label_en.into(),
        value_ja: value_ja.into(),
        value_en: value_en.into(),
    }
}

/// 品番, specifications and food labelling of a few demo products, so the product page's
/// tables can be seen.
fn details(slug: &str) -> ProductDetails {
    match slug {
        "electric-kettle-safe" => ProductDetails {
            model_number: "KT-S10".into(),
            specs: vec![
                spec("容量", "Capacity", "1.0L", "1.0 L"),
                spec("消費電力", "Power", "1250W", "1250 W"),
                spec("電源", "Power supply", "AC100V 50/60Hz", ""),
                spec("質量", "Weight", "約1.1kg", "about 1.1 kg"),
            ],
            food: FoodDetails::default(),
        },
        "soup-set" => ProductDetails {
            model_number: "SP-6".into(),
            specs: Vec::new(),
            food: FoodDetails {
                ingredients_ja:
                    "デキストリン(国内製造)、食塩、乾燥野菜(たまねぎ、にんじん)、小麦粉、\
                                 脱脂粉乳、チキンエキス、酵母エキス、こしょう"
                        .into(),
                ingredients_en: "Dextrin (made in Japan), salt, dried vegetables (onion, carrot), \
                                 wheat flour, skim milk powder, chicken extract, yeast extract, \
                                 pepper"
                    .into(),
                allergens: AllergenStatement::contains(vec![Allergen::Wheat, Allergen::Milk]),
                allergens_other_ja: "鶏肉・大豆".into(),
                allergens_other_en: "chicken, soybean".into(),
                net_contents_ja: "90g(15g×6袋)".into(),
                net_contents_en: "90 g (6 bags of 15 g)".into(),
                best_before_ja: "製造日より12か月".into(),
                best_before_en: "12 months from manufacture".into(),
                storage_ja: "直射日光・高温多湿を避けて常温で保存してください。".into(),
                storage_en: "Store at room temperature away from sunlight and humidity.".into(),
            },
        },
        "hojicha" => ProductDetails {
            model_number: String::new(),
            specs: Vec::new(),
            food: FoodDetails {
                ingredients_ja: "緑茶(静岡県産)".into(),
                ingredients_en: "Green tea (Shizuoka)".into(),
                allergens: AllergenStatement::NoneOfTheEight,
                net_contents_ja: "60g(2g×30包)".into(),
                net_contents_en: "60 g (30 bags of 2 g)".into(),
                best_before_ja: "製造日より18か月".into(),
                best_before_en: "18 months from manufacture".into(),
                storage_ja: "高温多湿を避け、移り香にご注意ください。".into(),
                storage_en: "Keep cool and dry, away from strong smells.".into(),
                ..FoodDetails::default()
            },
        },
        _ => ProductDetails::default(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn about_forty_products_with_unique_skus() {
        let products = super::products();
        assert!((35..=45).contains(&products.len()), "{}", products.len());
        let mut skus: Vec<String> = products
            .iter()
            .flat_map(|p| p.variants.iter().map(|v| v.sku.clone()))
            .collect();
        let n = skus.len();
        skus.sort();
        skus.dedup();
        assert_eq!(skus.len(), n, "SKUs are unique");
        assert!(
            products
                .iter()
                .any(|p| p.tax == kura_domain::TaxRate::Reduced)
        );
        assert!(
            products.iter().any(|p| !p.in_stock()),
            "one product is sold out"
        );
    }
}
