//! The OpenAPI 3.1 document of the store API, served at `GET /api/openapi.json`.
//!
//! Built once with utoipa's builder types (no derive macros, no UI, nothing fetched): every
//! path and method of [`super::routes`], its parameters, request body, responses, the bearer
//! schemes, and the one error schema with every stable error code. A test checks that every
//! `/api/v1` route is listed.

use std::sync::LazyLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::{OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{AdditionalProperties, SchemaType};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    ArrayBuilder, ComponentsBuilder, ContentBuilder, HttpMethod, InfoBuilder, KnownFormat,
    ObjectBuilder, OneOfBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr, Required,
    ResponseBuilder, Schema, SchemaFormat, SecurityRequirement, Type,
};

use super::v1::products::{DEFAULT_PER_PAGE, MAX_PER_PAGE};

/// Every error code an API answer may carry: the API's own, the domain's field codes and the
/// ones the outer layers (`render_errors`) produce under `/api/`.
pub const ERROR_CODES: &[&str] = &[
    "invalid_json",
    "unknown_field",
    "missing_field",
    "invalid_type",
    "invalid_parameter",
    "unknown_parameter",
    "required",
    "too_long",
    "invalid_characters",
    "not_katakana",
    "invalid_email",
    "invalid_postal_code",
    "invalid_phone",
    "unknown_prefecture",
    "invalid_date",
    "date_out_of_range",
    "unknown_choice",
    "invalid_quantity",
    "quantity_too_small",
    "quantity_too_large",
    "unknown_sku",
    "sold_out",
    "insufficient_stock",
    "cart_full",
    "cart_empty",
    "price_changed",
    "delivery_date_out_of_range",
    "card_payment_unavailable",
    "coupon_unknown",
    "coupon_not_yet_valid",
    "coupon_expired",
    "coupon_below_minimum",
    "coupon_used",
    "coupon_disabled",
    "unauthorized",
    "not_found",
    "idempotency_key_required",
    "invalid_idempotency_key",
    "unsupported_media_type",
    "payload_too_large",
    "card_number_refused",
    "too_many_requests",
    "bad_request",
    "method_not_allowed",
    "internal_error",
    "unavailable",
];

const JSON: &str = "application/json";

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn integer() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
}

fn boolean() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Boolean)
}

fn nullable(t: Type) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::from_iter([t, Type::Null]))
}

fn described(o: ObjectBuilder, text: &str) -> ObjectBuilder {
    o.description(Some(text))
}

fn r(name: &str) -> Ref {
    Ref::from_schema_name(name)
}

fn array(items: impl Into<RefOr<Schema>>) -> RefOr<Schema> {
    ArrayBuilder::new().items(items.into()).into()
}

/// An object with `props`; the names in `required` must be present. `closed` objects refuse
/// other properties (request bodies).
fn object(props: Vec<(&str, RefOr<Schema>)>, required: &[&str], closed: bool) -> Schema {
    let mut o = ObjectBuilder::new().schema_type(Type::Object);
    for (name, schema) in props {
        o = o.property(name, schema);
    }
    for name in required {
        o = o.required(*name);
    }
    if closed {
        o = o.additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)));
    }
    o.build().into()
}

fn person_props(with_buyer_fields: bool) -> Vec<(&'static str, RefOr<Schema>)> {
    let mut props: Vec<(&'static str, RefOr<Schema>)> = vec![
        (
            "family_name",
            described(string(), "Family name (kanji), at most 30 characters.").into(),
        ),
        (
            "given_name",
            described(string(), "Given name, at most 30 characters.").into(),
        ),
        (
            "family_name_kana",
            described(string(), "Reading in katakana.").into(),
        ),
        (
            "given_name_kana",
            described(string(), "Reading in katakana.").into(),
        ),
        (
            "phone",
            described(
                string(),
                "10 or 11 digits starting with 0; hyphens allowed.",
            )
            .into(),
        ),
        (
            "postal_code",
            described(string(), "7 digits, e.g. 100-0001.").into(),
        ),
        (
            "prefecture",
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::String, Type::Integer]))
                .description(Some(
                    "JIS code 1-47 (number or string), or the name in Japanese or English.",
                ))
                .into(),
        ),
        (
            "address1",
            described(string(), "City, town and block, at most 100 characters.").into(),
        ),
        (
            "address2",
            described(nullable(Type::String), "Building and room (optional).").into(),
        ),
    ];
    if with_buyer_fields {
        props.push(("email", described(string(), "Where order mails go.").into()));
        props.push((
            "birth_date",
            described(nullable(Type::String), "Optional, YYYY-MM-DD.")
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
                .into(),
        ));
        props.push((
            "gender",
            nullable(Type::String)
                .enum_values(Some(["female", "male", "other"]))
                .description(Some("Optional."))
                .into(),
        ));
    }
    props
}

const PERSON_REQUIRED: [&str; 8] = [
    "family_name",
    "given_name",
    "family_name_kana",
    "given_name_kana",
    "phone",
    "postal_code",
    "prefecture",
    "address1",
];

fn schemas() -> Vec<(&'static str, Schema)> {
    let error_body = object(
        vec![
            (
                "code",
                string()
                    .enum_values(Some(ERROR_CODES.iter().copied()))
                    .into(),
            ),
            (
                "field",
                described(string(), "The request field at fault, as a dotted path.").into(),
            ),
            (
                "message",
                described(
                    string(),
                    "English, or Japanese with ?lang=ja or Accept-Language: ja.",
                )
                .into(),
            ),
            (
                "operation_id",
                described(string(), "The id staff find in the log.").into(),
            ),
            (
                "sku",
                described(string(), "The SKU a stock or price problem is about.").into(),
            ),
            (
                "max",
                described(integer(), "For too_long: the longest accepted length.").into(),
            ),
            (
                "total_yen",
                described(integer(), "For price_changed: the total now.").into(),
            ),
        ],
        &["code", "message"],
        false,
    );
    let mut customer_required = PERSON_REQUIRED.to_vec();
    customer_required.push("email");
    vec![
        ("Error", object(vec![("error", error_body.into())], &["error"], false)),
        (
            "Variant",
            object(
                vec![
                    ("sku", string().into()),
                    ("name", string().into()),
                    ("price_yen", described(integer(), "Tax-inclusive price.").into()),
                    ("tax_rate_percent", integer().enum_values(Some([10, 8])).into()),
                    ("in_stock", boolean().into()),
                ],
                &["sku", "name", "price_yen", "tax_rate_percent", "in_stock"],
                false,
            ),
        ),
        (
            "Product",
            object(
                vec![
                    ("slug", string().into()),
                    ("name", string().into()),
                    ("description", string().into()),
                    ("category", nullable(Type::String).into()),
                    ("tax_rate_percent", integer().enum_values(Some([10, 8])).into()),
                    ("variants", array(r("Variant"))),
                ],
                &["slug", "name", "description", "tax_rate_percent", "variants"],
                false,
            ),
        ),
        (
            "ProductPage",
            object(
                vec![
                    ("products", array(r("Product"))),
                    ("page", integer().into()),
                    ("per_page", integer().into()),
                    ("total", described(integer(), "Products in all.").into()),
                ],
                &["products", "page", "per_page", "total"],
                false,
            ),
        ),
        (
            "CreatedCart",
            object(
                vec![
                    (
                        "cart_id",
                        described(string(), "The cart's 64-bit id as a decimal string.").into(),
                    ),
                    (
                        "cart_token",
                        described(string(), "Send as `Authorization: Bearer <cart_token>`.")
                            .into(),
                    ),
                ],
                &["cart_id", "cart_token"],
                false,
            ),
        ),
        (
            "CartLine",
            object(
                vec![
                    ("sku", string().into()),
                    ("product_slug", string().into()),
                    ("name", string().into()),
                    ("variant", string().into()),
                    ("unit_price_yen", integer().into()),
                    ("quantity", integer().into()),
                    ("line_total_yen", integer().into()),
                    ("tax_rate_percent", integer().into()),
                    (
                        "problem",
                        nullable(Type::String)
                            .enum_values(Some([
                                Some("sold_out"),
                                Some("insufficient_stock"),
                                None,
                            ]))
                            .into(),
                    ),
                ],
                &["sku", "name", "unit_price_yen", "quantity", "line_total_yen"],
                false,
            ),
        ),
        (
            "Cart",
            object(
                vec![
                    ("cart_id", string().into()),
                    ("lines", array(r("CartLine"))),
                    ("item_count", integer().into()),
                    ("goods_total_yen", integer().into()),
                    ("goods_standard_rate_yen", integer().into()),
                    ("goods_reduced_rate_yen", integer().into()),
                ],
                &["cart_id", "lines", "item_count", "goods_total_yen"],
                false,
            ),
        ),
        (
            "AddItem",
            object(
                vec![
                    ("sku", string().into()),
                    (
                        "quantity",
                        integer().minimum(Some(1)).maximum(Some(99)).into(),
                    ),
                ],
                &["sku", "quantity"],
                true,
            ),
        ),
        (
            "SetQuantity",
            object(
                vec![(
                    "quantity",
                    described(integer().minimum(Some(0)).maximum(Some(99)), "0 removes the line.")
                        .into(),
                )],
                &["quantity"],
                true,
            ),
        ),
        ("Customer", object(person_props(true), &customer_required, true)),
        ("Recipient", object(person_props(false), &PERSON_REQUIRED, true)),
        (
            "Delivery",
            object(
                vec![
                    (
                        "date",
                        described(nullable(Type::String), "YYYY-MM-DD within the delivery window.")
                            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
                            .into(),
                    ),
                    (
                        "slot",
                        nullable(Type::String)
                            .enum_values(Some([
                                Some("morning"),
                                Some("14-16"),
                                Some("16-18"),
                                Some("18-20"),
                                Some("19-21"),
                                None,
                            ]))
                            .into(),
                    ),
                ],
                &[],
                true,
            ),
        ),
        (
            "CheckoutRequest",
            object(
                vec![
                    ("customer", r("Customer").into()),
                    (
                        "shipping",
                        OneOfBuilder::new()
                            .item(r("Recipient"))
                            .item(ObjectBuilder::new().schema_type(Type::Null))
                            .description(Some(
                                "Where to deliver, when not to the customer (null or absent: the customer).",
                            ))
                            .into(),
                    ),
                    ("delivery", r("Delivery").into()),
                    (
                        "payment_method",
                        string()
                            .enum_values(Some(["cod", "bank_transfer", "card", "konbini"]))
                            .into(),
                    ),
                    (
                        "expected_total_yen",
                        described(
                            integer(),
                            "Optional: the total the client showed; a different total now is price_changed.",
                        )
                        .into(),
                    ),
                    (
                        "coupon",
                        described(
                            string(),
                            "Optional: a coupon code (case and width do not matter). One that does not apply is refused with a coupon_* code and field coupon; nothing is placed.",
                        )
                        .into(),
                    ),
                ],
                &["customer", "payment_method"],
                true,
            ),
        ),
        (
            "PlacedOrder",
            object(
                vec![
                    ("order_number", string().into()),
                    (
                        "order_token",
                        described(string(), "Send as `Authorization: Bearer <order_token>` to read the order.")
                            .into(),
                    ),
                    ("total_yen", integer().into()),
                    (
                        "discount_yen",
                        described(integer(), "What the coupon took off the goods (0 without one).")
                            .into(),
                    ),
                    ("status", r("OrderStatus").into()),
                    (
                        "payment_url",
                        described(string(), "Card orders: the provider's payment page.").into(),
                    ),
                ],
                &["order_number", "order_token", "total_yen", "discount_yen", "status"],
                false,
            ),
        ),
        (
            "OrderStatus",
            string()
                .enum_values(Some([
                    "awaiting_payment",
                    "awaiting_konbini",
                    "awaiting_transfer",
                    "confirmed",
                    "paid",
                    "packed",
                    "shipped",
                    "delivered",
                    "cancelled",
                    "expired",
                    "refunded",
                ]))
                .build()
                .into(),
        ),
        (
            "OrderLine",
            object(
                vec![
                    ("sku", string().into()),
                    ("name", string().into()),
                    ("variant", string().into()),
                    ("unit_price_yen", integer().into()),
                    ("quantity", integer().into()),
                    ("line_total_yen", integer().into()),
                    ("tax_rate_percent", integer().into()),
                ],
                &["sku", "name", "unit_price_yen", "quantity", "line_total_yen", "tax_rate_percent"],
                false,
            ),
        ),
        (
            "Tax",
            object(
                vec![
                    ("rate_percent", integer().enum_values(Some([10, 8])).into()),
                    ("taxable_yen", described(integer(), "Tax-inclusive amount at this rate.").into()),
                    ("tax_yen", described(integer(), "Tax contained in it (rounded down once).").into()),
                ],
                &["rate_percent", "taxable_yen", "tax_yen"],
                false,
            ),
        ),
        (
            "Totals",
            object(
                vec![
                    ("goods_yen", described(integer(), "Before any coupon.").into()),
                    (
                        "discount_yen",
                        described(integer(), "What the coupon took off the goods (0 without one).")
                            .into(),
                    ),
                    (
                        "coupon",
                        described(string(), "The coupon code used, when one was.").into(),
                    ),
                    ("shipping_yen", integer().into()),
                    ("cod_fee_yen", integer().into()),
                    ("total_yen", integer().into()),
                    ("tax", array(r("Tax"))),
                ],
                &["goods_yen", "discount_yen", "shipping_yen", "cod_fee_yen", "total_yen", "tax"],
                false,
            ),
        ),
        (
            "Order",
            object(
                vec![
                    ("order_number", string().into()),
                    ("status", r("OrderStatus").into()),
                    (
                        "payment_method",
                        string()
                            .enum_values(Some(["cod", "bank_transfer", "card", "konbini"]))
                            .into(),
                    ),
                    ("lines", array(r("OrderLine"))),
                    ("totals", r("Totals").into()),
                    ("delivery", r("Delivery").into()),
                    ("payment_url", string().into()),
                    ("created_at", described(integer(), "Unix seconds.").into()),
                ],
                &["order_number", "status", "payment_method", "lines", "totals", "delivery"],
                false,
            ),
        ),
    ]
}

/// A JSON response with `schema`.
fn ok(description: &str, schema: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(JSON, ContentBuilder::new().schema(Some(r(schema))).build())
        .build()
}

/// An error response listing the codes it may carry.
fn err(codes: &[&str]) -> utoipa::openapi::Response {
    ok(
        &format!("Error; code one of: {}.", codes.join(", ")),
        "Error",
    )
}

fn path_param(name: &str, description: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(string()))
        .build()
}

fn query_param(
    name: &str,
    schema: ObjectBuilder,
    description: &str,
) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

fn lang_param() -> utoipa::openapi::path::Parameter {
    query_param(
        "lang",
        string().enum_values(Some(["ja", "en"])),
        "Language of names (default ja) and of error messages.",
    )
}

fn body(schema: &str, description: &str) -> utoipa::openapi::request_body::RequestBody {
    RequestBodyBuilder::new()
        .description(Some(description))
        .required(Some(Required::True))
        .content(JSON, ContentBuilder::new().schema(Some(r(schema))).build())
        .build()
}

fn bearer(scheme: &str) -> SecurityRequirement {
    SecurityRequirement::new(scheme, Vec::<String>::new())
}

const FRAMEWORK: [&str; 2] = ["too_many_requests", "internal_error"];

fn with_common(op: OperationBuilder) -> OperationBuilder {
    op.response("429", err(&FRAMEWORK[..1]))
        .response("500", err(&FRAMEWORK[1..]))
        .response("503", err(&["unavailable"]))
}

fn cart_op(op: OperationBuilder) -> OperationBuilder {
    with_common(
        op.tag("carts")
            .security(bearer("cart_token"))
            .parameter(path_param("cart_id", "The id from POST /api/v1/carts."))
            .parameter(lang_param())
            .response("401", err(&["unauthorized"])),
    )
}

const BODY_ERRORS: [&str; 6] = [
    "invalid_json",
    "unknown_field",
    "missing_field",
    "invalid_type",
    "unknown_parameter",
    "invalid_parameter",
];

fn paths() -> Paths {
    let mut paths = Paths::new();
    let body_errors = |extra: &[&str]| {
        let mut v = BODY_ERRORS.to_vec();
        v.extend_from_slice(extra);
        err(&v)
    };
    paths.add_path_operation(
        "/api/v1/products",
        vec![HttpMethod::Get],
        with_common(
            OperationBuilder::new()
                .tag("catalog")
                .operation_id(Some("products_get"))
                .summary(Some("List products, a page at a time"))
                .parameter(query_param(
                    "page",
                    integer().minimum(Some(1)),
                    "Page number from 1 (default 1).",
                ))
                .parameter(query_param(
                    "per_page",
                    integer().minimum(Some(1)).maximum(Some(MAX_PER_PAGE)),
                    &format!(
                        "Products per page (default {DEFAULT_PER_PAGE}, at most {MAX_PER_PAGE})."
                    ),
                ))
                .parameter(lang_param())
                .response("200", ok("A page of products.", "ProductPage"))
                .response("400", err(&["invalid_parameter", "unknown_parameter"])),
        ),
    );
    paths.add_path_operation(
        "/api/v1/products/{slug}",
        vec![HttpMethod::Get],
        with_common(
            OperationBuilder::new()
                .tag("catalog")
                .operation_id(Some("product_get"))
                .summary(Some("One product"))
                .parameter(path_param("slug", "The product's slug."))
                .parameter(lang_param())
                .response("200", ok("The product.", "Product"))
                .response("400", err(&["invalid_parameter", "unknown_parameter"]))
                .response("404", err(&["not_found"])),
        ),
    );
    paths.add_path_operation(
        "/api/v1/carts",
        vec![HttpMethod::Post],
        with_common(
            OperationBuilder::new()
                .tag("carts")
                .operation_id(Some("carts_post"))
                .summary(Some("Make an empty cart and its bearer token"))
                .description(Some("The body may be empty or `{}`."))
                .response("201", ok("The new cart's id and token.", "CreatedCart"))
                .response("400", body_errors(&[]))
                .response("415", err(&["unsupported_media_type"])),
        ),
    );
    paths.add_path_operation(
        "/api/v1/carts/{cart_id}",
        vec![HttpMethod::Get],
        cart_op(
            OperationBuilder::new()
                .operation_id(Some("cart_get"))
                .summary(Some("The cart's lines and goods total"))
                .response("200", ok("The cart.", "Cart")),
        ),
    );
    paths.add_path_operation(
        "/api/v1/carts/{cart_id}/items",
        vec![HttpMethod::Post],
        cart_op(
            OperationBuilder::new()
                .operation_id(Some("items_post"))
                .summary(Some(
                    "Add a quantity of a variant (summed with what the cart holds)",
                ))
                .request_body(Some(body("AddItem", "What to add.")))
                .response("200", ok("The cart after the change.", "Cart"))
                .response("400", body_errors(&[]))
                .response("409", err(&["sold_out", "insufficient_stock", "cart_full"]))
                .response("413", err(&["payload_too_large"]))
                .response("415", err(&["unsupported_media_type"]))
                .response(
                    "422",
                    err(&[
                        "invalid_quantity",
                        "quantity_too_small",
                        "quantity_too_large",
                        "unknown_sku",
                        "card_number_refused",
                    ]),
                ),
        ),
    );
    let item_ops = |method: HttpMethod| {
        let op = OperationBuilder::new()
            .parameter(path_param("sku", "The variant's SKU."))
            .response("200", ok("The cart after the change.", "Cart"))
            .response("409", err(&["sold_out", "insufficient_stock"]))
            .response(
                "422",
                err(&["unknown_sku", "invalid_quantity", "quantity_too_large"]),
            );
        match method {
            HttpMethod::Put => cart_op(
                op.operation_id(Some("item_put"))
                    .summary(Some("Set a line's quantity (0 removes it)"))
                    .request_body(Some(body("SetQuantity", "The new quantity.")))
                    .response("400", body_errors(&[]))
                    .response("415", err(&["unsupported_media_type"])),
            ),
            _ => cart_op(
                op.operation_id(Some("item_delete"))
                    .summary(Some("Remove a line")),
            ),
        }
    };
    paths.add_path_operation(
        "/api/v1/carts/{cart_id}/items/{sku}",
        vec![HttpMethod::Put],
        item_ops(HttpMethod::Put),
    );
    paths.add_path_operation(
        "/api/v1/carts/{cart_id}/items/{sku}",
        vec![HttpMethod::Delete],
        item_ops(HttpMethod::Delete),
    );
    let placed = ok(
        "The order. 201 when this request placed it; 200 when the same Idempotency-Key placed it before.",
        "PlacedOrder",
    );
    paths.add_path_operation(
        "/api/v1/carts/{cart_id}/checkout",
        vec![HttpMethod::Post],
        cart_op(
            OperationBuilder::new()
                .operation_id(Some("checkout_post"))
                .summary(Some("Place the cart's order"))
                .description(Some(
                    "The same Idempotency-Key on the same cart answers with the same order \
                     (same number and token) and never places a second one.",
                ))
                .parameter(
                    ParameterBuilder::new()
                        .name("Idempotency-Key")
                        .parameter_in(ParameterIn::Header)
                        .required(Required::True)
                        .description(Some(
                            "1 to 200 visible ASCII characters, unique per order attempt.",
                        ))
                        .schema(Some(string().min_length(Some(1)).max_length(Some(200))))
                        .build(),
                )
                .request_body(Some(body(
                    "CheckoutRequest",
                    "Customer, delivery and payment.",
                )))
                .response("201", placed.clone())
                .response("200", placed)
                .response(
                    "400",
                    body_errors(&["idempotency_key_required", "invalid_idempotency_key"]),
                )
                .response(
                    "409",
                    err(&[
                        "cart_empty",
                        "sold_out",
                        "insufficient_stock",
                        "price_changed",
                        "unknown_sku",
                    ]),
                )
                .response("413", err(&["payload_too_large"]))
                .response("415", err(&["unsupported_media_type"]))
                .response(
                    "422",
                    err(&[
                        "required",
                        "too_long",
                        "invalid_characters",
                        "not_katakana",
                        "invalid_email",
                        "invalid_postal_code",
                        "invalid_phone",
                        "unknown_prefecture",
                        "invalid_date",
                        "date_out_of_range",
                        "unknown_choice",
                        "delivery_date_out_of_range",
                        "card_payment_unavailable",
                        "card_number_refused",
                        "coupon_unknown",
                        "coupon_not_yet_valid",
                        "coupon_expired",
                        "coupon_below_minimum",
                        "coupon_used",
                        "coupon_disabled",
                    ]),
                ),
        ),
    );
    paths.add_path_operation(
        "/api/v1/orders/{order_number}",
        vec![HttpMethod::Get],
        with_common(
            OperationBuilder::new()
                .tag("orders")
                .operation_id(Some("order_get"))
                .summary(Some("An order, read with its order token"))
                .security(bearer("order_token"))
                .parameter(path_param("order_number", "K-XXXX-XXXX"))
                .response("200", ok("The order (no personal data).", "Order"))
                .response(
                    "404",
                    ok(
                        "Error; code not_found, also for a missing or wrong token.",
                        "Error",
                    ),
                ),
        ),
    );
    paths.add_path_operation(
        "/api/openapi.json",
        vec![HttpMethod::Get],
        OperationBuilder::new()
            .tag("meta")
            .operation_id(Some("openapi_get"))
            .summary(Some("This document"))
            .response(
                "200",
                ResponseBuilder::new()
                    .description("The OpenAPI document.")
                    .content(JSON, ContentBuilder::new().build())
                    .build(),
            ),
    );
    paths
}

fn bearer_scheme(what: &str) -> SecurityScheme {
    let mut http = Http::new(HttpAuthScheme::Bearer);
    http.description = Some(what.to_string());
    SecurityScheme::Http(http)
}

/// The whole document.
pub fn document() -> OpenApi {
    let mut components = ComponentsBuilder::new()
        .security_scheme(
            "cart_token",
            bearer_scheme("The cart_token from POST /api/v1/carts."),
        )
        .security_scheme(
            "order_token",
            bearer_scheme("The order_token from the checkout answer."),
        );
    for (name, schema) in schemas() {
        components = components.schema(name, schema);
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Kura store API")
                .version("1")
                .description(Some(
                    "Catalog, carts, checkout and order status. Errors are \
                     {\"error\":{\"code\",\"field\"?,\"message\"}} with stable snake_case codes.",
                ))
                .build(),
        )
        .paths(paths())
        .components(Some(components.build()))
        .build()
}

static DOCUMENT: LazyLock<String> =
    LazyLock::new(|| document().to_json().unwrap_or_else(|_| "{}".to_string()));

pub async fn openapi_get() -> Response {
    let mut res = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        DOCUMENT.as_str(),
    )
        .into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    res
}
