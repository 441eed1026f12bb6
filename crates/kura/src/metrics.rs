//! Prometheus metrics on their own listener, apart from the shop, so they are never exposed to
//! customers. Bind it to loopback or a private network.

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusBuilder;

pub async fn spawn(addr: SocketAddr) -> anyhow::Result<()> {
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for metrics on {addr}"))?;
    let app = Router::new().route("/metrics", get(move || std::future::ready(handle.render())));
    tracing::info!(target: "kura::server", %addr, "metrics listening");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(target: "kura::server", error = %e, "metrics listener stopped");
        }
    });
    Ok(())
}
