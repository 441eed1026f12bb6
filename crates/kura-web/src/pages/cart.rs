//! The cart pages. A guest's cart hangs off the session; a signed-in customer's belongs to the
//! account. Quantities outside 1–99, unknown SKUs and more than is in stock are refused with a
//! message on the page; nothing the visitor already had in the cart is lost.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use kura_app::carts::{CartError, CartView};
use kura_domain::{Quantity, TaxRate};

use crate::AppState;
use crate::error::WebError;
use crate::form::FormFields;
use crate::i18n::Lang;
use crate::pages::storefront::cart_problem;
use crate::pages::{PageContext, encode_component};
use crate::security::session::Session;

/// The visitor's cart id, if they have one.
pub async fn current_cart(state: &AppState, session: &Session) -> Result<Option<i64>, WebError> {
    match session.customer_id().await {
        Some(customer) => Ok(Some(state.carts.of_customer(customer).await?)),
        None => Ok(session.data().await.cart_id),
    }
}

/// The visitor's cart, created when they first add something.
pub async fn ensure_cart(state: &AppState, session: &Session) -> Result<i64, WebError> {
    if let Some(id) = current_cart(state, session).await? {
        return Ok(id);
    }
    let id = state.carts.create_for_session().await?;
    let mut data = session.data().await;
    data.cart_id = Some(id);
    session.set_data(data).await?;
    Ok(id)
}

pub struct LineView {
    pub sku: String,
    pub slug: String,
    pub name: String,
    pub variant: String,
    pub image: String,
    pub unit_price: String,
    pub quantity: u32,
    pub total: String,
    pub reduced: bool,
    pub problem: Option<String>,
}

pub fn line_views(cart: &CartView, ctx: &PageContext) -> Vec<LineView> {
    let en = ctx.tr.0 == Lang::En;
    cart.lines
        .iter()
        .map(|l| LineView {
            sku: l.item.sku.clone(),
            slug: l.item.product_slug.clone(),
            name: if en {
                l.item.product_name_en.clone()
            } else {
                l.item.product_name_ja.clone()
            },
            variant: if en {
                l.item.label_en.clone()
            } else {
                l.item.label_ja.clone()
            },
            image: l.item.image.clone(),
            unit_price: l.item.price.grouped(),
            quantity: l.quantity,
            total: l.total().grouped(),
            reduced: l.item.tax == TaxRate::Reduced,
            problem: (!l.available()).then(|| {
                if l.item.stock <= 0 {
                    ctx.tr.t("cart.problem.sold_out").to_string()
                } else {
                    ctx.tr
                        .t("cart.problem.insufficient_stock")
                        .replace("{n}", &l.item.stock.to_string())
                }
            }),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "cart.html")]
struct CartPage {
    ctx: PageContext,
    lines: Vec<LineView>,
    goods: String,
    has_reduced: bool,
    blocked: bool,
    message: Option<String>,
}

async fn render(
    state: &AppState,
    mut ctx: PageContext,
    session: &Session,
    message: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    ctx.csrf = session.csrf_token().await?;
    let cart = match current_cart(state, session).await? {
        Some(id) => state.carts.view(id).await?,
        None => CartView::default(),
    };
    let page = CartPage {
        lines: line_views(&cart, &ctx),
        goods: cart.goods().grouped(),
        has_reduced: cart.has_reduced(),
        blocked: !cart.problems().is_empty(),
        message,
        ctx,
    };
    Ok((status, Html(page.render()?)).into_response())
}

pub async fn cart_get(
    State(state): State<AppState>,
    ctx: PageContext,
    session: Session,
) -> Result<Response, WebError> {
    render(&state, ctx, &session, None, StatusCode::OK).await
}

fn quantity_problem(code: &'static str) -> String {
    code.to_string()
}

/// Adds a variant to the cart and returns to its product page with the outcome.
pub async fn cart_add_post(
    State(state): State<AppState>,
    ctx: PageContext,
    session: Session,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let form = FormFields::parse(&body);
    let sku = form.get("sku").to_string();
    let back = form.get("slug");
    let back = if back.is_empty() || back.len() > 100 {
        String::new()
    } else {
        format!("/products/{}", encode_component(back))
    };
    let problem = if form.malformed || !form.unknown(&["sku", "slug", "quantity"]).is_empty() {
        Some("invalid_quantity".to_string())
    } else {
        match Quantity::parse(form.get("quantity")) {
            Err(e) => Some(quantity_problem(e.code())),
            Ok(q) => {
                let cart = ensure_cart(&state, &session).await?;
                match state.carts.add(cart, &sku, q).await? {
                    Ok(()) => None,
                    Err(e) => Some(e.code().to_string()),
                }
            }
        }
    };
    match (problem, back.is_empty()) {
        (None, false) => Ok(Redirect::to(&format!("{back}?added=1")).into_response()),
        (None, true) => Ok(Redirect::to("/cart").into_response()),
        (Some(code), false) => Ok(Redirect::to(&format!("{back}?problem={code}")).into_response()),
        (Some(code), true) => {
            let message = Some(cart_problem(ctx.tr, &code).to_string());
            render(
                &state,
                ctx,
                &session,
                message,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// Changes a line's quantity (0 or the remove button removes it).
pub async fn cart_update_post(
    State(state): State<AppState>,
    ctx: PageContext,
    session: Session,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let form = FormFields::parse(&body);
    let Some(cart) = current_cart(&state, &session).await? else {
        return Ok(Redirect::to("/cart").into_response());
    };
    let sku = form.get("sku").to_string();
    let wanted = if form.get("remove") == "1" {
        Ok(0)
    } else {
        let raw = form.get("quantity");
        if raw.trim() == "0" {
            Ok(0)
        } else {
            Quantity::parse(raw)
                .map(Quantity::get)
                .map_err(|e| e.code())
        }
    };
    let outcome = if form.malformed || !form.unknown(&["sku", "quantity", "remove"]).is_empty() {
        Err("invalid_quantity")
    } else {
        match wanted {
            Ok(n) => state
                .carts
                .set(cart, &sku, n)
                .await?
                .map_err(CartError::code),
            Err(code) => Err(code),
        }
    };
    match outcome {
        Ok(()) => Ok(Redirect::to("/cart").into_response()),
        Err(code) => {
            let message = Some(cart_problem(ctx.tr, code).to_string());
            render(
                &state,
                ctx,
                &session,
                message,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}
