//! Carts: a guest's lives as long as the session (or the API cart token); a signed-in
//! customer's is kept with the account. Quantities are bounded, SKUs must exist, and prices are
//! always read from the catalog, never from the client.

use std::sync::Arc;

use kura_domain::order::{MAX_LINES, MAX_QUANTITY};
use kura_domain::{PricedLine, Quantity, TaxRate, Yen};
use kura_seal::SessionToken;

use crate::catalog::CatalogItem;
use crate::clock::Clock;
use crate::error::AppError;
use crate::ports::Store;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartLine {
    pub item: CatalogItem,
    pub quantity: u32,
}

impl CartLine {
    pub fn total(&self) -> Yen {
        self.item
            .price
            .checked_mul(self.quantity)
            .unwrap_or(Yen(i64::MAX))
    }

    pub fn priced(&self) -> PricedLine {
        PricedLine {
            sku: self.item.sku.clone(),
            unit_price: self.item.price,
            quantity: self.quantity,
            tax: self.item.tax,
        }
    }

    /// Whether the wanted quantity is in stock now.
    pub fn available(&self) -> bool {
        self.item.stock >= i64::from(self.quantity)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CartView {
    pub id: i64,
    pub lines: Vec<CartLine>,
}

impl CartView {
    pub fn goods(&self) -> Yen {
        Yen(self.lines.iter().map(|l| l.total().0).sum())
    }

    pub fn count(&self) -> u32 {
        self.lines.iter().map(|l| l.quantity).sum()
    }

    pub fn has_reduced(&self) -> bool {
        self.lines.iter().any(|l| l.item.tax == TaxRate::Reduced)
    }

    pub fn problems(&self) -> Vec<&CartLine> {
        self.lines.iter().filter(|l| !l.available()).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CartError {
    #[error("no such product variant")]
    UnknownSku,
    #[error("this variant is sold out")]
    SoldOut,
    #[error("only {0} left in stock")]
    NotEnough(i64),
    #[error("the cart holds the most lines it can")]
    TooManyLines,
    #[error("quantity may be at most 99")]
    TooMany,
}

impl CartError {
    pub fn code(self) -> &'static str {
        match self {
            Self::UnknownSku => "unknown_sku",
            Self::SoldOut => "sold_out",
            Self::NotEnough(_) => "insufficient_stock",
            Self::TooManyLines => "cart_full",
            Self::TooMany => "quantity_too_large",
        }
    }
}

pub struct Carts {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

/// What an add read before writing (the cart's lines and their items) and the new quantity.
type Added = (Vec<(String, u32)>, Vec<CatalogItem>, u32);

/// A guest cart (browser or API) untouched this long is deleted. Far beyond a session's
/// absolute lifetime, so no live session still points at it.
pub const GUEST_CART_IDLE_DAYS: i64 = 30;

/// The cart from its rows and the catalog items they name (lines whose SKU left the catalog
/// are dropped).
fn view_of(cart_id: i64, rows: Vec<(String, u32)>, items: &[CatalogItem]) -> CartView {
    let lines = rows
        .into_iter()
        .filter_map(|(sku, qty)| {
            items.iter().find(|i| i.sku == sku).map(|item| CartLine {
                item: item.clone(),
                quantity: qty,
            })
        })
        .collect();
    CartView { id: cart_id, lines }
}

impl Carts {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Deletes guest carts idle for [`GUEST_CART_IDLE_DAYS`], in batches; returns how many.
    pub async fn sweep_idle_guests(&self) -> Result<u64, AppError> {
        let before = self.clock.now() - GUEST_CART_IDLE_DAYS * 86_400;
        let mut total = 0;
        loop {
            let n = self.store.delete_idle_guest_carts(before, 1000).await?;
            total += n;
            if n < 1000 {
                return Ok(total);
            }
        }
    }

    /// A new anonymous cart and the bearer token that opens it (API carts).
    pub async fn create_with_token(&self) -> Result<(i64, SessionToken), AppError> {
        let token = SessionToken::generate()?;
        let id = crate::ids::new_id();
        self.store
            .create_cart(id, Some(token.hash().0), None, self.clock.now())
            .await?;
        Ok((id, token))
    }

    /// A new cart tied to nothing but the caller's session.
    pub async fn create_for_session(&self) -> Result<i64, AppError> {
        let id = crate::ids::new_id();
        self.store
            .create_cart(id, None, None, self.clock.now())
            .await?;
        Ok(id)
    }

    /// The customer's cart, created on first use.
    pub async fn of_customer(&self, customer_id: i64) -> Result<i64, AppError> {
        if let Some(id) = self.store.cart_of_customer(customer_id).await? {
            return Ok(id);
        }
        let id = crate::ids::new_id();
        match self
            .store
            .create_cart(id, None, Some(customer_id), self.clock.now())
            .await
        {
            Ok(()) => Ok(id),
            // Created meanwhile by another request of the same customer.
            Err(crate::StoreError::Conflict) => self
                .store
                .cart_of_customer(customer_id)
                .await?
                .ok_or_else(|| AppError::Task("cart vanished".into())),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether `token` opens cart `cart_id`.
    pub async fn token_opens(&self, cart_id: i64, token: &SessionToken) -> Result<bool, AppError> {
        Ok(self.store.cart_by_token(&token.hash().0).await? == Some(cart_id))
    }

    pub async fn view(&self, cart_id: i64) -> Result<CartView, AppError> {
        let (rows, items) = self.store.cart_lines(cart_id).await?;
        Ok(view_of(cart_id, rows, &items))
    }

    /// Adds `quantity` of `sku` (summing with what the cart holds), within stock.
    pub async fn add(
        &self,
        cart_id: i64,
        sku: &str,
        quantity: Quantity,
    ) -> Result<Result<(), CartError>, AppError> {
        Ok(self
            .add_inner(cart_id, sku, quantity, false)
            .await?
            .map(drop))
    }

    /// [`Carts::add`], answering with the cart as it now is (read once, before the write).
    pub async fn add_and_view(
        &self,
        cart_id: i64,
        sku: &str,
        quantity: Quantity,
    ) -> Result<Result<CartView, CartError>, AppError> {
        let added = self.add_inner(cart_id, sku, quantity, true).await?;
        Ok(added.map(|(mut rows, items, wanted)| {
            match rows.iter_mut().find(|(s, _)| s == sku) {
                Some(row) => row.1 = wanted,
                None => rows.push((sku.to_string(), wanted)),
            }
            // The stores list a cart's lines in byte order of the SKU.
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            view_of(cart_id, rows, &items)
        }))
    }

    async fn add_inner(
        &self,
        cart_id: i64,
        sku: &str,
        quantity: Quantity,
        with_view: bool,
    ) -> Result<Result<Added, CartError>, AppError> {
        // The view needs every line's item; the plain add only the one being added.
        let (rows, mut items) = if with_view {
            self.store.cart_lines(cart_id).await?
        } else {
            (self.store.cart_items(cart_id).await?, Vec::new())
        };
        if !items.iter().any(|i| i.sku == sku) {
            items.extend(self.store.catalog_items(&[sku.to_string()]).await?);
        }
        let Some(item) = items.iter().find(|i| i.sku == sku) else {
            return Ok(Err(CartError::UnknownSku));
        };
        let current = rows.iter().find(|(s, _)| s == sku).map_or(0, |(_, q)| *q);
        if current == 0 && rows.len() >= MAX_LINES {
            return Ok(Err(CartError::TooManyLines));
        }
        let wanted = current + quantity.get();
        if wanted > MAX_QUANTITY {
            return Ok(Err(CartError::TooMany));
        }
        if item.stock <= 0 {
            return Ok(Err(CartError::SoldOut));
        }
        if i64::from(wanted) > item.stock {
            return Ok(Err(CartError::NotEnough(item.stock)));
        }
        self.store
            .set_cart_item(cart_id, sku, wanted, self.clock.now())
            .await?;
        Ok(Ok((rows, items, wanted)))
    }

    /// Sets the quantity of a line (0 removes it).
    pub async fn set(
        &self,
        cart_id: i64,
        sku: &str,
        quantity: u32,
    ) -> Result<Result<(), CartError>, AppError> {
        if quantity == 0 {
            self.store.remove_cart_item(cart_id, sku).await?;
            return Ok(Ok(()));
        }
        if quantity > MAX_QUANTITY {
            return Ok(Err(CartError::TooMany));
        }
        let Some(item) = self
            .store
            .catalog_items(&[sku.to_string()])
            .await?
            .into_iter()
            .next()
        else {
            return Ok(Err(CartError::UnknownSku));
        };
        if i64::from(quantity) > item.stock {
            return Ok(Err(if item.stock <= 0 {
                CartError::SoldOut
            } else {
                CartError::NotEnough(item.stock)
            }));
        }
        self.store
            .set_cart_item(cart_id, sku, quantity, self.clock.now())
            .await?;
        Ok(Ok(()))
    }

    /// Moves a guest cart's lines into the customer's cart at sign-in.
    pub async fn merge_into_customer(
        &self,
        guest_cart: i64,
        customer_id: i64,
    ) -> Result<i64, AppError> {
        let target = self.of_customer(customer_id).await?;
        if target == guest_cart {
            return Ok(target);
        }
        let theirs = self.store.cart_items(target).await?;
        for (sku, qty) in self.store.cart_items(guest_cart).await? {
            let have = theirs
                .iter()
                .find(|(s, _)| *s == sku)
                .map_or(0, |(_, q)| *q);
            let merged = (have + qty).min(MAX_QUANTITY);
            self.store
                .set_cart_item(target, &sku, merged, self.clock.now())
                .await?;
        }
        self.store.delete_cart(guest_cart).await?;
        Ok(target)
    }
}
