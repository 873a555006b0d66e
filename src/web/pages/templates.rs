//! The review page's templates: parsed once, HTML-escaped, strict about undefined values,
//! with the functions that name councils and sections as people do.

use minijinja::Environment;

pub fn environment(facts: std::sync::Arc<crate::facts::FactSet>) -> Environment<'static> {
    let mut env = Environment::new();
    // Pages name councils and sections as people do; a code the data no longer holds is
    // shown as it is.
    let areas = facts.clone();
    env.add_function("area_name", move |code: &str| area_name(&areas, code));
    env.add_function("section_title", move |id: &str| section_title(&facts, id));
    // Names end in .html, so minijinja escapes every value for HTML.
    for (name, source) in [
        ("base.html", include_str!("../templates/base.html")),
        ("sign_in.html", include_str!("../templates/sign_in.html")),
        ("queue.html", include_str!("../templates/queue.html")),
        ("draft.html", include_str!("../templates/draft.html")),
        ("runs.html", include_str!("../templates/runs.html")),
        ("run.html", include_str!("../templates/run.html")),
        ("stale.html", include_str!("../templates/stale.html")),
        ("history.html", include_str!("../templates/history.html")),
        ("error.html", include_str!("../templates/error.html")),
    ] {
        env.add_template(name, source)
            .expect("the review page's templates parse");
    }
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    // Errors must not carry the values in scope (a session's CSRF token) into the log.
    env.set_debug(false);
    env
}

pub(super) fn area_name(facts: &crate::facts::FactSet, code: &str) -> String {
    crate::facts::AreaCode::parse(code)
        .ok()
        .and_then(|c| facts.area_by_code(&c).map(|a| a.name().to_string()))
        .unwrap_or_else(|| code.to_string())
}

pub(super) fn section_title(facts: &crate::facts::FactSet, id: &str) -> String {
    facts
        .find_section(id)
        .map(|s| s.title().to_string())
        .unwrap_or_else(|_| id.to_string())
}
