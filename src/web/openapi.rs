//! The OpenAPI 3.1 document: its frame (info, servers, tags, the bearer scheme), the answers
//! every staff route shares, what the types' derives cannot say, and the route that serves it.
//! The operations and schemas come from the handlers' `#[utoipa::path]` and the types'
//! `ToSchema` (`api::routes` gathers them), so a changed type changes the document.

use super::error::ErrorBody;
use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::json;
use utoipa::openapi::schema::{KnownFormat, Object, Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{IntoResponses, Modify, OpenApi};
use utoipa_swagger_ui::{Config, SwaggerUi};

/// The document's frame; `api::routes` adds every operation and the schemas they use.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "narrator",
        version = "1",
        description = "Published explanatory text for council adult social care pages, visitors' thumbs, and the review desk. Every figure in published text was checked against the facts; ai_generated is always true."
    ),
    servers(
        (url = "/", description = "This server"),
        (url = "http://127.0.0.1:8080", description = "`narrator serve` on its default address")
    ),
    tags(
        (name = "public", description = "For the site build and its visitors: no token"),
        (name = "staff", description = "For editors, reviewers and admins: a bearer token")
    ),
    modifiers(&BearerScheme)
)]
pub(super) struct ApiDoc;

/// The `bearer` scheme the staff routes name in their `security`.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "A token from `narrator users add NAME --role ROLE` (or POST /api/v1/users).",
            ))
            .build();
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// What every staff route may answer before its handler runs.
#[derive(IntoResponses)]
#[allow(dead_code)] // Documents `Staff`'s rejections; the answers are built by `ApiError`.
pub(super) enum StaffAuthErrors {
    /// No bearer token, or one that is not valid
    #[response(status = 401, headers(("WWW-Authenticate" = String, description = "Bearer")))]
    Unauthorized(ErrorBody),
    /// Too many failed token checks from this address
    #[response(status = 429, headers(("Retry-After" = u64, description = "Seconds to wait")))]
    TooManyRequests(ErrorBody),
}

/// The document as served, serialised once when the router is built.
#[derive(Clone)]
pub(super) struct Document(pub Bytes);

/// This document
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json"))
)]
pub(super) async fn document(Extension(Document(bytes)): Extension<Document>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

/// Where the rendered document is: outside `/api/v1`, which holds only documented routes.
const DOCS_PAGE: &str = "/api/docs";

/// The document rendered for people: Swagger UI from `utoipa-swagger-ui` with its `vendored`
/// feature, which takes the Swagger UI files from a crate (`utoipa-swagger-ui-vendored`)
/// rather than downloading them at build time, and serves them from here. The CDN-loading
/// renderers (utoipa-redoc, utoipa-rapidoc, utoipa-scalar) would not work offline nor under
/// the Content-Security-Policy (`headers.rs`), which runs scripts from this origin only; this
/// one does, losing only the `data:` images of its stylesheet (a select box's arrow). Its
/// validator badge would call out to swagger.io, so it is off.
pub(super) fn page<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    let config = Config::new(["/api/v1/openapi.json"]).validator_url("none");
    SwaggerUi::new(DOCS_PAGE).config(config).into()
}

/// The generated document with what the derives cannot say, serialised.
pub(super) fn finish(mut doc: utoipa::openapi::OpenApi) -> Vec<u8> {
    refine(&mut doc);
    let mut bytes = serde_json::to_vec_pretty(&doc).expect("OpenAPI documents serialise");
    bytes.push(b'\n');
    bytes
}

/// What the derives cannot say: `ai_generated` is true wherever it appears; a section's
/// `check_status` is one of the three words `export::SectionEntry::of` writes and its
/// `approved_at` an RFC 3339 time (both `String`s to the derive); and an optional request
/// body is absent, not `null` (utoipa writes `Option<T>` as "null or T").
fn refine(doc: &mut utoipa::openapi::OpenApi) {
    let schemas = &mut doc
        .components
        .as_mut()
        .expect("the routes add their schemas")
        .schemas;
    for schema in schemas.values_mut() {
        if let RefOr::T(Schema::Object(object)) = schema {
            if let Some(RefOr::T(Schema::Object(flag))) = object.properties.get_mut("ai_generated")
            {
                flag.enum_values = Some(vec![json!(true)]);
            }
        }
    }
    let Some(RefOr::T(Schema::Object(entry))) = schemas.get_mut("SectionEntry") else {
        panic!("the published routes document SectionEntry");
    };
    property(entry, "check_status").enum_values =
        Some(vec![json!("passed"), json!("overridden"), json!("stale")]);
    property(entry, "approved_at").format = Some(SchemaFormat::KnownFormat(KnownFormat::DateTime));
    for item in doc.paths.paths.values_mut() {
        for op in [&mut item.get, &mut item.post].into_iter().flatten() {
            let Some(body) = op.request_body.as_mut() else {
                continue;
            };
            if body.required.is_some() {
                continue;
            }
            for content in body.content.values_mut() {
                if let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema {
                    if let [RefOr::T(Schema::Object(null)), inner] = one_of.items.as_slice() {
                        if null.schema_type == SchemaType::Type(Type::Null) {
                            content.schema = Some(inner.clone());
                        }
                    }
                }
            }
        }
    }
}

fn property<'a>(object: &'a mut Object, name: &str) -> &'a mut Object {
    match object.properties.get_mut(name) {
        Some(RefOr::T(Schema::Object(property))) => property,
        _ => panic!("the schema has a {name}"),
    }
}
