//! `kura bench-search`: how well the storefront search finds what shoppers type, on the demo
//! catalog and a fixed list of 30 queries with the products a shopper typing each one wants.
//!
//! The list was written before the search was changed (kana folding, synonyms, model numbers
//! without hyphens, ranking by name), so the figure before and after compares like with like.
//! Precision is the share of the first page's results that are wanted (a query that finds
//! nothing while something was wanted scores 0); recall the share of the wanted products on
//! the first page; "top hit" whether the first result is wanted.

use std::sync::Arc;

use kura_app::catalog::{Catalog, PAGE_SIZE};

const BOTTLES: &[&str] = &[
    "vacuum-bottle-light",
    "vacuum-bottle-sport",
    "vacuum-bottle-classic",
];
const BOTTLE_PARTS: &[&str] = &[
    "bottle-packing-light",
    "bottle-packing-sport",
    "bottle-stopper-classic",
    "bottle-pouch",
];
const KETTLES: &[&str] = &[
    "electric-kettle-drip",
    "electric-kettle-safe",
    "kettle-filter",
];
const COOKERS: &[&str] = &[
    "ih-rice-cooker-kamado",
    "ih-rice-cooker-simple",
    "micom-rice-cooker",
    "donabe-rice-cooker",
];
const INNER_POTS: &[&str] = &[
    "inner-pot-kamado-3",
    "inner-pot-kamado-55",
    "inner-pot-kamado-10",
    "inner-pot-simple-3",
    "inner-pot-simple-55",
    "inner-pot-micom",
];
const PACKINGS: &[&str] = &[
    "lid-gasket-kamado",
    "lid-gasket-simple",
    "lid-gasket-micom",
    "bottle-packing-light",
    "bottle-packing-sport",
    "jar-lid-packing",
    "lunch-jar-packing",
];
const FOOD_JARS: &[&str] = &["food-jar", "food-jar-wide", "jar-lid-packing", "soup-set"];
const LUNCH: &[&str] = &["bento-box", "lunch-jar", "lunch-jar-packing"];

/// One query of the fixed list and the products wanted for it (several groups joined).
pub struct Query {
    pub text: &'static str,
    pub wanted: &'static [&'static [&'static str]],
}

/// The fixed list (do not edit to flatter a change: add a second list instead).
pub const QUERIES: [Query; 30] = [
    Query {
        text: "ボトル",
        wanted: &[BOTTLES, BOTTLE_PARTS],
    },
    Query {
        text: "ぼとる",
        wanted: &[BOTTLES, BOTTLE_PARTS],
    },
    Query {
        text: "ﾎﾞﾄﾙ",
        wanted: &[BOTTLES, BOTTLE_PARTS],
    },
    Query {
        text: "bottle",
        wanted: &[BOTTLES, BOTTLE_PARTS],
    },
    Query {
        text: "水筒",
        wanted: &[BOTTLES, BOTTLE_PARTS],
    },
    Query {
        text: "ケトル",
        wanted: &[KETTLES],
    },
    Query {
        text: "けとる",
        wanted: &[KETTLES],
    },
    Query {
        text: "kettle",
        wanted: &[KETTLES],
    },
    Query {
        text: "ポット",
        wanted: &[
            &["electric-pot", "pot-lid-unit"],
            &["electric-kettle-drip", "electric-kettle-safe"],
        ],
    },
    Query {
        text: "電気ポット",
        wanted: &[&["electric-pot", "pot-lid-unit"]],
    },
    Query {
        text: "炊飯器",
        wanted: &[COOKERS],
    },
    Query {
        text: "すいはんき",
        wanted: &[COOKERS],
    },
    Query {
        text: "rice cooker",
        wanted: &[COOKERS],
    },
    Query {
        text: "内釜",
        wanted: &[INNER_POTS],
    },
    Query {
        text: "うちがま",
        wanted: &[INNER_POTS],
    },
    Query {
        text: "パッキン",
        wanted: &[PACKINGS],
    },
    Query {
        text: "ぱっきん",
        wanted: &[PACKINGS],
    },
    Query {
        text: "KT-S10",
        wanted: &[&["electric-kettle-safe"]],
    },
    Query {
        text: "kts10",
        wanted: &[&["electric-kettle-safe"]],
    },
    Query {
        text: "SP-6",
        wanted: &[&["soup-set"]],
    },
    Query {
        text: "フードジャー",
        wanted: &[FOOD_JARS],
    },
    Query {
        text: "ふーどじゃー",
        wanted: &[FOOD_JARS],
    },
    Query {
        text: "弁当箱",
        wanted: &[LUNCH],
    },
    Query {
        text: "lunch box",
        wanted: &[LUNCH],
    },
    Query {
        text: "タンブラー",
        wanted: &[&["tumbler-stainless", "tumbler-lid"]],
    },
    Query {
        text: "お茶",
        wanted: &[&["hojicha"]],
    },
    Query {
        text: "米",
        wanted: &[&["rice", "genmai"]],
    },
    Query {
        text: "土鍋",
        wanted: &[&["donabe-rice-cooker"]],
    },
    Query {
        text: "vacuum bottle",
        wanted: &[BOTTLES],
    },
    Query {
        text: "しゃもじ",
        wanted: &[&["rice-scoop"]],
    },
];

/// One query's outcome.
pub struct Outcome {
    pub query: &'static str,
    pub found: Vec<String>,
    pub precision: f64,
    pub recall: f64,
    pub top_hit: bool,
}

/// The figures over the whole list.
pub struct Figures {
    pub outcomes: Vec<Outcome>,
    pub precision: f64,
    pub recall: f64,
    pub top_hits: usize,
}

/// Runs every query of [`QUERIES`] through the catalog's search (first page).
pub async fn measure(catalog: &Catalog) -> anyhow::Result<Figures> {
    let mut outcomes = Vec::with_capacity(QUERIES.len());
    for q in &QUERIES {
        let wanted: Vec<&str> = q.wanted.iter().flat_map(|g| g.iter().copied()).collect();
        let page = catalog.search(q.text, 1, PAGE_SIZE).await?;
        let found: Vec<String> = page.products.iter().map(|p| p.slug.clone()).collect();
        let hits = found
            .iter()
            .filter(|s| wanted.contains(&s.as_str()))
            .count();
        let precision = if found.is_empty() {
            0.0
        } else {
            hits as f64 / found.len() as f64
        };
        let recall = hits as f64 / wanted.len() as f64;
        let top_hit = found.first().is_some_and(|s| wanted.contains(&s.as_str()));
        outcomes.push(Outcome {
            query: q.text,
            found,
            precision,
            recall,
            top_hit,
        });
    }
    let n = outcomes.len() as f64;
    Ok(Figures {
        precision: outcomes.iter().map(|o| o.precision).sum::<f64>() / n,
        recall: outcomes.iter().map(|o| o.recall).sum::<f64>() / n,
        top_hits: outcomes.iter().filter(|o| o.top_hit).count(),
        outcomes,
    })
}

/// A scratch SQLite shop with the demo catalog, searched with the fixed list; prints each
/// query and the totals.
pub async fn run() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("kura-bench-search-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}", dir.join("kura.db").display());
    let store: Arc<dyn kura_app::Store> =
        Arc::new(kura_store::sqlite::SqliteStore::open(&url).await?);
    crate::demo::ensure_catalog(&store).await?;
    let catalog = Catalog::new(store.clone());
    let figures = measure(&catalog).await;
    drop(catalog);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    let figures = figures?;
    println!(
        "Search precision on the demo catalog, {} fixed queries (first page of {PAGE_SIZE}):",
        QUERIES.len()
    );
    println!(
        "{:<16} {:>9} {:>7} {:>4}  first results",
        "query", "precision", "recall", "top"
    );
    for o in &figures.outcomes {
        println!(
            "{:<16} {:>9.2} {:>7.2} {:>4}  {}",
            o.query,
            o.precision,
            o.recall,
            if o.top_hit { "yes" } else { "no" },
            o.found
                .iter()
                .take(4)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!(
        "mean precision {:.3}, mean recall {:.3}, first result wanted in {} of {}",
        figures.precision,
        figures.recall,
        figures.top_hits,
        figures.outcomes.len()
    );
    Ok(())
}

/// `kura bench-search --products N [--pg-url URL]`: how long a search takes on a catalog of
/// `n` products (the demo catalog repeated under new slugs and SKUs), each of the fixed
/// queries run ten times with the catalog's cache emptied before each. On PostgreSQL it is
/// timed twice: with the trigram indexes (migration 0024) and with them dropped, which is the
/// plain scan the shop would do without pg_trgm.
pub async fn run_timing(n: u64, pg_url: Option<String>) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("kura-bench-search-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let database = match &pg_url {
        Some(url) => Some(crate::bench_web::BenchDatabase::create(url).await?),
        None => None,
    };
    let timed = async {
        let (store, pg): (Arc<dyn kura_app::Store>, Option<sqlx::PgPool>) = match &database {
            Some(db) => {
                let store = kura_store::pg::PgStore::open(&db.url).await?;
                let pool = store.pool().clone();
                (Arc::new(store), Some(pool))
            }
            None => {
                let url = format!("sqlite://{}", dir.join("kura.db").display());
                (
                    Arc::new(kura_store::sqlite::SqliteStore::open(&url).await?),
                    None,
                )
            }
        };
        crate::demo::ensure_catalog(&store).await?;
        let started = std::time::Instant::now();
        let base = crate::catalog_data::products();
        let mut made = u64::try_from(base.len()).unwrap_or(0);
        let mut round = 1i64;
        while made < n {
            for p in &base {
                if made >= n {
                    break;
                }
                let mut p = p.clone();
                p.id = kura_app::ids::new_id();
                p.slug = format!("{}-{round}", p.slug);
                for v in &mut p.variants {
                    v.id = kura_app::ids::new_id();
                    v.product_id = p.id;
                    v.sku = format!("{}-{round}", v.sku);
                }
                store.insert_product(&p).await?;
                made += 1;
            }
            round += 1;
        }
        println!(
            "{made} products on {} (made in {:.1} s); each of {} queries 10 times, cache emptied before each",
            store.backend(),
            started.elapsed().as_secs_f64(),
            QUERIES.len()
        );
        let catalog = Catalog::new(store.clone());
        let label = if pg.is_some() {
            "with pg_trgm indexes"
        } else {
            "SQLite (LIKE scan)"
        };
        print_times(label, &search_times(&catalog).await?);
        if let Some(pool) = &pg {
            sqlx::query("DROP INDEX IF EXISTS products_search_trgm, products_name_trgm")
                .execute(pool)
                .await?;
            sqlx::query("ANALYZE products").execute(pool).await?;
            print_times(
                "without them (LIKE scan)",
                &search_times(&catalog).await?,
            );
        }
        anyhow::Ok(())
    }
    .await;
    if let Some(db) = database {
        db.drop_now().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    timed
}

/// Microseconds per search, every query ten times.
async fn search_times(catalog: &Catalog) -> anyhow::Result<Vec<u64>> {
    let mut times = Vec::with_capacity(QUERIES.len() * 10);
    for _ in 0..10 {
        for q in &QUERIES {
            catalog.forget_all();
            // The synonyms are loaded outside the timing, as a running shop holds them.
            catalog.synonyms().await?;
            let t = std::time::Instant::now();
            catalog.search(q.text, 1, PAGE_SIZE).await?;
            times.push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
        }
    }
    times.sort_unstable();
    Ok(times)
}

fn print_times(label: &str, sorted: &[u64]) {
    let at = |q: f64| {
        let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
        sorted.get(i).copied().unwrap_or(0) as f64 / 1000.0
    };
    let mean = sorted.iter().sum::<u64>() as f64 / sorted.len().max(1) as f64 / 1000.0;
    println!(
        "{label:<28} mean {mean:>7.2} ms   p50 {:>7.2} ms   p99 {:>7.2} ms",
        at(0.5),
        at(0.99)
    );
}
