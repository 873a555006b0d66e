//! The web face driven in process with `oneshot`: every route's auth and roles, the OpenAPI
//! document against the router, the public API (ETags, change feed, feedback and its limits),
//! the staff API, and the review page (sign-in, CSRF, cookies, escaping).

use crate::review::{draft, seed_facts, settings, COVENTRY, FUNDING, WORKING_AGE};
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use narrator::review::Desk;
use narrator::store::Store;
use narrator::web::{self, AppState, Role};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use tower::ServiceExt;

struct App {
    _dir: tempfile::TempDir,
    router: Router,
    store: Store,
    admin: String,
    reviewer: String,
    editor: String,
}

async fn add(store: &Store, name: &str, role: Role) -> String {
    let issued = web::issue_token();
    store
        .add_user(name, role.as_str(), &issued.token_id, &issued.hash)
        .await
        .unwrap()
        .unwrap();
    issued.token
}

async fn app(votes_per_minute: f64) -> App {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("web.db").display());
    let store = Store::connect(&url).await.unwrap();
    let mut state = AppState::new(
        store.clone(),
        Arc::new(seed_facts()),
        settings(),
        None,
        votes_per_minute,
    );
    // The route-by-route tests send a forged token to every route from one address.
    state.limit_failed_sign_ins(10_000.0);
    let router = web::router(state).layer(MockConnectInfo(SocketAddr::from(([10, 0, 0, 1], 4000))));
    App {
        admin: add(&store, "ada", Role::Admin).await,
        reviewer: add(&store, "rita", Role::Reviewer).await,
        editor: add(&store, "ed", Role::Editor).await,
        _dir: dir,
        router,
        store,
    }
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn header(&self, name: header::HeaderName) -> String {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }
}

async fn call(router: &Router, req: Request<Body>) -> Answer {
    let response = router.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

fn request(method: Method, uri: &str, token: Option<&str>, json: Option<&str>) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    match json {
        Some(body) => b
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => b.body(Body::empty()).unwrap(),
    }
}

/// Staff routes, with the role each needs (`None`: any staff role).
fn staff_routes(draft: i64) -> Vec<(Method, String, Option<Role>, Option<&'static str>)> {
    let d = |p: &str| format!("/api/v1/drafts/{draft}{p}");
    vec![
        (Method::GET, "/api/v1/me".into(), None, None),
        (
            Method::GET,
            "/api/v1/queue".into(),
            Some(Role::Reviewer),
            None,
        ),
        (
            Method::POST,
            "/api/v1/queue/claim".into(),
            Some(Role::Reviewer),
            Some("{}"),
        ),
        (Method::GET, d(""), Some(Role::Reviewer), None),
        (
            Method::POST,
            d("/approve"),
            Some(Role::Reviewer),
            Some("{}"),
        ),
        (
            Method::POST,
            d("/reject"),
            Some(Role::Reviewer),
            Some(r#"{"reason":"x"}"#),
        ),
        (Method::POST, d("/skip"), Some(Role::Reviewer), None),
        (
            Method::GET,
            "/api/v1/history?area=Coventry&section=funding".into(),
            Some(Role::Reviewer),
            None,
        ),
        (
            Method::GET,
            "/api/v1/stale".into(),
            Some(Role::Reviewer),
            None,
        ),
        (Method::GET, "/api/v1/runs".into(), None, None),
        (
            Method::POST,
            "/api/v1/runs".into(),
            Some(Role::Editor),
            Some(r#"{"areas":["Coventry"]}"#),
        ),
        (Method::GET, "/api/v1/runs/1".into(), None, None),
        (Method::GET, "/api/v1/users".into(), Some(Role::Admin), None),
        (
            Method::POST,
            "/api/v1/users".into(),
            Some(Role::Admin),
            Some(r#"{"name":"new","role":"reviewer"}"#),
        ),
    ]
}

#[tokio::test]
async fn every_staff_route_answers_401_without_a_token_and_403_for_the_wrong_role() {
    let app = app(100.0).await;
    let set = seed_facts();
    let id = draft(&app.store, &set, "ed", "working-age", WORKING_AGE).await;
    for (method, uri, role, body) in staff_routes(id) {
        let none = call(&app.router, request(method.clone(), &uri, None, body)).await;
        assert_eq!(
            none.status,
            StatusCode::UNAUTHORIZED,
            "{method} {uri}: {}",
            none.text()
        );
        assert_eq!(none.header(header::WWW_AUTHENTICATE), "Bearer");
        let forged = "nar_000000000000_".to_string() + &"0".repeat(64);
        let bad = call(
            &app.router,
            request(method.clone(), &uri, Some(&forged), body),
        )
        .await;
        assert_eq!(bad.status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        let Some(role) = role else { continue };
        let wrong = match role {
            Role::Reviewer => &app.editor,
            Role::Editor | Role::Admin => &app.reviewer,
        };
        let refused = call(
            &app.router,
            request(method.clone(), &uri, Some(wrong), body),
        )
        .await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{method} {uri}: {}",
            refused.text()
        );
        assert!(refused.json()["error"]
            .as_str()
            .unwrap()
            .contains(role.as_str()));
        let right = match role {
            Role::Reviewer => &app.reviewer,
            Role::Editor => &app.editor,
            Role::Admin => &app.admin,
        };
        let allowed = call(
            &app.router,
            request(method.clone(), &uri, Some(right), body),
        )
        .await;
        assert!(
            !matches!(
                allowed.status,
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
            ),
            "{method} {uri}: {} {}",
            allowed.status,
            allowed.text()
        );
    }
}

/// The API's (method, path) pairs the document describes.
fn documented(doc: &serde_json::Value) -> BTreeSet<(Method, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            ops.insert((method, path.clone()));
        }
    }
    ops
}

/// The `/api/v1` paths the router holds. axum has no route listing, but its `Debug` output prints
/// the path table; were that to change, this finds nothing and the test fails.
fn routed_api_paths(router: &Router) -> BTreeSet<String> {
    let debug = format!("{router:?}");
    debug
        .split('"')
        .filter(|s| s.starts_with("/api/v1/"))
        .map(str::to_string)
        .collect()
}

/// Where `value` breaks `schema` (JSON Schema as OpenAPI 3.1 writes it, `$ref`s into `doc`):
/// a missing required key, a key the schema does not list, a wrong type or a value outside an
/// enum. Enough of JSON Schema for what utoipa generates.
fn breaks(
    doc: &serde_json::Value,
    schema: &serde_json::Value,
    value: &serde_json::Value,
    at: &str,
) -> Vec<String> {
    use serde_json::Value;
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.strip_prefix("#/components/schemas/").unwrap();
        let target = &doc["components"]["schemas"][name];
        assert!(!target.is_null(), "{at}: {r} is not in the document");
        return breaks(doc, target, value, at);
    }
    if let Some(branches) = schema["oneOf"].as_array() {
        let all: Vec<Vec<String>> = branches.iter().map(|b| breaks(doc, b, value, at)).collect();
        return match all.iter().any(Vec::is_empty) {
            true => Vec::new(),
            false => vec![format!("{at}: matches no oneOf branch: {all:?}")],
        };
    }
    let mut found = Vec::new();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        found.extend(breaks(doc, part, value, at));
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            found.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let typed = types.is_empty()
        || types.contains(&kind)
        || (kind == "integer" && types.contains(&"number"));
    if !typed {
        found.push(format!("{at}: a {kind}, documented as {types:?}"));
        return found;
    }
    match value {
        Value::Object(map) => {
            let properties = schema["properties"].as_object();
            for key in schema["required"].as_array().into_iter().flatten() {
                if !map.contains_key(key.as_str().unwrap()) {
                    found.push(format!("{at}: required {key} is missing"));
                }
            }
            for (key, v) in map {
                let at = format!("{at}.{key}");
                match (
                    properties.and_then(|p| p.get(key)),
                    &schema["additionalProperties"],
                ) {
                    (Some(s), _) => found.extend(breaks(doc, s, v, &at)),
                    (None, Value::Object(_)) => {
                        found.extend(breaks(doc, &schema["additionalProperties"], v, &at))
                    }
                    (None, _) if properties.is_some() => {
                        found.push(format!("{at}: not in the documented properties"))
                    }
                    (None, _) => {}
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let at = format!("{at}[{i}]");
                match schema["prefixItems"].as_array().and_then(|p| p.get(i)) {
                    Some(s) => found.extend(breaks(doc, s, v, &at)),
                    None if schema["items"].is_object() => {
                        found.extend(breaks(doc, &schema["items"], v, &at))
                    }
                    None => {}
                }
            }
        }
        _ => {}
    }
    found
}

/// Asserts an answer is one the document gives for its operation: a documented status, and
/// (for JSON) a body its schema admits.
fn assert_documented(doc: &serde_json::Value, method: &Method, path: &str, answer: &Answer) {
    let op = &doc["paths"][path][method.as_str().to_lowercase()];
    let response = &op["responses"][answer.status.as_str()];
    assert!(
        response.is_object(),
        "{method} {path} answered {}, which is not documented: {}",
        answer.status,
        answer.text()
    );
    let schema = &response["content"]["application/json"]["schema"];
    if schema.is_null() || answer.body.is_empty() {
        return;
    }
    let found = breaks(doc, schema, &answer.json(), &format!("{method} {path}"));
    assert!(found.is_empty(), "{found:#?}\n{}", answer.text());
}

async fn openapi_document(app: &App) -> Answer {
    let uri = "/api/v1/openapi.json";
    call(&app.router, request(Method::GET, uri, None, None)).await
}

#[tokio::test]
async fn the_openapi_document_describes_exactly_the_routes_the_router_serves() {
    let app = app(100.0).await;
    let served = openapi_document(&app).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.header(header::CONTENT_TYPE), "application/json");
    let doc = served.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let documented = documented(&doc);
    let paths: BTreeSet<String> = documented.iter().map(|(_, p)| p.clone()).collect();
    assert_eq!(routed_api_paths(&app.router), paths);

    // Each documented operation is routed, answers as documented, and is the only route of
    // its path under its method: a path's other methods answer 405.
    let set = seed_facts();
    let id = draft(&app.store, &set, "ed", "working-age", WORKING_AGE).await;
    for (method, path) in &documented {
        let uri = path
            .replace("{id}", &id.to_string())
            .replace("{area_code}", COVENTRY);
        let a = call(
            &app.router,
            request(method.clone(), &uri, Some(&app.admin), Some("{}")),
        )
        .await;
        assert!(
            a.status != StatusCode::NOT_FOUND || !a.body.is_empty(),
            "{method} {uri} is not routed"
        );
        assert_documented(&doc, method, path, &a);
        for other in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ] {
            if documented.contains(&(other.clone(), path.clone())) {
                continue;
            }
            let a = call(
                &app.router,
                request(other.clone(), &uri, Some(&app.admin), None),
            )
            .await;
            assert_eq!(
                a.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{other} {uri} is routed but not documented"
            );
        }
    }
}

#[tokio::test]
async fn the_rendered_document_is_served_from_here_with_no_script_from_elsewhere() {
    let app = app(100.0).await;
    let get = |uri: &str| call(&app.router, request(Method::GET, uri, None, None));
    let page = get("/api/docs/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.header(header::CONTENT_TYPE).starts_with("text/html"));
    // The Content-Security-Policy runs scripts from this origin only: every script the page
    // loads must be one this server serves.
    let html = page.text();
    let scripts: Vec<&str> = html
        .split("<script src=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    assert!(!scripts.is_empty(), "{html}");
    for src in scripts {
        assert!(src.starts_with("./"), "{src}");
        let script = get(&format!("/api/docs/{}", &src[2..])).await;
        assert_eq!(script.status, StatusCode::OK, "{src}");
        assert!(
            script.header(header::CONTENT_TYPE).contains("javascript"),
            "{src}"
        );
    }
    let init = get("/api/docs/swagger-initializer.js").await.text();
    assert!(init.contains("\"/api/v1/openapi.json\""), "{init}");
    assert!(init.contains("\"validatorUrl\": \"none\""), "{init}");
    assert!(page
        .header(header::CONTENT_SECURITY_POLICY)
        .contains("default-src 'self'"));
}

#[tokio::test]
async fn the_openapi_schemas_admit_what_the_handlers_answer() {
    let app = app(100.0).await;
    let doc = openapi_document(&app).await.json();
    let set = seed_facts();
    let id = draft(&app.store, &set, "ed", "funding", FUNDING).await;
    let token = call(
        &app.router,
        request(Method::GET, "/api/v1/published", None, None),
    )
    .await
    .header(header::HeaderName::from_static(web::NEXT_HEADER));
    let get = |uri: String, path: &'static str| {
        let (router, doc, reviewer) = (&app.router, &doc, &app.reviewer);
        async move {
            let a = call(router, request(Method::GET, &uri, Some(reviewer), None)).await;
            assert_eq!(a.status, StatusCode::OK, "{uri}: {}", a.text());
            assert_documented(doc, &Method::GET, path, &a);
            a.json()
        }
    };
    get(format!("/api/v1/drafts/{id}"), "/api/v1/drafts/{id}").await;
    get("/api/v1/queue".into(), "/api/v1/queue").await;
    let approved = approve(&app, id).await;
    assert_documented(
        &doc,
        &Method::POST,
        "/api/v1/drafts/{id}/approve",
        &approved,
    );
    assert_eq!(approved.json()["state"], "published");

    let all = get("/api/v1/published".into(), "/api/v1/published").await;
    let feed = get(
        format!("/api/v1/published?since={token}"),
        "/api/v1/published",
    )
    .await;
    assert_eq!(feed["changes"][0]["state"], "published", "{feed}");
    let area = get(
        format!("/api/v1/published/{COVENTRY}"),
        "/api/v1/published/{area_code}",
    )
    .await;
    assert_eq!(all["areas"][0], area);
    get(
        "/api/v1/history?area=Coventry&section=funding".into(),
        "/api/v1/history",
    )
    .await;

    // The section schema lists exactly the keys the handler writes: a field added to or
    // dropped from the answer without the document fails here.
    let keys = |v: &serde_json::Value| -> BTreeSet<String> {
        v.as_object().unwrap().keys().cloned().collect()
    };
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        keys(&area["sections"][0]),
        keys(&schemas["SectionEntry"]["properties"])
    );
    assert_eq!(keys(&area), keys(&schemas["AreaFile"]["properties"]));
    assert_eq!(
        keys(&feed["changes"][0]),
        keys(&schemas["Change"]["properties"])
    );
    // Limits the derives cannot read from the code that enforces them.
    assert_eq!(
        schemas["FeedbackBody"]["properties"]["comment"]["maxLength"],
        narrator::review::MAX_COMMENT_CHARS
    );
    let admin = call(
        &app.router,
        request(Method::GET, "/api/v1/users", Some(&app.admin), None),
    )
    .await;
    assert_documented(&doc, &Method::GET, "/api/v1/users", &admin);
    assert!(admin.json()[0].get("token_hash").is_none());
}

/// The reviewer's approval of draft `id`, as is.
async fn approve(app: &App, id: i64) -> Answer {
    let uri = format!("/api/v1/drafts/{id}/approve");
    call(
        &app.router,
        request(Method::POST, &uri, Some(&app.reviewer), Some("{}")),
    )
    .await
}

/// Publishes a draft of `section` and returns its version id.
async fn publish(app: &App, section: &str, text: &str) -> i64 {
    let set = seed_facts();
    let id = draft(&app.store, &set, "ed", section, text).await;
    let a = approve(app, id).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    a.json()["version_id"].as_i64().unwrap()
}

#[tokio::test]
async fn published_text_has_strong_etags_and_a_change_feed_that_reports_withdrawals() {
    let app = app(100.0).await;
    let empty = call(
        &app.router,
        request(Method::GET, "/api/v1/published", None, None),
    )
    .await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(empty.json()["areas"], serde_json::json!([]));
    let token = empty.header(header::HeaderName::from_static(web::NEXT_HEADER));
    assert!(!token.is_empty() && empty.json().get("next").is_none());

    let v = publish(&app, "funding", FUNDING).await;
    let all = call(
        &app.router,
        request(Method::GET, "/api/v1/published", None, None),
    )
    .await;
    let etag = all.header(header::ETAG);
    assert!(etag.starts_with('"') && etag.len() == 66, "{etag}");
    assert_eq!(all.json()["areas"][0]["sections"][0]["version_id"], v);
    assert_eq!(all.json()["areas"][0]["sections"][0]["ai_generated"], true);
    let again = call(
        &app.router,
        Request::get("/api/v1/published")
            .header(header::IF_NONE_MATCH, &etag)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());

    // One area: the export's bytes, and the index's hash as its ETag.
    let area = call(
        &app.router,
        request(
            Method::GET,
            &format!("/api/v1/published/{COVENTRY}"),
            None,
            None,
        ),
    )
    .await;
    let out = tempfile::tempdir().unwrap();
    narrator::export::export(&app.store, out.path(), narrator::export::StalePolicy::Keep)
        .await
        .unwrap();
    assert_eq!(
        area.body,
        std::fs::read(out.path().join(format!("{COVENTRY}.json"))).unwrap()
    );
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("index.json")).unwrap()).unwrap();
    assert_eq!(
        area.header(header::ETAG),
        format!("\"{}\"", index["files"][0]["sha256"].as_str().unwrap())
    );
    let missing = call(
        &app.router,
        request(Method::GET, "/api/v1/published/E06000001", None, None),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // The feed since the first token names the page; a withdrawal shows as such.
    let feed = call(
        &app.router,
        request(
            Method::GET,
            &format!("/api/v1/published?since={token}"),
            None,
            None,
        ),
    )
    .await;
    let changes = feed.json()["changes"].clone();
    assert_eq!(changes[0]["state"], "published");
    assert_eq!(changes[0]["entry"]["version_id"], v);
    let next = feed.header(header::HeaderName::from_static(web::NEXT_HEADER));
    let set = seed_facts();
    let desk = Desk::new(
        &app.store,
        &set,
        narrator::review::ReviewSettings {
            down_vote_threshold: 1,
            ..settings()
        },
    );
    desk.vote(
        v,
        &narrator::store::Voter::Staff("sam".into()),
        narrator::store::Vote::Down,
        None,
    )
    .await
    .unwrap();
    let item = app
        .store
        .published_version(COVENTRY, "funding")
        .await
        .unwrap()
        .unwrap()
        .draft_id;
    desk.reject("rita", item, "misleading").await.unwrap();
    let feed = call(
        &app.router,
        request(
            Method::GET,
            &format!("/api/v1/published?since={next}"),
            None,
            None,
        ),
    )
    .await;
    let withdrawn = feed.json()["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["section"] == "funding" && c["state"] == "withdrawn");
    assert!(withdrawn, "{}", feed.text());
    let bad = call(
        &app.router,
        request(Method::GET, "/api/v1/published?since=yesterday", None, None),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // A client that polls with each answer's position stops seeing a change once it is
    // older than the five-second window.
    let newest = feed.header(header::HeaderName::from_static(web::NEXT_HEADER));
    let (id, _) = newest.split_once('.').unwrap();
    let later = format!("{id}.{}", narrator::store::now_ms() + 6_000);
    let quiet = call(
        &app.router,
        request(
            Method::GET,
            &format!("/api/v1/published?since={later}"),
            None,
            None,
        ),
    )
    .await;
    assert_eq!(
        quiet.json()["changes"],
        serde_json::json!([]),
        "{}",
        quiet.text()
    );
    // Weak comparison: a proxy's W/ prefix still matches.
    let etag = call(
        &app.router,
        request(Method::GET, "/api/v1/published", None, None),
    )
    .await
    .header(header::ETAG);
    let weak = call(
        &app.router,
        Request::get("/api/v1/published")
            .header(header::IF_NONE_MATCH, format!("W/{etag}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(weak.status, StatusCode::NOT_MODIFIED);
    assert!(!weak
        .header(header::HeaderName::from_static(web::NEXT_HEADER))
        .is_empty());
}

#[tokio::test]
async fn visitors_vote_once_with_clear_errors_and_a_limit_per_address() {
    let app = app(5.0).await;
    let v = publish(&app, "funding", FUNDING).await;
    let uri = format!("/api/v1/versions/{v}/feedback");
    let vote = |body: &str| request(Method::POST, &uri, None, Some(body));
    let ok = call(&app.router, vote(r#"{"vote":"up"}"#)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    // The server issues the visitor's identity: HttpOnly, for the API only.
    let set_cookie = ok.header(header::SET_COOKIE);
    assert!(set_cookie.starts_with("narrator_visitor="), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("Path=/api/v1"));
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let mut again = vote(r#"{"vote":"down","comment":"unclear"}"#);
    again
        .headers_mut()
        .insert(header::COOKIE, cookie.parse().unwrap());
    let changed = call(&app.router, again).await;
    assert_eq!(
        (
            changed.json()["up"].as_i64(),
            changed.json()["down"].as_i64()
        ),
        (Some(0), Some(1))
    );
    assert_eq!(
        changed.header(header::SET_COOKIE),
        "",
        "the same identity kept"
    );
    let bad_json = call(&app.router, vote("{not json")).await;
    assert_eq!(bad_json.status, StatusCode::BAD_REQUEST);
    assert!(bad_json.json()["error"].is_string());
    let unknown_field = call(&app.router, vote(r#"{"vote":"up","x":1}"#)).await;
    assert_eq!(unknown_field.status, StatusCode::UNPROCESSABLE_ENTITY);
    let long = format!(r#"{{"vote":"up","comment":"{}"}}"#, "x".repeat(1001));
    let too_long = call(&app.router, vote(&long)).await;
    assert_eq!(too_long.status, StatusCode::BAD_REQUEST);
    assert!(too_long.json()["error"].as_str().unwrap().contains("1000"));
    // The limit (5 a minute) is spent: the sixth vote from this address waits.
    let limited = call(&app.router, vote(r#"{"vote":"up"}"#)).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    // One vote comes back every 12 s at 5 a minute.
    assert_eq!(limited.header(header::RETRY_AFTER), "12");

    // A fresh limit for the remaining cases.
    let app = app_with_votes(&app, 100.0);
    // A token the visitor chose is refused as a field, and a cookie the server did not sign
    // is replaced by one it did.
    let chosen = call(
        &app,
        request(
            Method::POST,
            &uri,
            None,
            Some(r#"{"vote":"up","visitor_token":"token-of-visitor-1"}"#),
        ),
    )
    .await;
    assert_eq!(chosen.status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut forged = request(Method::POST, &uri, None, Some(r#"{"vote":"up"}"#));
    forged.headers_mut().insert(
        header::COOKIE,
        "narrator_visitor=0123456789abcdef0123456789abcdef.00"
            .parse()
            .unwrap(),
    );
    let replaced = call(&app, forged).await;
    assert_eq!(replaced.status, StatusCode::OK);
    assert!(replaced
        .header(header::SET_COOKIE)
        .starts_with("narrator_visitor="));
    let no_type = Request::post(&uri)
        .body(Body::from(r#"{"vote":"up"}"#))
        .unwrap();
    assert_eq!(
        call(&app, no_type).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let unknown = call(
        &app,
        request(
            Method::POST,
            "/api/v1/versions/9999/feedback",
            None,
            Some(r#"{"vote":"up"}"#),
        ),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let huge = format!(r#"{{"vote":"up","comment":"{}"}}"#, "x".repeat(100_000));
    let with_length = Request::post(&uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, huge.len())
        .body(Body::from(huge.clone()))
        .unwrap();
    let too_big = call(&app, with_length).await;
    assert_eq!(too_big.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        too_big.json()["error"].is_string(),
        "a JSON error: {}",
        too_big.text()
    );
    // A path that is not a number: a JSON error too.
    let bad_path = call(
        &app,
        request(
            Method::POST,
            "/api/v1/versions/abc/feedback",
            None,
            Some("{}"),
        ),
    )
    .await;
    assert_eq!(bad_path.status, StatusCode::BAD_REQUEST);
    assert!(bad_path.json()["error"].is_string());
}

/// A fresh state (its own limits and caches) over the same store.
fn state_of(app: &App, votes_per_minute: f64) -> AppState {
    AppState::new(
        app.store.clone(),
        Arc::new(seed_facts()),
        settings(),
        None,
        votes_per_minute,
    )
}

/// The same store behind a router with another vote limit.
fn app_with_votes(app: &App, votes_per_minute: f64) -> Router {
    let state = state_of(app, votes_per_minute);
    web::router(state).layer(MockConnectInfo(SocketAddr::from(([10, 0, 0, 2], 4000))))
}

#[tokio::test]
async fn reviewers_work_the_queue_through_the_api() {
    let app = app(100.0).await;
    let set = seed_facts();
    let id = draft(&app.store, &set, "ed", "funding", FUNDING).await;
    let r = |m: Method, uri: &str, body: Option<&str>| request(m, uri, Some(&app.reviewer), body);

    let queue = call(
        &app.router,
        r(Method::GET, "/api/v1/queue?area=Coventry", None),
    )
    .await;
    assert_eq!(queue.json()[0]["draft_id"], id);
    let claimed = call(&app.router, r(Method::POST, "/api/v1/queue/claim", None)).await;
    assert_eq!(claimed.json()["claim_holder"], "rita");
    // Claiming again renews rita's own claim; another reviewer finds nothing to claim.
    let renewed = call(
        &app.router,
        r(Method::POST, "/api/v1/queue/claim", Some("{}")),
    )
    .await;
    assert_eq!(renewed.json()["draft_id"], id);
    let nothing = call(
        &app.router,
        request(
            Method::POST,
            "/api/v1/queue/claim",
            Some(&app.admin),
            Some("{}"),
        ),
    )
    .await;
    assert_eq!(nothing.status, StatusCode::NO_CONTENT);
    let view = call(
        &app.router,
        r(Method::GET, &format!("/api/v1/drafts/{id}"), None),
    )
    .await;
    assert_eq!(view.json()["report"]["pass"], true);

    let wrong = serde_json::json!({ "text": FUNDING.replace("46,992", "48,992") }).to_string();
    let refused = call(
        &app.router,
        r(
            Method::POST,
            &format!("/api/v1/drafts/{id}/approve"),
            Some(&wrong),
        ),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.json()["details"]["pass"], false);
    let approved = call(
        &app.router,
        r(
            Method::POST,
            &format!("/api/v1/drafts/{id}/approve"),
            Some("{}"),
        ),
    )
    .await;
    assert_eq!(approved.json()["state"], "published");
    let twice = call(
        &app.router,
        r(
            Method::POST,
            &format!("/api/v1/drafts/{id}/approve"),
            Some("{}"),
        ),
    )
    .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);

    // Separation of duties: an admin who started the run may not approve its drafts.
    let own = draft(&app.store, &set, "ada", "working-age", WORKING_AGE).await;
    let sod = call(
        &app.router,
        request(
            Method::POST,
            &format!("/api/v1/drafts/{own}/approve"),
            Some(&app.admin),
            Some("{}"),
        ),
    )
    .await;
    assert_eq!(sod.status, StatusCode::FORBIDDEN);
    let skip = call(
        &app.router,
        r(Method::POST, &format!("/api/v1/drafts/{own}/skip"), None),
    )
    .await;
    assert_eq!(skip.json()["state"], "skipped");
    let no_reason = call(
        &app.router,
        r(
            Method::POST,
            &format!("/api/v1/drafts/{own}/reject"),
            Some(r#"{"reason":" "}"#),
        ),
    )
    .await;
    assert_eq!(no_reason.status, StatusCode::BAD_REQUEST);
    let rejected = call(
        &app.router,
        r(
            Method::POST,
            &format!("/api/v1/drafts/{own}/reject"),
            Some(r#"{"reason":"off topic"}"#),
        ),
    )
    .await;
    assert_eq!(rejected.json()["state"], "rejected");

    let history = call(
        &app.router,
        r(
            Method::GET,
            "/api/v1/history?area=E08000026&section=funding",
            None,
        ),
    )
    .await;
    let entries = history.json();
    let actions: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"approved"), "{actions:?}");
    let missing = call(
        &app.router,
        r(Method::GET, "/api/v1/history?area=Coventry", None),
    )
    .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);

    // Runs: this router has no model, so starting one is refused clearly; status works.
    let start = call(
        &app.router,
        request(
            Method::POST,
            "/api/v1/runs",
            Some(&app.editor),
            Some(r#"{"areas":["Coventry"]}"#),
        ),
    )
    .await;
    assert_eq!(start.status, StatusCode::CONFLICT, "{}", start.text());
    let run = call(&app.router, r(Method::GET, "/api/v1/runs/1", None)).await;
    assert_eq!(run.json()["by_status"]["needs_review"], 1);

    // Admins add users; the token answers once and works at once.
    let added = call(
        &app.router,
        request(
            Method::POST,
            "/api/v1/users",
            Some(&app.admin),
            Some(r#"{"name":"sam","role":"reviewer"}"#),
        ),
    )
    .await;
    assert_eq!(added.status, StatusCode::CREATED);
    let token = added.json()["token"].as_str().unwrap().to_string();
    let me = call(
        &app.router,
        request(Method::GET, "/api/v1/me", Some(&token), None),
    )
    .await;
    assert_eq!(
        (me.json()["name"].as_str(), me.json()["role"].as_str()),
        (Some("sam"), Some("reviewer"))
    );
    let listed = call(
        &app.router,
        request(Method::GET, "/api/v1/users", Some(&app.admin), None),
    )
    .await;
    assert!(!listed.text().contains(&token) && !listed.text().contains("argon2"));
    let dup = call(
        &app.router,
        request(
            Method::POST,
            "/api/v1/users",
            Some(&app.admin),
            Some(r#"{"name":"sam","role":"editor"}"#),
        ),
    )
    .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
}

/// Signs in through the page and returns the session cookie.
async fn sign_in(router: &Router, token: &str) -> String {
    sign_in_to(router, token, "/review/queue").await
}

/// Signs in and checks where the page sends this member of staff first.
async fn sign_in_to(router: &Router, token: &str, landing: &str) -> String {
    let form = call(
        router,
        Request::get("/review/sign-in").body(Body::empty()).unwrap(),
    )
    .await;
    let cookie = form.header(header::SET_COOKIE);
    let csrf_cookie = cookie.split(';').next().unwrap().to_string();
    let csrf = csrf_cookie.split('=').nth(1).unwrap().to_string();
    assert!(form.text().contains(&format!("value=\"{csrf}\"")));
    let body = format!("csrf={csrf}&token={token}");
    let done = call(
        router,
        Request::post("/review/sign-in")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, &csrf_cookie)
            .body(Body::from(body))
            .unwrap(),
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    assert_eq!(done.header(header::LOCATION), landing);
    let session = done
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("narrator_session="))
        .unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(session.contains(attribute), "{session}");
    }
    session.split(';').next().unwrap().to_string()
}

/// The sign-in form's cookie (`name=value`) and the CSRF token it carries.
async fn sign_in_form(router: &Router) -> (String, String) {
    let form_page = call(
        router,
        Request::get("/review/sign-in").body(Body::empty()).unwrap(),
    )
    .await;
    let cookie = form_page
        .header(header::SET_COOKIE)
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf = csrf_of(&form_page.text());
    (cookie, csrf)
}

fn page(uri: &str, cookie: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

fn form(uri: &str, cookie: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_review_page_signs_in_escapes_everything_and_refuses_forms_without_their_token() {
    let app = app(100.0).await;
    let set = seed_facts();
    // LLM text that tries to run script: shown as text, never as markup.
    let hostile =
        format!("{WORKING_AGE} <script>alert('x')</script><img src=x onerror=alert('y')>");
    let id = draft(&app.store, &set, "ed", "working-age", &hostile).await;

    let anonymous = call(
        &app.router,
        Request::get("/review/queue").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(anonymous.header(header::LOCATION), "/review/sign-in");
    let bad_csrf = call(
        &app.router,
        Request::post("/review/sign-in")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, "narrator_sign_in=abc")
            .body(Body::from(format!("csrf=xyz&token={}", app.reviewer)))
            .unwrap(),
    )
    .await;
    assert_eq!(bad_csrf.status, StatusCode::FORBIDDEN);
    let wrong_token = {
        let (c, csrf) = sign_in_form(&app.router).await;
        call(
            &app.router,
            form(
                "/review/sign-in",
                &c,
                &format!("csrf={csrf}&token=nar_nope"),
            ),
        )
        .await
    };
    assert_eq!(wrong_token.status, StatusCode::UNAUTHORIZED);

    let cookie = sign_in(&app.router, &app.reviewer).await;
    let queue = call(&app.router, page("/review/queue", &cookie)).await;
    assert_eq!(queue.status, StatusCode::OK);
    assert!(
        queue.text().contains(&format!("/review/drafts/{id}")),
        "{}",
        queue.text()
    );
    let draft_page = call(&app.router, page(&format!("/review/drafts/{id}"), &cookie)).await;
    let html = draft_page.text();
    assert!(html.contains("&lt;script&gt;alert("), "{html}");
    assert!(
        !html.contains("<script>alert") && !html.contains("<img src=x"),
        "unescaped model text"
    );
    assert!(
        html.contains("<mark class=\"ok\""),
        "figures are highlighted"
    );
    assert!(html.contains("source: "), "each figure's fact is given");

    // A form with another token changes nothing.
    let forged = call(
        &app.router,
        form(
            &format!("/review/drafts/{id}/approve"),
            &cookie,
            "csrf=forged&text=",
        ),
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(app
        .store
        .published_version(COVENTRY, "working-age")
        .await
        .unwrap()
        .is_none());
    // With the page's token, the reviewer's edit is checked, and publishes when it passes.
    let csrf = csrf_of(&html);
    let body = format!(
        "csrf={csrf}&text={}&override_reason=",
        urlencode(WORKING_AGE)
    );
    let approved = call(
        &app.router,
        form(&format!("/review/drafts/{id}/approve"), &cookie, &body),
    )
    .await;
    assert_eq!(
        approved.status,
        StatusCode::SEE_OTHER,
        "{}",
        approved.text()
    );
    let live = app
        .store
        .published_version(COVENTRY, "working-age")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live.text, WORKING_AGE);
    assert!(live.edited);

    let history = call(
        &app.router,
        page("/review/history?area=Coventry&section=working-age", &cookie),
    )
    .await;
    assert!(history.text().contains("approved with edits"));
    for uri in ["/review/runs", "/review/runs/1", "/review/stale"] {
        let a = call(&app.router, page(uri, &cookie)).await;
        assert_eq!(a.status, StatusCode::OK, "{uri}");
    }
    let out = call(
        &app.router,
        form("/review/sign-out", &cookie, &format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let after = call(&app.router, page("/review/queue", &cookie)).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER, "the session ended");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn every_review_page_form_refuses_a_wrong_csrf_token_and_editors_start_at_runs() {
    let app = app(100.0).await;
    let set = seed_facts();
    let id = draft(&app.store, &set, "ed", "working-age", WORKING_AGE).await;
    let cookie = sign_in(&app.router, &app.reviewer).await;
    for (uri, body) in [
        ("/review/sign-out".to_string(), "csrf=forged"),
        ("/review/claim".to_string(), "csrf=forged&area=&section="),
        (format!("/review/drafts/{id}/claim"), "csrf=forged"),
        (format!("/review/drafts/{id}/approve"), "csrf=forged&text=x"),
        (
            format!("/review/drafts/{id}/reject"),
            "csrf=forged&reason=x",
        ),
        (format!("/review/drafts/{id}/skip"), "csrf=forged"),
        ("/review/runs".to_string(), "csrf=forged&area=Coventry"),
    ] {
        let a = call(&app.router, form(&uri, &cookie, body)).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{uri}");
    }
    let item = app.store.review_item(id).await.unwrap().unwrap();
    assert_eq!(
        (item.state.as_str(), item.claim_holder),
        ("needs_review", None),
        "nothing changed"
    );
    // Still signed in: the sign-out form was refused too.
    let queue = call(&app.router, page("/review/queue", &cookie)).await;
    assert_eq!(queue.status, StatusCode::OK);
    assert_eq!(queue.header(header::X_FRAME_OPTIONS), "DENY");
    assert_eq!(queue.header(header::CACHE_CONTROL), "no-store");

    // Editors land on the runs page, and their navigation offers no queue.
    let editor = sign_in_to(&app.router, &app.editor, "/review/runs").await;
    let runs = call(&app.router, page("/review/runs", &editor)).await;
    assert!(
        !runs.text().contains("href=\"/review/queue\""),
        "{}",
        runs.text()
    );
    let refused = call(&app.router, page("/review/queue", &editor)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

/// Every state-changing form of the review page and the fields it sends besides `csrf`.
fn review_page_forms(id: i64) -> Vec<(String, &'static str)> {
    vec![
        ("/review/sign-out".to_string(), ""),
        ("/review/claim".to_string(), "area=&section="),
        (format!("/review/drafts/{id}/claim"), ""),
        (format!("/review/drafts/{id}/approve"), "text=x"),
        (format!("/review/drafts/{id}/reject"), "reason=x"),
        (format!("/review/drafts/{id}/skip"), ""),
        ("/review/runs".to_string(), "area=Coventry"),
    ]
}

#[tokio::test]
async fn review_page_forms_act_only_on_their_own_sessions_token() {
    let app = app(100.0).await;
    let set = seed_facts();
    let id = draft(&app.store, &set, "ed", "working-age", WORKING_AGE).await;
    let rita = sign_in(&app.router, &app.reviewer).await;
    let ada = sign_in(&app.router, &app.admin).await;
    let adas_token = csrf_of(&call(&app.router, page("/review/queue", &ada)).await.text());
    let with = |fields: &str, csrf: &str| {
        [fields, &format!("csrf={csrf}")]
            .into_iter()
            .filter(|f| !f.is_empty())
            .collect::<Vec<_>>()
            .join("&")
    };
    let routes = review_page_forms(id);
    // Every POST route of the review page is in the list (sign-in has its own test).
    let posted: BTreeSet<&str> = routes.iter().map(|(uri, _)| uri.as_str()).collect();
    for uri in [
        "/review",
        "/review/queue",
        "/review/stale",
        "/review/history",
        &format!("/review/drafts/{id}"),
        "/review/runs/1",
    ] {
        let a = call(&app.router, form(uri, &rita, &with("", &adas_token))).await;
        assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED, "{uri}");
        assert!(!posted.contains(uri));
    }
    for (uri, fields) in &routes {
        // Another session's token, valid for that session only.
        let a = call(&app.router, form(uri, &rita, &with(fields, &adas_token))).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{uri}");
        let html = a.text();
        assert!(
            html.contains("Not allowed") && html.contains("security token did not match"),
            "{uri}: {html}"
        );
        assert!(html.contains("rita (reviewer)"), "{uri}: {html}");
        // No token at all.
        let a = call(&app.router, form(uri, &rita, fields)).await;
        assert!(a.status.is_client_error(), "{uri}: {}", a.status);
        assert_ne!(
            a.status,
            StatusCode::FORBIDDEN,
            "{uri}: the form is not one"
        );
        // A token but no session: nothing to match it against.
        let a = call(&app.router, form(uri, "", &with(fields, &adas_token))).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{uri}");
        assert_eq!(a.header(header::LOCATION), "/review/sign-in", "{uri}");
    }
    let item = app.store.review_item(id).await.unwrap().unwrap();
    assert_eq!(
        (item.state.as_str(), item.claim_holder),
        ("needs_review", None),
        "nothing changed"
    );
    for cookie in [&rita, &ada] {
        let queue = call(&app.router, page("/review/queue", cookie)).await;
        assert_eq!(queue.status, StatusCode::OK, "both still signed in");
    }
    // The sign-in form's token belongs to its own cookie too.
    let (cookie, _) = sign_in_form(&app.router).await;
    let (_, other) = sign_in_form(&app.router).await;
    let body = format!("csrf={other}&token={}", urlencode(&app.reviewer));
    let refused = call(&app.router, form("/review/sign-in", &cookie, &body)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.text().contains("The form expired"));

    // With the session's own token, a form of the token alone acts.
    let ritas_token = csrf_of(&call(&app.router, page("/review/queue", &rita)).await.text());
    let uri = format!("/review/drafts/{id}/claim");
    let claimed = call(&app.router, form(&uri, &rita, &with("", &ritas_token))).await;
    assert_eq!(claimed.status, StatusCode::SEE_OTHER, "{}", claimed.text());
    assert_eq!(
        claimed.header(header::LOCATION),
        format!("/review/drafts/{id}?done=claimed")
    );
}

#[test]
fn a_new_token_keeps_a_disabled_user_disabled_until_enabled() {
    use crate::helpers::{narrator, stderr, stdout};
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("narrator.db").display());
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--database-url", &db]);
        let out = narrator(&all);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        out
    };
    let listed = |name: &str| {
        stdout(&run(&["users", "list"]))
            .lines()
            .find(|l| l.starts_with(name))
            .map(str::to_string)
            .unwrap()
    };
    run(&["users", "add", "rita", "--role", "reviewer"]);
    run(&["users", "disable", "rita"]);
    let token = run(&["users", "token", "rita"]);
    assert!(stdout(&token).trim().starts_with("nar_"));
    assert!(
        stderr(&token).contains("still disabled") && stderr(&token).contains("users enable rita"),
        "{}",
        stderr(&token)
    );
    assert!(listed("rita").contains("disabled"), "{}", listed("rita"));
    let enabled = run(&["users", "enable", "rita"]);
    assert!(stdout(&enabled).contains("rita is enabled"));
    assert!(!listed("rita").contains("disabled"), "{}", listed("rita"));
    let missing = narrator(&["users", "enable", "nobody", "--database-url", &db]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("no user \"nobody\""),
        "{}",
        stderr(&missing)
    );
}

#[tokio::test]
async fn failed_token_checks_are_limited_per_address_whether_the_id_exists_or_not() {
    let app = app(100.0).await;
    // The default limit, one router (and so one count) per client address.
    let at = |ip: [u8; 4]| {
        let state = state_of(&app, 100.0);
        web::router(state).layer(MockConnectInfo(SocketAddr::from((ip, 4000))))
    };
    let (router, other) = (at([10, 0, 0, 3]), at([10, 0, 0, 4]));
    let me = |token: &str| request(Method::GET, "/api/v1/me", Some(token), None);
    // A known id with a wrong secret, an unknown id, and a token of the wrong shape: all 401
    // with one message, and each counts against the address.
    let known_id = format!("{}{}", &app.admin[..17], "0".repeat(64));
    let unknown_id = format!("nar_000000000000_{}", "0".repeat(64));
    let mut messages = BTreeSet::new();
    for i in 0..web::FAILED_SIGN_INS_PER_MINUTE as usize {
        let token = [known_id.as_str(), unknown_id.as_str(), "nonsense"][i % 3];
        let refused = call(&router, me(token)).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "attempt {i}");
        messages.insert(refused.json()["error"].as_str().unwrap().to_string());
    }
    assert_eq!(messages.len(), 1, "{messages:?}");
    // Past the limit the address is refused before any check, a valid token included.
    for token in [unknown_id.as_str(), app.admin.as_str()] {
        let limited = call(&router, me(token)).await;
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(limited.json()["error"]
            .as_str()
            .unwrap()
            .contains("failed token checks"));
        assert!(limited.header(header::RETRY_AFTER).parse::<u64>().unwrap() >= 1);
    }
    // The sign-in form shares the count: its page says so with 429.
    let (cookie, csrf) = sign_in_form(&router).await;
    let body = format!("token={}&csrf={csrf}", urlencode(&app.admin));
    let signed = call(&router, form("/review/sign-in", &cookie, &body)).await;
    assert_eq!(signed.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        signed.text().contains("Too many failed sign-ins"),
        "{}",
        signed.text()
    );
    // Another address is not held back, and a valid token never uses up the allowance.
    for _ in 0..20 {
        assert_eq!(call(&other, me(&app.admin)).await.status, StatusCode::OK);
    }
}

/// A server on a real socket with short limits, for the slow-client cases.
async fn listening(limits: web::Limits) -> (SocketAddr, tokio::sync::oneshot::Sender<()>, App) {
    let app = app(100.0).await;
    let state = state_of(&app, 100.0);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(web::serve_connections(
        listener,
        web::router(state),
        limits,
        async {
            let _ = stopped.await;
        },
    ));
    (addr, stop, app)
}

/// Reads until the server closes the connection (or 20 s pass): what it sent.
async fn read_to_close(stream: &mut tokio::net::TcpStream) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        stream.read_to_end(&mut out),
    )
    .await;
    match read {
        Ok(_) => Some(String::from_utf8_lossy(&out).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test]
async fn slow_clients_are_cut_off_and_connections_past_the_cap_wait() {
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;
    let limits = web::Limits {
        header_read: std::time::Duration::from_secs(1),
        request: std::time::Duration::from_secs(1),
        connections: 1,
    };
    let (addr, stop, _app) = listening(limits).await;

    // A client trickling its headers, a byte every 200 ms, is closed once the head has
    // taken longer than the header-read timeout, though it never stopped sending.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /api/v1/published HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let trickle = tokio::spawn(async move {
        let started = std::time::Instant::now();
        for _ in 0..100 {
            if slow.write_all(b"a").await.is_err() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        let _ = slow.flush().await;
        (slow, started.elapsed())
    });
    // Meanwhile (one connection allowed) a second client waits in the backlog: its request
    // is answered only after the slow one is gone.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let mut waiting = TcpStream::connect(addr).await.unwrap();
    waiting
        .write_all(b"GET /api/v1/published HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut waiting)
        .await
        .expect("answered once a slot was free");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let (mut slow, trickled) = trickle.await.unwrap();
    // Writes into a closed socket fail within a few tries; 100 writes would take 20 s.
    assert!(
        trickled < std::time::Duration::from_secs(15),
        "the trickling client was never cut off ({trickled:?})"
    );
    let cut = read_to_close(&mut slow).await.unwrap_or_default();
    assert!(!cut.contains("200 OK"), "{cut}");

    // A client that sends its head but not the body it announced gets 408 once the request
    // timeout passes, and the connection closes.
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(
            b"POST /api/v1/versions/1/feedback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"vote\":",
        )
        .await
        .unwrap();
    let timed_out = read_to_close(&mut stalled)
        .await
        .expect("closed by the server");
    assert!(timed_out.starts_with("HTTP/1.1 408"), "{timed_out}");
    stop.send(()).unwrap();
}

#[tokio::test]
async fn votes_stuffed_from_one_address_count_once_and_never_requeue() {
    let app = app(100.0).await;
    let v = publish(&app, "funding", FUNDING).await;
    let uri = format!("/api/v1/versions/{v}/feedback");
    // Ten down votes, each without a cookie (a fresh identity every time) and from one
    // address: the threshold (3 in these settings) would have been passed three times over.
    for _ in 0..10 {
        let stuffed = call(
            &app.router,
            request(Method::POST, &uri, None, Some(r#"{"vote":"down"}"#)),
        )
        .await;
        assert_eq!(stuffed.status, StatusCode::OK, "{}", stuffed.text());
        assert_eq!(stuffed.json()["down"], 1);
    }
    let queue = call(
        &app.router,
        request(Method::GET, "/api/v1/queue", Some(&app.reviewer), None),
    )
    .await;
    assert_eq!(
        queue.json().as_array().unwrap().len(),
        0,
        "{}",
        queue.text()
    );
    let published = call(
        &app.router,
        request(Method::GET, "/api/v1/published/E08000026", None, None),
    )
    .await;
    assert!(
        published.text().contains(r#""down":1"#) || published.text().contains(r#""down": 1"#),
        "{}",
        published.text()
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_votes_count_by_the_forwarded_client() {
    let app = app(100.0).await;
    let v = publish(&app, "funding", FUNDING).await;
    let uri = format!("/api/v1/versions/{v}/feedback");
    let router = |trusted: bool| {
        let mut state = state_of(&app, 100.0);
        if trusted {
            state.trusted_proxies = Arc::new(vec!["10.0.0.9".parse().unwrap()]);
        }
        web::router(state).layer(MockConnectInfo(SocketAddr::from(([10, 0, 0, 9], 4000))))
    };
    let vote = |client: &str| {
        let mut r = request(Method::POST, &uri, None, Some(r#"{"vote":"down"}"#));
        // What a client wrote first, then what the proxy appended.
        r.headers_mut().insert(
            "x-forwarded-for",
            format!("203.0.113.1, {client}").parse().unwrap(),
        );
        r
    };
    // Not trusted: the header is the client's own invention, and every vote is the proxy's.
    let untrusted = router(false);
    for client in ["198.51.100.1", "192.0.2.1"] {
        let out = call(&untrusted, vote(client)).await;
        assert_eq!(out.json()["down"], 1);
    }
    // Trusted: the address the proxy appended counts, the client's own entry does not.
    let trusted = router(true);
    let mut last = serde_json::Value::Null;
    for client in ["198.51.100.1", "198.51.100.2", "192.0.2.1", "2001:db8::1"] {
        last = call(&trusted, vote(client)).await.json();
    }
    // 198.51.100.0/24 is one network, 192.0.2.0/24 another, 2001:db8::/48 a third, and the
    // untrusted votes' network (10.0.0.0/24) a fourth.
    assert_eq!(last["down"], 4, "{last}");
}

#[tokio::test]
async fn headers_keep_forms_and_base_here_and_hsts_follows_a_trusted_proxys_https() {
    let app = app(100.0).await;
    let get = |router: &Router, proto: Option<&str>| {
        let router = router.clone();
        let proto = proto.map(str::to_string);
        async move {
            let mut r = Request::get("/api/v1/published")
                .body(Body::empty())
                .unwrap();
            if let Some(p) = proto {
                r.headers_mut()
                    .insert("x-forwarded-proto", p.parse().unwrap());
            }
            call(&router, r).await
        }
    };
    let plain = get(&app.router, None).await;
    let csp = plain.header(header::CONTENT_SECURITY_POLICY);
    assert!(
        csp.contains("form-action 'self'") && csp.contains("base-uri 'none'"),
        "{csp}"
    );
    assert_eq!(plain.header(header::STRICT_TRANSPORT_SECURITY), "");
    // Anyone may send the header: from a client it means nothing.
    let claimed = get(&app.router, Some("https")).await;
    assert_eq!(claimed.header(header::STRICT_TRANSPORT_SECURITY), "");
    // From a trusted proxy it says the client came over https.
    let mut state = state_of(&app, 100.0);
    state.trusted_proxies = Arc::new(vec!["10.0.0.7".parse().unwrap()]);
    let proxied =
        web::router(state).layer(MockConnectInfo(SocketAddr::from(([10, 0, 0, 7], 4000))));
    let https = get(&proxied, Some("https")).await;
    assert_eq!(
        https.header(header::STRICT_TRANSPORT_SECURITY),
        "max-age=31536000"
    );
    assert_eq!(
        get(&proxied, Some("http"))
            .await
            .header(header::STRICT_TRANSPORT_SECURITY),
        ""
    );
}
