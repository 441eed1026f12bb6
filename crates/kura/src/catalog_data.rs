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
            image: "hot-water-pot",
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
            image: "lunch-jar",
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
            desc_en: "A two-tier lunch box, microwave and dishwasher safe.",
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
            image: "rice-bag",
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
            image: "tea",
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
            image: "soup",
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
            image: "rice-bag",
            tax: TaxRate::Reduced,
            variants: vec![("1KG", "1kg", "1 kg", 1_404, 40)],
        },
    ];
    v.extend(PARTS.iter().map(|p| Item {
        slug: p.slug,
        category: "parts",
        ja: p.ja,
        en: p.en,
        desc_ja: p.desc_ja,
        desc_en: p.desc_en,
        image: p.image,
        tax: TaxRate::Standard,
        variants: vec![(p.code, "標準", "Standard", p.price, 25)],
    }));
    v
}

/// A spare part: one standard variant, 25 in stock; its description names what it fits.
struct Part {
    slug: &'static str,
    ja: &'static str,
    en: &'static str,
    desc_ja: &'static str,
    desc_en: &'static str,
    image: &'static str,
    /// The variant's SKU suffix.
    code: &'static str,
    price: i64,
}

/// Spare parts: an inner pot for each cooker size, lid gaskets, packings and stoppers for the
/// bottles and jars, and a few accessories.
const PARTS: &[Part] = &[
    Part {
        slug: "inner-pot-kamado-3",
        ja: "内釜（かまど炊き 3合用）",
        en: "Inner pot (Kamado, 3 cups)",
        desc_ja: "圧力IH炊飯器 かまど炊き 3合炊き（RC-K03）専用の内釜です。内面のふっ素加工がはがれてきたら、交換をおすすめします。",
        desc_en: "Inner pot for the Pressure IH rice cooker Kamado, 3 cups (RC-K03). Replace it when the non-stick coating starts to wear.",
        image: "inner-pot",
        code: "KP3",
        price: 6_600,
    },
    Part {
        slug: "inner-pot-kamado-55",
        ja: "内釜（かまど炊き 5.5合用）",
        en: "Inner pot (Kamado, 5.5 cups)",
        desc_ja: "圧力IH炊飯器 かまど炊き 5.5合炊き（RC-K55）専用の内釜です。内面のふっ素加工がはがれてきたら、交換をおすすめします。",
        desc_en: "Inner pot for the Pressure IH rice cooker Kamado, 5.5 cups (RC-K55). Replace it when the non-stick coating starts to wear.",
        image: "inner-pot",
        code: "KP55",
        price: 8_800,
    },
    Part {
        slug: "inner-pot-kamado-10",
        ja: "内釜（かまど炊き 1升用）",
        en: "Inner pot (Kamado, 10 cups)",
        desc_ja: "圧力IH炊飯器 かまど炊き 1升炊き（RC-K10）専用の内釜です。内面のふっ素加工がはがれてきたら、交換をおすすめします。",
        desc_en: "Inner pot for the Pressure IH rice cooker Kamado, 10 cups (RC-K10). Replace it when the non-stick coating starts to wear.",
        image: "inner-pot",
        code: "KP10",
        price: 11_000,
    },
    Part {
        slug: "inner-pot-simple-3",
        ja: "内釜（シンプル 3合用）",
        en: "Inner pot (Simple, 3 cups)",
        desc_ja: "IH炊飯器 シンプル 3合炊き（RC-S03）専用の内釜です。内面のふっ素加工がはがれてきたら、交換をおすすめします。",
        desc_en: "Inner pot for the IH rice cooker Simple, 3 cups (RC-S03). Replace it when the non-stick coating starts to wear.",
        image: "inner-pot",
        code: "SP3",
        price: 4_400,
    },
    Part {
        slug: "inner-pot-simple-55",
        ja: "内釜（シンプル 5.5合用）",
        en: "Inner pot (Simple, 5.5 cups)",
        desc_ja: "IH炊飯器 シンプル 5.5合炊き（RC-S55）専用の内釜です。内面のふっ素加工がはがれてきたら、交換をおすすめします。",
        desc_en: "Inner pot for the IH rice cooker Simple, 5.5 cups (RC-S55). Replace it when the non-stick coating starts to wear.",
        image: "inner-pot",
        code: "SP55",
        price: 5_500,
    },
    Part {
        slug: "inner-pot-micom",
        ja: "内釜（ひとり暮らし用）",
        en: "Inner pot (for one)",
        desc_ja: "マイコン炊飯器 ひとり暮らし（RC-M03）専用の内釜です。ホワイト・ブラックどちらにも使えます。",
        desc_en: "Inner pot for the Micom rice cooker for one (RC-M03), white or black.",
        image: "inner-pot",
        code: "MP3",
        price: 3_300,
    },
    Part {
        slug: "lid-gasket-kamado",
        ja: "内ぶたパッキン（かまど炊き用）",
        en: "Lid gasket (Kamado)",
        desc_ja: "圧力IH炊飯器 かまど炊き（RC-K03／RC-K55／RC-K10）の内ぶたに取り付けるパッキンです。3合・5.5合・1升炊きに共通です。",
        desc_en: "Gasket for the inner lid of the Pressure IH rice cooker Kamado (RC-K03/RC-K55/RC-K10); the same for all three sizes.",
        image: "gasket",
        code: "KG",
        price: 990,
    },
    Part {
        slug: "lid-gasket-simple",
        ja: "内ぶたパッキン（シンプル用）",
        en: "Lid gasket (Simple)",
        desc_ja: "IH炊飯器 シンプル（RC-S03／RC-S55）の内ぶたに取り付けるパッキンです。3合・5.5合炊きに共通です。",
        desc_en: "Gasket for the inner lid of the IH rice cooker Simple (RC-S03/RC-S55); the same for both sizes.",
        image: "gasket",
        code: "SG",
        price: 770,
    },
    Part {
        slug: "lid-gasket-micom",
        ja: "内ぶたパッキン（ひとり暮らし用）",
        en: "Lid gasket (for one)",
        desc_ja: "マイコン炊飯器 ひとり暮らし（RC-M03）の内ぶたに取り付けるパッキンです。",
        desc_en: "Gasket for the inner lid of the Micom rice cooker for one (RC-M03).",
        image: "gasket",
        code: "MG",
        price: 660,
    },
    Part {
        slug: "steam-cap",
        ja: "蒸気口キャップ",
        en: "Steam vent cap",
        desc_ja: "IH炊飯器 シンプル（RC-S03／RC-S55）とマイコン炊飯器 ひとり暮らし（RC-M03）の蒸気口キャップです。取り外して丸洗いできます。",
        desc_en: "Steam vent cap for the IH rice cooker Simple (RC-S03/RC-S55) and the Micom rice cooker for one (RC-M03). It comes off for washing.",
        image: "steam-cap",
        code: "SC",
        price: 550,
    },
    Part {
        slug: "bottle-packing-light",
        ja: "せんパッキン（ライト用）",
        en: "Stopper packing (Light)",
        desc_ja: "真空断熱ケータイマグ ライト（VB-L35／VB-L50）専用のせんパッキンです。ボトルから飲み物がもれるときや、パッキンが伸びたときに交換してください。",
        desc_en: "Stopper packing for the Vacuum travel mug Light (VB-L35/VB-L50). Replace it when the bottle leaks or the packing has stretched.",
        image: "gasket",
        code: "BPL",
        price: 330,
    },
    Part {
        slug: "bottle-packing-sport",
        ja: "せんパッキン（スポーツ用）",
        en: "Stopper packing (Sport)",
        desc_ja: "真空断熱スポーツボトル（VB-S80／VB-S100）専用のせんパッキンです。800ml・1.0Lに共通です。",
        desc_en: "Stopper packing for the Vacuum sports bottle (VB-S80/VB-S100); the same for the 800 ml and 1.0 L.",
        image: "gasket",
        code: "BPS",
        price: 330,
    },
    Part {
        slug: "bottle-stopper-classic",
        ja: "せんユニット（クラシック用）",
        en: "Stopper unit (Classic)",
        desc_ja: "真空断熱ボトル クラシック（VB-C100／VB-C150）専用のせんユニットです。1.0L・1.5Lに共通で、コップは付属しません。",
        desc_en: "Complete stopper for the Vacuum bottle Classic (VB-C100/VB-C150); fits both the 1.0 L and 1.5 L. The cup is not included.",
        image: "bottle-stopper",
        code: "BSC",
        price: 1_100,
    },
    Part {
        slug: "jar-lid-packing",
        ja: "フードジャー フタパッキン",
        en: "Food jar lid packing",
        desc_ja: "真空断熱フードジャー（FJ-30／FJ-40／FJ-50）のフタ用パッキンです。フードジャー ワイド（FJ-W52）には使えません。",
        desc_en: "Lid packing for the Vacuum food jar (FJ-30/FJ-40/FJ-50). It does not fit the Food jar Wide (FJ-W52).",
        image: "gasket",
        code: "JLP",
        price: 440,
    },
    Part {
        slug: "kettle-filter",
        ja: "電気ケトル 茶こしフィルター",
        en: "Kettle filter",
        desc_ja: "電気ケトル ドリップ（KT-D08／KT-D12）の注ぎ口の内側に取り付けるフィルターです。湯あかが注ぎ口から出るのを防ぎます。",
        desc_en: "Filter that fits inside the spout of the Electric kettle Drip (KT-D08/KT-D12); it keeps scale out of your cup.",
        image: "kettle-filter",
        code: "KF",
        price: 660,
    },
    Part {
        slug: "pot-lid-unit",
        ja: "給湯ポット フタユニット",
        en: "Hot-water pot lid unit",
        desc_ja: "電動給湯ポット（HP-V30／HP-V40）用のフタ一式です。3.0L・4.0Lに共通です。",
        desc_en: "Complete lid for the Electric hot-water pot (HP-V30/HP-V40); the same for the 3.0 L and 4.0 L.",
        image: "hot-water-pot",
        code: "PLU",
        price: 2_200,
    },
    Part {
        slug: "lunch-jar-packing",
        ja: "ランチジャー パッキンセット",
        en: "Lunch jar packing set",
        desc_ja: "保温弁当箱 ランチジャー（LJ-S06／LJ-L09）のパッキンセットです。ごはん容器用とおかず容器用が1個ずつ入っています。",
        desc_en: "Packing set for the Insulated lunch jar (LJ-S06/LJ-L09): one for the rice container and one for the side-dish container.",
        image: "gasket",
        code: "LJP",
        price: 550,
    },
    Part {
        slug: "rice-scoop",
        ja: "しゃもじ（内釜用）",
        en: "Rice paddle",
        desc_ja: "表面のエンボス加工でごはんがくっつきにくいしゃもじです。内釜のふっ素加工を傷めにくい樹脂製で、当社の炊飯器すべてにお使いいただけます。",
        desc_en: "A rice paddle with an embossed surface that rice does not stick to. Its resin is gentle on non-stick inner pots; for any of our rice cookers.",
        image: "rice-paddle",
        code: "RS",
        price: 330,
    },
    Part {
        slug: "measuring-cup",
        ja: "計量カップ（1合）",
        en: "Measuring cup (1 go)",
        desc_ja: "1合（180ml）を量る計量カップです。当社の炊飯器の水位線は、このカップで量った合数に合わせてあります。",
        desc_en: "A measuring cup for 1 go (180 ml), the Japanese rice measure. The water lines in our rice cookers are marked in cups of this size.",
        image: "measuring-cup",
        code: "MC",
        price: 220,
    },
    Part {
        slug: "bottle-pouch",
        ja: "ボトルポーチ",
        en: "Bottle pouch",
        desc_ja: "真空断熱ケータイマグ ライト（VB-L35／VB-L50）がすっぽり入るショルダーストラップ付きのポーチです。ボトルを傷やへこみから守ります。",
        desc_en: "A pouch with a shoulder strap that fits the Vacuum travel mug Light (VB-L35/VB-L50) and keeps the bottle safe from scratches and dents.",
        image: "bottle-pouch",
        code: "BP",
        price: 1_320,
    },
];

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

/// A product with a model number and specifications, not a food.
fn specified(model_number: &str, specs: Vec<Spec>) -> ProductDetails {
    ProductDetails {
        model_number: model_number.into(),
        specs,
        food: FoodDetails::default(),
    }
}

fn power_supply() -> Spec {
    spec(
        "電源",
        "Power supply",
        "AC100V 50/60Hz",
        "100 V AC, 50/60 Hz",
    )
}

fn warranty() -> Spec {
    spec(
        "保証期間",
        "Warranty",
        "お買い上げ日から1年",
        "1 year from purchase",
    )
}

/// The products a spare part fits, by name and model number.
fn fits(value_ja: &str, value_en: &str) -> Spec {
    spec("対応機種", "Fits", value_ja, value_en)
}

fn material(value_ja: &str, value_en: &str) -> Spec {
    spec("材質", "Material", value_ja, value_en)
}

fn weight(value_ja: &str, value_en: &str) -> Spec {
    spec("質量", "Weight", value_ja, value_en)
}

fn size(value_ja: &str, value_en: &str) -> Spec {
    spec(
        "外形寸法（幅×奥行×高さ）",
        "Size (W × D × H)",
        value_ja,
        value_en,
    )
}

fn round_size(value_ja: &str, value_en: &str) -> Spec {
    spec(
        "外形寸法（直径×高さ）",
        "Size (diameter × height)",
        value_ja,
        value_en,
    )
}

/// 保温効力 and 保冷効力: the temperature a full bottle keeps after the hours stated.
fn keeps_hot(value_ja: &str, value_en: &str) -> Spec {
    spec("保温効力", "Heat retention", value_ja, value_en)
}

fn keeps_cold(value_ja: &str, value_en: &str) -> Spec {
    spec("保冷効力", "Cold retention", value_ja, value_en)
}

fn silicone() -> Spec {
    material("シリコーンゴム", "Silicone rubber")
}

fn replace_yearly() -> Spec {
    spec(
        "交換の目安",
        "When to replace",
        "1年に1回程度。においや汚れが取れない、伸びや切れがあるときはお早めに。",
        "About once a year, or sooner if it smells, stays stained, stretches or tears.",
    )
}

/// The model numbers of the cookers, for the accessories that fit all of them.
const ALL_COOKERS_JA: &str =
    "当社の炊飯器 全機種（RC-K03／RC-K55／RC-K10／RC-S03／RC-S55／RC-M03／RC-D55）";
const ALL_COOKERS_EN: &str =
    "All our rice cookers (RC-K03, RC-K55, RC-K10, RC-S03, RC-S55, RC-M03, RC-D55)";

/// 品番, specifications and, for food, the label's facts of every demo product: what a
/// Japanese shopper reads before deciding. Sizes that differ per variant are given per size.
fn details(slug: &str) -> ProductDetails {
    match slug {
        // Rice cookers.
        "ih-rice-cooker-kamado" => specified(
            "RC-K03/RC-K55/RC-K10",
            vec![
                spec(
                    "炊飯容量",
                    "Rice capacity",
                    "3合炊き（RC-K03）：0.09〜0.54L（0.5〜3合）／5.5合炊き（RC-K55）：0.09〜1.0L（0.5〜5.5合）／1升炊き（RC-K10）：0.18〜1.8L（1〜10合）",
                    "3 cups (RC-K03): 0.09–0.54 L (0.5–3 cups); 5.5 cups (RC-K55): 0.09–1.0 L (0.5–5.5 cups); 10 cups (RC-K10): 0.18–1.8 L (1–10 cups)",
                ),
                spec("加熱方式", "Heating", "圧力IH", "Pressure induction heating (IH)"),
                spec(
                    "消費電力",
                    "Power consumption",
                    "3合：700W／5.5合：1200W／1升：1370W",
                    "3 cups: 700 W; 5.5 cups: 1200 W; 10 cups: 1370 W",
                ),
                power_supply(),
                size(
                    "3合：約235×300×195mm／5.5合：約260×335×215mm／1升：約290×370×250mm",
                    "3 cups: about 235 × 300 × 195 mm; 5.5 cups: about 260 × 335 × 215 mm; 10 cups: about 290 × 370 × 250 mm",
                ),
                weight(
                    "3合：約4.3kg／5.5合：約5.4kg／1升：約6.6kg",
                    "3 cups: about 4.3 kg; 5.5 cups: about 5.4 kg; 10 cups: about 6.6 kg",
                ),
                spec("保温", "Keep warm", "最長40時間", "up to 40 hours"),
                spec(
                    "コードの長さ",
                    "Cord length",
                    "約1.0m",
                    "about 1.0 m",
                ),
                warranty(),
            ],
        ),
        "ih-rice-cooker-simple" => specified(
            "RC-S03/RC-S55",
            vec![
                spec(
                    "炊飯容量",
                    "Rice capacity",
                    "3合炊き（RC-S03）：0.09〜0.54L（0.5〜3合）／5.5合炊き（RC-S55）：0.09〜1.0L（0.5〜5.5合）",
                    "3 cups (RC-S03): 0.09–0.54 L (0.5–3 cups); 5.5 cups (RC-S55): 0.09–1.0 L (0.5–5.5 cups)",
                ),
                spec("加熱方式", "Heating", "IH", "Induction heating (IH)"),
                spec(
                    "消費電力",
                    "Power consumption",
                    "3合：610W／5.5合：1000W",
                    "3 cups: 610 W; 5.5 cups: 1000 W",
                ),
                power_supply(),
                size(
                    "3合：約225×275×185mm／5.5合：約255×320×205mm",
                    "3 cups: about 225 × 275 × 185 mm; 5.5 cups: about 255 × 320 × 205 mm",
                ),
                weight(
                    "3合：約3.0kg／5.5合：約3.8kg",
                    "3 cups: about 3.0 kg; 5.5 cups: about 3.8 kg",
                ),
                spec("保温", "Keep warm", "最長24時間", "up to 24 hours"),
                spec("コードの長さ", "Cord length", "約1.0m", "about 1.0 m"),
                warranty(),
            ],
        ),
        "micom-rice-cooker" => specified(
            "RC-M03",
            vec![
                spec(
                    "炊飯容量",
                    "Rice capacity",
                    "0.09〜0.54L（0.5〜3合）",
                    "0.09–0.54 L (0.5–3 cups)",
                ),
                spec(
                    "加熱方式",
                    "Heating",
                    "マイコン（底面ヒーター）",
                    "Microcomputer-controlled bottom heater",
                ),
                spec("消費電力", "Power consumption", "350W", "350 W"),
                power_supply(),
                size("約215×260×185mm", "about 215 × 260 × 185 mm"),
                weight("約2.3kg", "about 2.3 kg"),
                spec("保温", "Keep warm", "最長12時間", "up to 12 hours"),
                spec("コードの長さ", "Cord length", "約1.0m", "about 1.0 m"),
                warranty(),
            ],
        ),
        "donabe-rice-cooker" => specified(
            "RC-D55",
            vec![
                spec(
                    "炊飯容量",
                    "Rice capacity",
                    "0.09〜1.0L（0.5〜5.5合）",
                    "0.09–1.0 L (0.5–5.5 cups)",
                ),
                spec(
                    "加熱方式",
                    "Heating",
                    "土鍋IH",
                    "Induction heating of a clay pot",
                ),
                spec(
                    "なべ",
                    "Pot",
                    "三重県四日市市の萬古焼（ばんこやき）の本土鍋",
                    "Real clay pot, Banko ware from Yokkaichi, Mie",
                ),
                spec("消費電力", "Power consumption", "1250W", "1250 W"),
                power_supply(),
                size("約285×350×230mm", "about 285 × 350 × 230 mm"),
                weight("約8.1kg", "about 8.1 kg"),
                spec("保温", "Keep warm", "最長12時間", "up to 12 hours"),
                spec(
                    "保証期間",
                    "Warranty",
                    "本体：お買い上げ日から1年／土鍋のひび割れ：3年",
                    "Body: 1 year from purchase; cracks in the clay pot: 3 years",
                ),
            ],
        ),
        // Vacuum bottles and tumblers.
        "vacuum-bottle-light" => specified(
            "VB-L35/VB-L50",
            vec![
                spec(
                    "容量",
                    "Capacity",
                    "0.35L（VB-L35）／0.5L（VB-L50）",
                    "0.35 L (VB-L35) / 0.5 L (VB-L50)",
                ),
                keeps_hot(
                    "350ml：65度以上（6時間）／500ml：69度以上（6時間）",
                    "350 ml: 65 °C or more after 6 hours; 500 ml: 69 °C or more after 6 hours",
                ),
                keeps_cold(
                    "350ml：9度以下（6時間）／500ml：8度以下（6時間）",
                    "350 ml: 9 °C or less after 6 hours; 500 ml: 8 °C or less after 6 hours",
                ),
                size(
                    "350ml：約70×65×185mm／500ml：約70×65×220mm",
                    "350 ml: about 70 × 65 × 185 mm; 500 ml: about 70 × 65 × 220 mm",
                ),
                weight(
                    "350ml：約180g／500ml：約210g",
                    "350 ml: about 180 g; 500 ml: about 210 g",
                ),
                material(
                    "本体：ステンレス鋼（外面ポリエステル塗装）／フタ：ポリプロピレン、シリコーンゴム",
                    "Body: stainless steel, polyester-coated outside; lid: polypropylene, silicone rubber",
                ),
                warranty(),
            ],
        ),
        "vacuum-bottle-sport" => specified(
            "VB-S80/VB-S100",
            vec![
                spec(
                    "容量",
                    "Capacity",
                    "0.8L（VB-S80）／1.0L（VB-S100）",
                    "0.8 L (VB-S80) / 1.0 L (VB-S100)",
                ),
                keeps_cold(
                    "800ml：8度以下（6時間）／1.0L：7度以下（6時間）",
                    "800 ml: 8 °C or less after 6 hours; 1.0 L: 7 °C or less after 6 hours",
                ),
                spec(
                    "保温",
                    "Hot drinks",
                    "不可（保冷専用）",
                    "Not for hot drinks (cold only)",
                ),
                size(
                    "800ml：約95×90×265mm／1.0L：約95×90×305mm",
                    "800 ml: about 95 × 90 × 265 mm; 1.0 L: about 95 × 90 × 305 mm",
                ),
                weight(
                    "800ml：約390g／1.0L：約440g",
                    "800 ml: about 390 g; 1.0 L: about 440 g",
                ),
                material(
                    "本体：ステンレス鋼（外面ポリエステル塗装）／フタ：ポリプロピレン、シリコーンゴム",
                    "Body: stainless steel, polyester-coated outside; lid: polypropylene, silicone rubber",
                ),
                warranty(),
            ],
        ),
        "vacuum-bottle-classic" => specified(
            "VB-C100/VB-C150",
            vec![
                spec(
                    "容量",
                    "Capacity",
                    "1.0L（VB-C100）／1.5L（VB-C150）",
                    "1.0 L (VB-C100) / 1.5 L (VB-C150)",
                ),
                keeps_hot(
                    "1.0L：77度以上（6時間）／1.5L：80度以上（6時間）",
                    "1.0 L: 77 °C or more after 6 hours; 1.5 L: 80 °C or more after 6 hours",
                ),
                keeps_cold(
                    "1.0L：8度以下（6時間）／1.5L：7度以下（6時間）",
                    "1.0 L: 8 °C or less after 6 hours; 1.5 L: 7 °C or less after 6 hours",
                ),
                size(
                    "1.0L：約105×95×300mm／1.5L：約115×105×345mm（コップを含む）",
                    "1.0 L: about 105 × 95 × 300 mm; 1.5 L: about 115 × 105 × 345 mm (with the cup)",
                ),
                weight(
                    "1.0L：約560g／1.5L：約700g",
                    "1.0 L: about 560 g; 1.5 L: about 700 g",
                ),
                material(
                    "本体・コップ：ステンレス鋼／せん：ポリプロピレン、シリコーンゴム",
                    "Body and cup: stainless steel; stopper: polypropylene, silicone rubber",
                ),
                warranty(),
            ],
        ),
        "tumbler-stainless" => specified(
            "TB-S34/TB-S45",
            vec![
                spec(
                    "容量",
                    "Capacity",
                    "0.34L（TB-S34）／0.45L（TB-S45）",
                    "0.34 L (TB-S34) / 0.45 L (TB-S45)",
                ),
                keeps_hot(
                    "340ml：60度以上（1時間）／450ml：62度以上（1時間）",
                    "340 ml: 60 °C or more after 1 hour; 450 ml: 62 °C or more after 1 hour",
                ),
                keeps_cold(
                    "340ml：9度以下（1時間）／450ml：8度以下（1時間）",
                    "340 ml: 9 °C or less after 1 hour; 450 ml: 8 °C or less after 1 hour",
                ),
                round_size(
                    "340ml：約80×110mm／450ml：約85×130mm",
                    "340 ml: about 80 × 110 mm; 450 ml: about 85 × 130 mm",
                ),
                weight(
                    "340ml：約210g／450ml：約250g",
                    "340 ml: about 210 g; 450 ml: about 250 g",
                ),
                material("ステンレス鋼", "Stainless steel"),
                warranty(),
            ],
        ),
        "tumbler-lid" => specified(
            "TB-L36",
            vec![
                spec("容量", "Capacity", "0.36L", "0.36 L"),
                keeps_hot("65度以上（1時間）", "65 °C or more after 1 hour"),
                keeps_cold("8度以下（1時間）", "8 °C or less after 1 hour"),
                round_size(
                    "約85×135mm（フタを含む）",
                    "about 85 × 135 mm (with the lid)",
                ),
                weight("約260g", "about 260 g"),
                material(
                    "本体：ステンレス鋼／フタ：ポリプロピレン、シリコーンゴム",
                    "Body: stainless steel; lid: polypropylene, silicone rubber",
                ),
                warranty(),
            ],
        ),
        // Kettles and the hot-water pot.
        "electric-kettle-drip" => specified(
            "KT-D08/KT-D12",
            vec![
                spec(
                    "容量",
                    "Capacity",
                    "0.8L（KT-D08）／1.2L（KT-D12）",
                    "0.8 L (KT-D08) / 1.2 L (KT-D12)",
                ),
                spec(
                    "消費電力",
                    "Power consumption",
                    "0.8L：1200W／1.2L：1300W",
                    "0.8 L: 1200 W; 1.2 L: 1300 W",
                ),
                power_supply(),
                spec(
                    "温度調節",
                    "Temperature settings",
                    "5段階（60・70・80・90・100度）",
                    "5 settings (60, 70, 80, 90 and 100 °C)",
                ),
                spec("保温", "Keep warm", "最長60分", "up to 60 minutes"),
                size(
                    "0.8L：約290×150×190mm／1.2L：約305×165×215mm",
                    "0.8 L: about 290 × 150 × 190 mm; 1.2 L: about 305 × 165 × 215 mm",
                ),
                weight(
                    "0.8L：約0.9kg／1.2L：約1.1kg",
                    "0.8 L: about 0.9 kg; 1.2 L: about 1.1 kg",
                ),
                spec("コードの長さ", "Cord length", "約1.2m", "about 1.2 m"),
                warranty(),
            ],
        ),
        "electric-kettle-safe" => specified(
            "KT-S10",
            vec![
                spec("容量", "Capacity", "1.0L", "1.0 L"),
                spec("消費電力", "Power consumption", "1250W", "1250 W"),
                power_supply(),
                spec("質量", "Weight", "約1.1kg", "about 1.1 kg"),
                size("約220×160×205mm", "about 220 × 160 × 205 mm"),
                spec(
                    "安全設計",
                    "Safety",
                    "転倒湯もれ防止、給湯ロック、空だき防止、本体二重構造（外側が熱くなりにくい）",
                    "Spills little if tipped over; pour lock; boil-dry protection; double wall that stays cool outside",
                ),
                spec("コードの長さ", "Cord length", "約1.3m", "about 1.3 m"),
                warranty(),
            ],
        ),
        "electric-pot" => specified(
            "HP-V30/HP-V40",
            vec![
                spec(
                    "容量",
                    "Capacity",
                    "3.0L（HP-V30）／4.0L（HP-V40）",
                    "3.0 L (HP-V30) / 4.0 L (HP-V40)",
                ),
                spec(
                    "消費電力",
                    "Power consumption",
                    "湯わかし時 905W",
                    "905 W while boiling",
                ),
                spec(
                    "年間消費電力量",
                    "Annual energy use",
                    "3.0L：約230kWh／4.0L：約255kWh",
                    "3.0 L: about 230 kWh; 4.0 L: about 255 kWh",
                ),
                power_supply(),
                spec(
                    "保温温度",
                    "Keep-warm settings",
                    "98・90・80・70度の4段階",
                    "4 settings: 98, 90, 80 and 70 °C",
                ),
                spec(
                    "給湯方式",
                    "Dispensing",
                    "電動（停電時はエアー給湯）",
                    "Electric pump; manual air pump during power cuts",
                ),
                size(
                    "3.0L：約220×285×270mm／4.0L：約220×285×300mm",
                    "3.0 L: about 220 × 285 × 270 mm; 4.0 L: about 220 × 285 × 300 mm",
                ),
                weight(
                    "3.0L：約2.6kg／4.0L：約2.8kg",
                    "3.0 L: about 2.6 kg; 4.0 L: about 2.8 kg",
                ),
                warranty(),
            ],
        ),
        // Food jars and lunch boxes.
        "food-jar" => specified(
            "FJ-30/FJ-40/FJ-50",
            vec![
                spec(
                    "容量",
                    "Capacity",
                    "0.3L（FJ-30）／0.4L（FJ-40）／0.5L（FJ-50）",
                    "0.3 L (FJ-30) / 0.4 L (FJ-40) / 0.5 L (FJ-50)",
                ),
                keeps_hot(
                    "300ml：54度以上／400ml：57度以上／500ml：60度以上（いずれも6時間）",
                    "300 ml: 54 °C or more; 400 ml: 57 °C or more; 500 ml: 60 °C or more (each after 6 hours)",
                ),
                keeps_cold(
                    "300ml：13度以下／400ml：12度以下／500ml：11度以下（いずれも6時間）",
                    "300 ml: 13 °C or less; 400 ml: 12 °C or less; 500 ml: 11 °C or less (each after 6 hours)",
                ),
                round_size(
                    "300ml：約90×115mm／400ml：約90×135mm／500ml：約100×150mm",
                    "300 ml: about 90 × 115 mm; 400 ml: about 90 × 135 mm; 500 ml: about 100 × 150 mm",
                ),
                weight(
                    "300ml：約270g／400ml：約300g／500ml：約330g",
                    "300 ml: about 270 g; 400 ml: about 300 g; 500 ml: about 330 g",
                ),
                material(
                    "本体：ステンレス鋼／フタ：ポリプロピレン、シリコーンゴム",
                    "Body: stainless steel; lid: polypropylene, silicone rubber",
                ),
                warranty(),
            ],
        ),
        "food-jar-wide" => specified(
            "FJ-W52",
            vec![
                spec("容量", "Capacity", "0.52L", "0.52 L"),
                spec("口径", "Mouth", "約8.5cm", "about 8.5 cm across"),
                keeps_hot("62度以上（6時間）", "62 °C or more after 6 hours"),
                keeps_cold("10度以下（6時間）", "10 °C or less after 6 hours"),
                round_size("約105×130mm", "about 105 × 130 mm"),
                weight("約360g", "about 360 g"),
                material(
                    "本体：ステンレス鋼／フタ：ポリプロピレン、シリコーンゴム",
                    "Body: stainless steel; lid: polypropylene, silicone rubber",
                ),
                warranty(),
            ],
        ),
        "lunch-jar" => specified(
            "LJ-S06/LJ-L09",
            vec![
                spec(
                    "容量",
                    "Capacity",
                    "Sサイズ（LJ-S06）：ごはん約330ml・おかず約270ml／Lサイズ（LJ-L09）：ごはん約490ml・おかず約410ml",
                    "Small (LJ-S06): rice about 330 ml, side dishes about 270 ml; Large (LJ-L09): rice about 490 ml, side dishes about 410 ml",
                ),
                spec(
                    "保温効力（ごはん容器）",
                    "Heat retention (rice)",
                    "S：58度以上（6時間）／L：60度以上（6時間）",
                    "Small: 58 °C or more after 6 hours; Large: 60 °C or more after 6 hours",
                ),
                round_size(
                    "S：約105×200mm／L：約115×235mm",
                    "Small: about 105 × 200 mm; Large: about 115 × 235 mm",
                ),
                weight("S：約620g／L：約760g", "Small: about 620 g; Large: about 760 g"),
                material(
                    "外容器：ステンレス鋼／内容器・フタ：ポリプロピレン",
                    "Outer jar: stainless steel; inner containers and lids: polypropylene",
                ),
                spec(
                    "電子レンジ",
                    "Microwave",
                    "内容器のみ可（フタを外して）",
                    "Inner containers only, without their lids",
                ),
                warranty(),
            ],
        ),
        "bento-box" => specified(
            "LB-60",
            vec![
                spec(
                    "容量",
                    "Capacity",
                    "上段 約300ml・下段 約300ml（計約600ml）",
                    "Upper tier about 300 ml, lower tier about 300 ml (about 600 ml in all)",
                ),
                size("約180×100×95mm", "about 180 × 100 × 95 mm"),
                weight("約220g", "about 220 g"),
                material(
                    "本体・中ぶた・ふた：ポリプロピレン／ふたの縁：シリコーンゴム／ベルト：ナイロン",
                    "Boxes and lids: polypropylene; lid rim: silicone rubber; belt: nylon",
                ),
                spec(
                    "耐熱温度",
                    "Heat resistance",
                    "140度（ベルトを除く）",
                    "140 °C (except the belt)",
                ),
                spec(
                    "電子レンジ",
                    "Microwave",
                    "可（ふたとベルトを外して）",
                    "Yes, with the lid and belt taken off",
                ),
                spec("食器洗い乾燥機", "Dishwasher", "可", "Yes"),
            ],
        ),
        // Food (reduced rate): the label's facts.
        "rice" => ProductDetails {
            model_number: "KR-2".into(),
            specs: vec![
                spec("名称", "Product", "精米", "Milled white rice"),
                spec("産地", "Origin", "新潟県", "Niigata Prefecture"),
                spec("品種", "Variety", "コシヒカリ", "Koshihikari"),
                spec(
                    "原料玄米",
                    "Rice used",
                    "単一原料米（新潟県産コシヒカリ100%）",
                    "Single-origin rice (100% Koshihikari from Niigata)",
                ),
                spec(
                    "精米時期",
                    "Milling",
                    "精米年月日は袋に表示しています。精米から2週間以内に発送します。",
                    "The milling date is printed on the bag; we ship within 2 weeks of milling.",
                ),
            ],
            food: FoodDetails {
                ingredients_ja: "うるち米（新潟県産コシヒカリ100%）".into(),
                ingredients_en: "Rice (100% Koshihikari from Niigata)".into(),
                allergens: AllergenStatement::NoneOfTheEight,
                net_contents_ja: "2kg".into(),
                net_contents_en: "2 kg".into(),
                best_before_ja:
                    "精米年月日から夏は約1か月、冬は約2か月を目安にお召し上がりください。".into(),
                best_before_en: "Best eaten within about 1 month of milling in summer, 2 months in winter."
                    .into(),
                storage_ja: "直射日光・高温多湿を避け、涼しい場所で保存してください。開封後は密閉容器に移し、冷蔵庫の野菜室での保存をおすすめします。"
                    .into(),
                storage_en: "Keep in a cool place away from sunlight and humidity. Once opened, move it to an airtight container; the fridge's vegetable drawer is best."
                    .into(),
                ..FoodDetails::default()
            },
        },
        "hojicha" => ProductDetails {
            model_number: "HT-30".into(),
            specs: vec![
                spec(
                    "名称",
                    "Product",
                    "ほうじ茶（ティーバッグ）",
                    "Roasted green tea (tea bags)",
                ),
                spec(
                    "いれ方（水出し）",
                    "Cold brew",
                    "水500mlにティーバッグ1包を入れ、冷蔵庫で約2時間",
                    "1 bag in 500 ml of water, about 2 hours in the fridge",
                ),
                spec(
                    "いれ方（お湯）",
                    "Hot brew",
                    "熱湯200mlにティーバッグ1包を入れ、約1分",
                    "1 bag in 200 ml of boiling water, about 1 minute",
                ),
                spec(
                    "栄養成分表示（抽出液100mlあたり）",
                    "Nutrition (per 100 ml brewed)",
                    "エネルギー 0kcal、たんぱく質 0g、脂質 0g、炭水化物 0.1g、食塩相当量 0g",
                    "Energy 0 kcal, protein 0 g, fat 0 g, carbohydrate 0.1 g, salt equivalent 0 g",
                ),
            ],
            food: FoodDetails {
                ingredients_ja: "緑茶（静岡県産）".into(),
                ingredients_en: "Green tea (Shizuoka)".into(),
                allergens: AllergenStatement::NoneOfTheEight,
                net_contents_ja: "60g（2g×30包）".into(),
                net_contents_en: "60 g (30 bags of 2 g)".into(),
                best_before_ja: "製造日より18か月".into(),
                best_before_en: "18 months from manufacture".into(),
                storage_ja: "高温多湿を避け、移り香にご注意ください。".into(),
                storage_en: "Keep cool and dry, away from strong smells.".into(),
                ..FoodDetails::default()
            },
        },
        "soup-set" => ProductDetails {
            model_number: "SP-6".into(),
            specs: vec![
                spec(
                    "名称",
                    "Product",
                    "乾燥スープ（ポタージュ）",
                    "Dried soup (potage)",
                ),
                spec(
                    "作り方",
                    "To make",
                    "フードジャーまたはカップに1袋を入れ、熱湯150mlを注いでよく混ぜてください。",
                    "Put one bag in a food jar or cup, pour in 150 ml of boiling water and stir well.",
                ),
                spec(
                    "栄養成分表示（1袋15gあたり）",
                    "Nutrition (per 15 g bag)",
                    "エネルギー 56kcal、たんぱく質 1.2g、脂質 0.9g、炭水化物 10.8g、食塩相当量 1.6g",
                    "Energy 56 kcal, protein 1.2 g, fat 0.9 g, carbohydrate 10.8 g, salt equivalent 1.6 g",
                ),
            ],
            food: FoodDetails {
                ingredients_ja: "デキストリン（国内製造）、食塩、乾燥野菜（たまねぎ、にんじん）、小麦粉、\
                                 脱脂粉乳、チキンエキス、酵母エキス、粉末しょうゆ、こしょう、\
                                 （一部に小麦・乳成分・大豆・鶏肉を含む）"
                    .into(),
                ingredients_en: "Dextrin (made in Japan), salt, dried vegetables (onion, carrot), \
                                 wheat flour, skim milk powder, chicken extract, yeast extract, \
                                 soy sauce powder, pepper (contains wheat, milk, soybean and \
                                 chicken)"
                    .into(),
                allergens: AllergenStatement::contains(vec![Allergen::Wheat, Allergen::Milk]),
                allergens_other_ja: "鶏肉・大豆".into(),
                allergens_other_en: "chicken, soybean".into(),
                net_contents_ja: "90g（15g×6袋）".into(),
                net_contents_en: "90 g (6 bags of 15 g)".into(),
                best_before_ja: "製造日より12か月".into(),
                best_before_en: "12 months from manufacture".into(),
                storage_ja: "直射日光・高温多湿を避けて常温で保存してください。".into(),
                storage_en: "Store at room temperature away from sunlight and humidity.".into(),
            },
        },
        "genmai" => ProductDetails {
            model_number: "GM-1".into(),
            specs: vec![
                spec("名称", "Product", "発芽玄米", "Germinated brown rice"),
                spec(
                    "炊き方",
                    "To cook",
                    "炊飯器の玄米モードで炊いてください。白米に混ぜるときは、白米2合に発芽玄米1合が目安です。",
                    "Use your cooker's brown-rice setting. To mix with white rice, use 1 cup of it to 2 cups of white rice.",
                ),
                spec(
                    "栄養成分表示（100gあたり）",
                    "Nutrition (per 100 g)",
                    "エネルギー 353kcal、たんぱく質 6.5g、脂質 3.3g、炭水化物 74.3g、食塩相当量 0g",
                    "Energy 353 kcal, protein 6.5 g, fat 3.3 g, carbohydrate 74.3 g, salt equivalent 0 g",
                ),
            ],
            food: FoodDetails {
                ingredients_ja: "玄米（新潟県産）".into(),
                ingredients_en: "Brown rice (Niigata)".into(),
                allergens: AllergenStatement::NoneOfTheEight,
                net_contents_ja: "1kg".into(),
                net_contents_en: "1 kg".into(),
                best_before_ja: "製造日より8か月".into(),
                best_before_en: "8 months from manufacture".into(),
                storage_ja: "直射日光・高温多湿を避けて常温で保存してください。開封後はチャックを閉めて冷蔵庫に入れ、お早めにお召し上がりください。"
                    .into(),
                storage_en: "Store at room temperature away from sunlight and humidity. Once opened, close the zip, keep it in the fridge and use it soon."
                    .into(),
                ..FoodDetails::default()
            },
        },
        // Spare parts: what each fits, by name and model number.
        "inner-pot-kamado-3" => specified(
            "KP-3",
            vec![
                fits(
                    "圧力IH炊飯器 かまど炊き 3合炊き（RC-K03）",
                    "Pressure IH rice cooker Kamado, 3 cups (RC-K03)",
                ),
                material(
                    "アルミニウム・ステンレス鋼の多層構造（内面ふっ素加工）、厚さ約3mm",
                    "Layered aluminum and stainless steel, non-stick coating inside, about 3 mm thick",
                ),
                round_size("約190×115mm", "about 190 × 115 mm"),
                weight("約1.0kg", "about 1.0 kg"),
            ],
        ),
        "inner-pot-kamado-55" => specified(
            "KP-55",
            vec![
                fits(
                    "圧力IH炊飯器 かまど炊き 5.5合炊き（RC-K55）",
                    "Pressure IH rice cooker Kamado, 5.5 cups (RC-K55)",
                ),
                material(
                    "アルミニウム・ステンレス鋼の多層構造（内面ふっ素加工）、厚さ約3mm",
                    "Layered aluminum and stainless steel, non-stick coating inside, about 3 mm thick",
                ),
                round_size("約220×135mm", "about 220 × 135 mm"),
                weight("約1.3kg", "about 1.3 kg"),
            ],
        ),
        "inner-pot-kamado-10" => specified(
            "KP-10",
            vec![
                fits(
                    "圧力IH炊飯器 かまど炊き 1升炊き（RC-K10）",
                    "Pressure IH rice cooker Kamado, 10 cups (RC-K10)",
                ),
                material(
                    "アルミニウム・ステンレス鋼の多層構造（内面ふっ素加工）、厚さ約3mm",
                    "Layered aluminum and stainless steel, non-stick coating inside, about 3 mm thick",
                ),
                round_size("約250×160mm", "about 250 × 160 mm"),
                weight("約1.7kg", "about 1.7 kg"),
            ],
        ),
        "inner-pot-simple-3" => specified(
            "SP-3",
            vec![
                fits(
                    "IH炊飯器 シンプル 3合炊き（RC-S03）",
                    "IH rice cooker Simple, 3 cups (RC-S03)",
                ),
                material(
                    "アルミニウム・ステンレス鋼（内面ふっ素加工）、厚さ約1.5mm",
                    "Aluminum and stainless steel, non-stick coating inside, about 1.5 mm thick",
                ),
                round_size("約185×110mm", "about 185 × 110 mm"),
                weight("約0.6kg", "about 0.6 kg"),
            ],
        ),
        "inner-pot-simple-55" => specified(
            "SP-55",
            vec![
                fits(
                    "IH炊飯器 シンプル 5.5合炊き（RC-S55）",
                    "IH rice cooker Simple, 5.5 cups (RC-S55)",
                ),
                material(
                    "アルミニウム・ステンレス鋼（内面ふっ素加工）、厚さ約1.5mm",
                    "Aluminum and stainless steel, non-stick coating inside, about 1.5 mm thick",
                ),
                round_size("約215×130mm", "about 215 × 130 mm"),
                weight("約0.8kg", "about 0.8 kg"),
            ],
        ),
        "inner-pot-micom" => specified(
            "MP-3",
            vec![
                fits(
                    "マイコン炊飯器 ひとり暮らし（RC-M03）",
                    "Micom rice cooker for one (RC-M03)",
                ),
                material(
                    "アルミニウム（内面ふっ素加工）",
                    "Aluminum, non-stick coating inside",
                ),
                round_size("約180×105mm", "about 180 × 105 mm"),
                weight("約0.4kg", "about 0.4 kg"),
            ],
        ),
        "lid-gasket-kamado" => specified(
            "KG-1",
            vec![
                fits(
                    "圧力IH炊飯器 かまど炊き 3合炊き（RC-K03）、5.5合炊き（RC-K55）、1升炊き（RC-K10）",
                    "Pressure IH rice cooker Kamado, 3 cups (RC-K03), 5.5 cups (RC-K55) and 10 cups (RC-K10)",
                ),
                silicone(),
                replace_yearly(),
            ],
        ),
        "lid-gasket-simple" => specified(
            "SG-1",
            vec![
                fits(
                    "IH炊飯器 シンプル 3合炊き（RC-S03）、5.5合炊き（RC-S55）",
                    "IH rice cooker Simple, 3 cups (RC-S03) and 5.5 cups (RC-S55)",
                ),
                silicone(),
                replace_yearly(),
            ],
        ),
        "lid-gasket-micom" => specified(
            "MG-1",
            vec![
                fits(
                    "マイコン炊飯器 ひとり暮らし（RC-M03）",
                    "Micom rice cooker for one (RC-M03)",
                ),
                silicone(),
                replace_yearly(),
            ],
        ),
        "steam-cap" => specified(
            "SC-1",
            vec![
                fits(
                    "IH炊飯器 シンプル 3合炊き（RC-S03）、5.5合炊き（RC-S55）、マイコン炊飯器 ひとり暮らし（RC-M03）",
                    "IH rice cooker Simple, 3 cups (RC-S03) and 5.5 cups (RC-S55); Micom rice cooker for one (RC-M03)",
                ),
                material(
                    "ポリプロピレン、シリコーンゴム",
                    "Polypropylene, silicone rubber",
                ),
            ],
        ),
        "bottle-packing-light" => specified(
            "BPL-1",
            vec![
                fits(
                    "真空断熱ケータイマグ ライト（VB-L35／VB-L50）",
                    "Vacuum travel mug Light (VB-L35/VB-L50)",
                ),
                silicone(),
                spec("入数", "Contents", "1個", "1 piece"),
                replace_yearly(),
            ],
        ),
        "bottle-packing-sport" => specified(
            "BPS-1",
            vec![
                fits(
                    "真空断熱スポーツボトル（VB-S80／VB-S100）",
                    "Vacuum sports bottle (VB-S80/VB-S100)",
                ),
                silicone(),
                spec("入数", "Contents", "1個", "1 piece"),
                replace_yearly(),
            ],
        ),
        "bottle-stopper-classic" => specified(
            "BSC-1",
            vec![
                fits(
                    "真空断熱ボトル クラシック（VB-C100／VB-C150）",
                    "Vacuum bottle Classic (VB-C100/VB-C150)",
                ),
                material(
                    "ポリプロピレン、シリコーンゴム",
                    "Polypropylene, silicone rubber",
                ),
                spec(
                    "内容",
                    "Contents",
                    "せん一式（コップは含みません）",
                    "Complete stopper (cup not included)",
                ),
            ],
        ),
        "jar-lid-packing" => specified(
            "JLP-1",
            vec![
                fits(
                    "真空断熱フードジャー（FJ-30／FJ-40／FJ-50）",
                    "Vacuum food jar (FJ-30/FJ-40/FJ-50)",
                ),
                silicone(),
                spec("入数", "Contents", "1個", "1 piece"),
                replace_yearly(),
            ],
        ),
        "kettle-filter" => specified(
            "KF-1",
            vec![
                fits(
                    "電気ケトル ドリップ（KT-D08／KT-D12）",
                    "Electric kettle Drip (KT-D08/KT-D12)",
                ),
                material(
                    "フィルター：ステンレス鋼／枠：ポリプロピレン",
                    "Mesh: stainless steel; frame: polypropylene",
                ),
            ],
        ),
        "pot-lid-unit" => specified(
            "PLU-1",
            vec![
                fits(
                    "電動給湯ポット（HP-V30／HP-V40）",
                    "Electric hot-water pot (HP-V30/HP-V40)",
                ),
                material(
                    "ポリプロピレン、ステンレス鋼、シリコーンゴム",
                    "Polypropylene, stainless steel, silicone rubber",
                ),
                spec(
                    "内容",
                    "Contents",
                    "フタ一式（中ぶた付き）",
                    "Complete lid with its inner lid",
                ),
            ],
        ),
        "lunch-jar-packing" => specified(
            "LJP-1",
            vec![
                fits(
                    "保温弁当箱 ランチジャー Sサイズ（LJ-S06）、Lサイズ（LJ-L09）",
                    "Insulated lunch jar, Small (LJ-S06) and Large (LJ-L09)",
                ),
                silicone(),
                spec(
                    "入数",
                    "Contents",
                    "ごはん容器用・おかず容器用 各1個",
                    "One each for the rice and side-dish containers",
                ),
                replace_yearly(),
            ],
        ),
        "rice-scoop" => specified(
            "RS-1",
            vec![
                fits(ALL_COOKERS_JA, ALL_COOKERS_EN),
                material(
                    "ポリプロピレン（表面エンボス加工）",
                    "Polypropylene, embossed surface",
                ),
                spec(
                    "大きさ",
                    "Size",
                    "約幅75×長さ205mm",
                    "about 75 mm wide, 205 mm long",
                ),
                spec("耐熱温度", "Heat resistance", "120度", "120 °C"),
            ],
        ),
        "measuring-cup" => specified(
            "MC-1",
            vec![
                fits(ALL_COOKERS_JA, ALL_COOKERS_EN),
                spec(
                    "容量",
                    "Capacity",
                    "1合（180ml）、0.5合の目盛り付き",
                    "1 go (180 ml), with a mark at 0.5 go",
                ),
                material("ポリプロピレン", "Polypropylene"),
            ],
        ),
        "bottle-pouch" => specified(
            "BP-1",
            vec![
                fits(
                    "真空断熱ケータイマグ ライト（VB-L35／VB-L50）",
                    "Vacuum travel mug Light (VB-L35/VB-L50)",
                ),
                material(
                    "ポリエステル（内側：発泡ポリエチレン）、ストラップ：ナイロン",
                    "Polyester lined with polyethylene foam; strap: nylon",
                ),
                size("約90×90×235mm", "about 90 × 90 × 235 mm"),
                spec(
                    "ストラップの長さ",
                    "Strap length",
                    "約70〜130cm（調節可）",
                    "about 70–130 cm, adjustable",
                ),
            ],
        ),
        _ => ProductDetails::default(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

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

    /// The model numbers named in a text: words of capital letters, a hyphen and more letters
    /// or digits (RC-K03, SP-6).
    fn model_numbers_in(text: &str) -> Vec<&str> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| {
                w.split_once('-').is_some_and(|(a, b)| {
                    a.len() >= 2
                        && a.bytes().all(|c| c.is_ascii_uppercase())
                        && !b.is_empty()
                        && b.bytes().any(|c| c.is_ascii_digit())
                })
            })
            .collect()
    }

    /// Fails with the fields that are empty or longer than the back office takes, so staff can
    /// save a demo product without retyping it.
    fn fits_the_form(slug: &str, field: &str, text: &str, max: usize) {
        assert!(!text.trim().is_empty(), "{slug}: {field} is empty");
        assert!(
            text.chars().count() <= max,
            "{slug}: {field} is longer than {max} characters"
        );
    }

    /// Japanese text uses full-width brackets, colons and commas.
    fn full_width(slug: &str, text: &str) {
        assert!(
            !text.contains(['(', ')', ':', ',']),
            "{slug}: half-width punctuation in {text}"
        );
    }

    #[test]
    fn every_product_has_a_model_number_specs_or_a_food_label_and_an_image() {
        let products = super::products();
        let mut numbers = BTreeSet::new();
        let mut codes = BTreeSet::new();
        for p in &products {
            let slug = p.slug.as_str();
            let d = &p.details;
            fits_the_form(slug, "model number", &d.model_number, 40);
            assert!(
                numbers.insert(d.model_number.clone()),
                "{slug}: model number {} is used twice",
                d.model_number
            );
            for code in d.model_number.split('/') {
                assert_eq!(model_numbers_in(code), [code], "{slug}: {code}");
                assert!(
                    codes.insert(code.to_string()),
                    "{slug}: {code} is used twice"
                );
            }
            assert!(
                !d.specs.is_empty() || !d.food.is_empty(),
                "{slug} has neither specifications nor food details"
            );
            for s in &d.specs {
                fits_the_form(slug, "spec label", &s.label_ja, 40);
                fits_the_form(slug, "spec label (en)", &s.label_en, 40);
                fits_the_form(slug, &s.label_en, &s.value_ja, 200);
                fits_the_form(slug, &s.label_en, &s.value_en, 200);
                full_width(slug, &s.label_ja);
                full_width(slug, &s.value_ja);
            }
            fits_the_form(slug, "description", &p.description_ja, 5000);
            fits_the_form(slug, "description (en)", &p.description_en, 5000);
            full_width(slug, &p.description_ja);
            let svg = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../kura-web/assets/images")
                .join(format!("{}.svg", p.image));
            let svg = std::fs::read_to_string(&svg)
                .unwrap_or_else(|e| panic!("{slug}: {} cannot be read: {e}", svg.display()));
            assert!(
                svg.starts_with("<svg ") && svg.contains(r#"viewBox="0 0 200 160""#),
                "{slug}: {}.svg",
                p.image
            );
            for bad in ["<script", "<text", "href", "<foreignObject", "url("] {
                assert!(!svg.contains(bad), "{}.svg has {bad}", p.image);
            }
        }
        assert!(numbers.contains("KT-S10") && numbers.contains("SP-6"));
        for p in &products {
            for s in &p.details.specs {
                if s.label_ja != "対応機種" {
                    continue;
                }
                // What a spare part fits names existing products in both languages.
                let ja = model_numbers_in(&s.value_ja);
                assert!(!ja.is_empty(), "{}: {}", p.slug, s.value_ja);
                assert_eq!(ja, model_numbers_in(&s.value_en), "{}", p.slug);
                for code in ja {
                    assert!(codes.contains(code), "{}: no product is {code}", p.slug);
                }
            }
        }
    }

    #[test]
    fn spare_parts_say_what_they_fit() {
        let parts = super::categories()
            .into_iter()
            .find(|c| c.slug == "parts")
            .map(|c| c.id);
        for p in super::products()
            .iter()
            .filter(|p| Some(p.category_id) == parts)
        {
            let fits = p.details.specs.iter().find(|s| s.label_ja == "対応機種");
            let fits = fits.unwrap_or_else(|| panic!("{}: no 対応機種 row", p.slug));
            assert_eq!(fits.label_en, "Fits");
            // An accessory for every cooker says so; any other part names the models.
            if fits.value_ja == super::ALL_COOKERS_JA {
                assert!(p.description_ja.contains("当社の炊飯器"), "{}", p.slug);
                continue;
            }
            let described = model_numbers_in(&p.description_ja);
            for code in model_numbers_in(&fits.value_ja) {
                assert!(
                    described.contains(&code),
                    "{}: the description does not name {code}",
                    p.slug
                );
            }
        }
    }

    #[test]
    fn food_products_carry_their_whole_label() {
        for p in super::products()
            .iter()
            .filter(|p| p.tax == kura_domain::TaxRate::Reduced)
        {
            let slug = p.slug.as_str();
            let f = &p.details.food;
            fits_the_form(slug, "ingredients", &f.ingredients_ja, 1000);
            fits_the_form(slug, "ingredients (en)", &f.ingredients_en, 1000);
            assert!(f.allergens.is_stated(), "{slug}: allergens are not stated");
            fits_the_form(slug, "net contents", &f.net_contents_ja, 100);
            fits_the_form(slug, "net contents (en)", &f.net_contents_en, 100);
            fits_the_form(slug, "best before", &f.best_before_ja, 100);
            fits_the_form(slug, "best before (en)", &f.best_before_en, 100);
            fits_the_form(slug, "storage", &f.storage_ja, 200);
            fits_the_form(slug, "storage (en)", &f.storage_en, 200);
            assert!(f.allergens_other_ja.chars().count() <= 200);
            assert_eq!(
                f.allergens_other_ja.is_empty(),
                f.allergens_other_en.is_empty(),
                "{slug}: other allergens in one language only"
            );
            for text in [
                &f.ingredients_ja,
                &f.net_contents_ja,
                &f.best_before_ja,
                &f.storage_ja,
            ] {
                full_width(slug, text);
            }
        }
    }
}
