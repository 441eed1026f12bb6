//! Group commit on the writer: many jobs share commits, each job's failure or cancellation
//! undoes only that job, and every acknowledged write is in the file. Each test mixes jobs run
//! statement by statement through sqlx with jobs run in one trip on rusqlite (`one_trip`),
//! in the same shared transactions.

use std::sync::Arc;

use super::*;

struct Scratch {
    store: SqliteStore,
    dir: PathBuf,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn scratch() -> Scratch {
    let dir = std::env::temp_dir().join(format!(
        "kura-writer-{}",
        hex::encode(kura_seal::random_bytes::<8>().unwrap())
    ));
    let store = SqliteStore::open(dir.join("kura.db").to_str().unwrap())
        .await
        .unwrap();
    store
        .with_writer(|w| {
            Box::pin(async move {
                sqlx::query(
                    "CREATE TABLE scratch (id INTEGER PRIMARY KEY NOT NULL, v TEXT NOT NULL)",
                )
                .execute(w)
                .await
                .map(|_| ())
            })
        })
        .await
        .unwrap();
    Scratch { store, dir }
}

async fn insert(store: &SqliteStore, ids: &[i64]) -> Result<(), StoreError> {
    write_tx!(store, |tx| {
        for id in ids {
            sqlx::query("INSERT INTO scratch (id, v) VALUES (?, 'x')")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
    })
}

/// The same as [`insert`], run in one trip.
async fn insert_raw(store: &SqliteStore, ids: &[i64]) -> Result<(), StoreError> {
    store
        .in_one_trip(|c| {
            for id in ids {
                c.execute("INSERT INTO scratch (id, v) VALUES (?1, 'x')", [id])?;
            }
            Ok(((), true))
        })
        .await
}

/// [`insert`] or [`insert_raw`], by the parity of `n`.
async fn insert_by(store: &SqliteStore, n: i64, ids: &[i64]) -> Result<(), StoreError> {
    if n % 2 == 0 {
        insert(store, ids).await
    } else {
        insert_raw(store, ids).await
    }
}

async fn ids(store: &SqliteStore) -> Vec<i64> {
    sqlx::query_scalar("SELECT id FROM scratch ORDER BY id")
        .fetch_all(store.reader())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_jobs_share_commits_and_all_are_kept() {
    let s = scratch().await;
    let store = Arc::new(s.store.clone());
    let (commits_before, jobs_before) = store.commit_counts().await;
    let tasks: Vec<_> = (0..300)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { insert_by(&store, i, &[i]).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    // Every acknowledged job is readable from another connection at once.
    assert_eq!(ids(&store).await, (0..300).collect::<Vec<_>>());
    let (commits, jobs) = store.commit_counts().await;
    let (commits, jobs) = (commits - commits_before, jobs - jobs_before);
    assert_eq!(jobs, 300);
    assert!(
        commits < jobs,
        "300 concurrent jobs should share commits, got {commits} commits"
    );
    // And they are in the file: a fresh open sees them all.
    store.close().await;
    let again = SqliteStore::open(s.dir.join("kura.db").to_str().unwrap())
        .await
        .unwrap();
    assert_eq!(ids(&again).await.len(), 300);
    again.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_job_undoes_only_itself() {
    let s = scratch().await;
    insert(&s.store, &[1]).await.unwrap();
    let store = Arc::new(s.store.clone());
    let mut tasks = Vec::new();
    for i in 0..50 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            if i % 5 == 0 {
                // Writes 1000+i, then trips on the existing row 1: the whole job is undone.
                insert_by(&store, i / 5, &[1000 + i, 1]).await
            } else {
                insert_by(&store, i, &[100 + i]).await
            }
        }));
    }
    let mut conflicts = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => {}
            Err(StoreError::Conflict) => conflicts += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(conflicts, 10);
    let have = ids(&store).await;
    assert!(
        have.iter().all(|id| *id < 1000),
        "failed jobs left {have:?}"
    );
    assert_eq!(have.len(), 41);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_cancelled_mid_way_is_rolled_back_and_the_rest_go_on() {
    let s = scratch().await;
    let store = s.store.clone();
    // A kept job waiting for its commit, then a job that writes and is dropped.
    let kept = {
        let store = store.clone();
        tokio::spawn(async move { insert(&store, &[7]).await })
    };
    let mut job = store.writer.job().await.unwrap();
    sqlx::query("INSERT INTO scratch (id, v) VALUES (8, 'abandoned')")
        .execute(job.conn().unwrap())
        .await
        .unwrap();
    drop(job);
    kept.await.unwrap().unwrap();
    // A one-trip job next rolls the abandoned savepoint back first.
    insert_raw(&store, &[9]).await.unwrap();
    assert_eq!(ids(&store).await, vec![7, 9]);
    // The abandoned job's row can be written again: its savepoint was undone, not kept.
    insert(&store, &[8]).await.unwrap();
    assert_eq!(ids(&store).await, vec![7, 8, 9]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_dropped_while_writing_leaves_nothing_behind() {
    let s = scratch().await;
    let store = Arc::new(s.store.clone());
    // Many requests, half cut off at random points (as when a client disconnects).
    let mut tasks = Vec::new();
    for i in 0..100i64 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let ids: Vec<i64> = (0..5).map(|k| i * 10 + k).collect();
            if i % 2 == 0 {
                let _ = tokio::time::timeout(
                    std::time::Duration::from_micros(u64::try_from(i * 37).unwrap()),
                    insert_by(&store, i / 2, &ids),
                )
                .await;
            } else {
                insert_by(&store, i / 2, &ids).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    insert(&store, &[100_000]).await.unwrap();
    let have = ids(&store).await;
    // Each request's five rows are all there or none is.
    for i in 0..100i64 {
        let n = have
            .iter()
            .filter(|id| **id / 10 == i && **id < 1000)
            .count();
        assert!(n == 0 || n == 5, "request {i} left {n} of 5 rows");
        if i % 2 == 1 {
            assert_eq!(n, 5, "request {i} was not cut off and must be kept");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_refused_job_saw_is_committed_before_it_answers() {
    // The second of two identical writes collides with the first inside the shared
    // transaction. By the time it reports the conflict, the first must be readable, or a
    // caller that then looks the row up (a repeated checkout) would find nothing.
    let s = scratch().await;
    let store = Arc::new(s.store.clone());
    let mut tasks = Vec::new();
    for i in 0..60i64 {
        for k in 0..2 {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                match insert_by(&store, i + k, &[i]).await {
                    Ok(()) => true,
                    Err(StoreError::Conflict) => {
                        let seen: Option<i64> =
                            sqlx::query_scalar("SELECT id FROM scratch WHERE id = ?")
                                .bind(i)
                                .fetch_optional(store.reader())
                                .await
                                .unwrap();
                        assert_eq!(seen, Some(i), "conflict on {i} answered before its commit");
                        false
                    }
                    Err(e) => panic!("{e:?}"),
                }
            }));
        }
    }
    let mut kept = 0;
    for t in tasks {
        kept += usize::from(t.await.unwrap());
    }
    assert_eq!(kept, 60);
}
