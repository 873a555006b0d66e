//! End to end in a real browser: headless Chromium (Debian's `chromium`, which `scripts/test`
//! and `.ci/run` install) against a real `narrator serve`, driven over the DevTools protocol.
//! A reviewer signs in, opens a draft and sees a flagged figure with its reason, approves a
//! passing draft, and the text is then read from the public API and the export. On a page of
//! national data the charts are laid out and agree with the data. Screenshots of the flagged
//! draft and of the charts are saved under the test's target folder.
//!
//! The DevTools client is the hundred lines of `Page` below, on `tokio-tungstenite`, and not
//! a crate: it finds the page's socket in `/json/list`, sends five methods (`Page.enable`,
//! `Page.navigate`, `Runtime.evaluate`, `Page.captureScreenshot`,
//! `Emulation.setScriptExecutionDisabled`) and reads their answers as plain JSON by field,
//! so any Chromium Debian ships works.
//! `chromiumoxide` deserialises every message into types generated from one pinned protocol
//! version, and newer browsers' events fail to parse ("data did not match any variant of
//! untagged enum Message": mattsse/chromiumoxide#229, #243); Debian's is Chromium 156.
//! WebDriver through `fantoccini` would need `chromedriver` of the same version as a second
//! process, for the same five calls. Loopback-only browsing is the flags below either way.

use crate::helpers::{narrator, root, stderr, stdout};
use crate::review::{draft, seed_facts, COVENTRY, WORKING_AGE};

/// An outcomes text for Coventry quoting a value, a group's median and a rank.
const OUTCOMES: &str = "In 2022-23, 70.5% of people using services in Coventry found information about services easy to find, above the median of 67.65% for its nearest neighbours and 5th highest of the 16.";
use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use narrator::store::Store;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads a child's stderr until a line contains `marker`; returns that line.
fn wait_for_line(child: &mut Child, marker: &str) -> String {
    let stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    let marker = marker.to_string();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains(&marker) {
                let _ = tx.send(line);
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the process printed its address within 30 s")
}

fn chromium() -> String {
    let path = std::env::var("NARRATOR_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let found = Command::new(&path).arg("--version").output();
    assert!(
        found.as_ref().is_ok_and(|o| o.status.success()),
        "this test needs Debian's chromium ({path}): `scripts/test` installs it, or apt-get install chromium"
    );
    path
}

/// One DevTools session on one page.
struct Page {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
}

impl Page {
    async fn send(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.next_id += 1;
        let id = self.next_id;
        let msg = serde_json::json!({ "id": id, "method": method, "params": params });
        self.ws.send(Message::text(msg.to_string())).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = tokio::time::timeout(left, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("no answer to {method}"))
                .expect("the browser keeps the socket open")
                .unwrap();
            let Message::Text(text) = frame else { continue };
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            if v["id"] == id {
                assert!(v["error"].is_null(), "{method}: {}", v["error"]);
                return v["result"].clone();
            }
        }
    }

    async fn eval(&mut self, js: &str) -> serde_json::Value {
        let r = self
            .send(
                "Runtime.evaluate",
                serde_json::json!({ "expression": js, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        assert!(
            r["exceptionDetails"].is_null(),
            "{js}: {}",
            r["exceptionDetails"]
        );
        r["result"]["value"].clone()
    }

    /// Waits until the page at `path` has loaded.
    async fn settle(&mut self, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let state = self
                .eval("document.readyState + ' ' + location.pathname + location.search")
                .await;
            let state = state.as_str().unwrap_or_default().to_string();
            if state.starts_with("complete ") && state[9..].starts_with(path) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "still {state}, waiting for {path}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves the whole page as a PNG under the test's target folder.
    async fn screenshot(&mut self, name: &str) {
        let shot = self
            .send(
                "Page.captureScreenshot",
                serde_json::json!({ "format": "png", "captureBeyondViewport": true }),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .expect("DevTools sends screenshots in base64");
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        let artifact = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
        std::fs::write(&artifact, &png).unwrap();
        eprintln!("screenshot: {}", artifact.display());
    }

    async fn goto(&mut self, url: &str, path: &str) {
        self.send("Page.navigate", serde_json::json!({ "url": url }))
            .await;
        self.settle(path).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_signs_in_sees_a_flagged_figure_and_approves_a_draft_in_chromium() {
    let chromium = chromium();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("narrator.db").display());
    let set = seed_facts();
    let store = Store::connect(&db).await.unwrap();
    let good = draft(&store, &set, "ed", "working-age", WORKING_AGE).await;
    let flagged = draft(
        &store,
        &set,
        "ed",
        "working-age",
        "In 2023-24, Coventry received 9,999 requests for support from working-age adults.",
    )
    .await;
    let outcomes = draft(&store, &set, "ed", "outcomes", OUTCOMES).await;
    store.close().await;
    let added = narrator(&[
        "users",
        "add",
        "rita",
        "--role",
        "reviewer",
        "--database-url",
        &db,
    ]);
    assert!(added.status.success(), "{}", stderr(&added));
    let token = stdout(&added).trim().to_string();

    let mut serve = Command::new(env!("CARGO_BIN_EXE_narrator"))
        .args(["serve", "--addr", "127.0.0.1:0", "--database-url", &db])
        .current_dir(root())
        .env_remove("NARRATOR_USER")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let line = wait_for_line(&mut serve, "review page at http://");
    let serve = Killed(serve);
    // "narrator serve: review page at http://127.0.0.1:PORT/review, API at ..."
    let base = line
        .split("review page at ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap()
        .trim_end_matches("/review")
        .to_string();

    let profile = tempfile::tempdir().unwrap();
    let mut browser = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            // Nothing but loopback: every other host goes to a proxy that does not exist
            // (loopback itself always bypasses proxies).
            "--proxy-server=socks5://127.0.0.1:9",
            "--remote-debugging-port=0",
            "--window-size=1200,1600",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let devtools = wait_for_line(&mut browser, "DevTools listening on ");
    let _browser = Killed(browser);
    let browser_ws = devtools
        .split("DevTools listening on ")
        .nth(1)
        .unwrap()
        .trim();
    let http = browser_ws
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let client = reqwest::Client::new();
    let targets: serde_json::Value = serde_json::from_str(
        &client
            .get(format!("http://{http}/json/list"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    let page_ws = targets
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "page")
        .and_then(|t| t["webSocketDebuggerUrl"].as_str())
        .unwrap()
        .to_string();
    let (ws, _) = tokio_tungstenite::connect_async(page_ws.as_str())
        .await
        .unwrap();
    let mut page = Page { ws, next_id: 0 };
    page.send("Page.enable", serde_json::json!({})).await;
    // The pages' own scripts are off: every action below works through plain forms and links
    // (the test drives them over the DevTools protocol, as a person would by keyboard).
    page.send(
        "Emulation.setScriptExecutionDisabled",
        serde_json::json!({ "value": true }),
    )
    .await;

    // Sign in with the token; the page sends us to the queue.
    page.goto(&format!("{base}/review/sign-in"), "/review/sign-in")
        .await;
    page.eval(&format!(
        "document.getElementById('token').value = '{token}'; document.querySelector('main form').submit(); true"
    ))
    .await;
    page.settle("/review/queue").await;
    let queue = page.eval("document.querySelector('main').innerText").await;
    assert!(
        queue.as_str().unwrap().contains(&format!("Draft {good}")),
        "{queue}"
    );

    // The failing draft: its figure is marked as flagged, and its note gives the reason.
    page.goto(
        &format!("{base}/review/drafts/{flagged}"),
        &format!("/review/drafts/{flagged}"),
    )
    .await;
    let mark = page
        .eval(
            "document.querySelector('#text mark.flag') && document.querySelector('#text mark.flag').innerText",
        )
        .await;
    assert!(
        mark.as_str().unwrap_or_default().contains("9,999"),
        "{mark}"
    );
    let note = page
        .eval("document.querySelector('li[id^=note-] .flag-label').closest('li').innerText")
        .await;
    let note = note.as_str().unwrap().to_string();
    assert!(note.contains("flagged") && note.contains("9,999"), "{note}");
    page.screenshot("review-draft-page.png").await;

    // A page of national data: each compared measure drawn three ways, and the drawing agrees
    // with the data (a council above a group's median is drawn right of it).
    page.goto(
        &format!("{base}/review/drafts/{outcomes}"),
        &format!("/review/drafts/{outcomes}"),
    )
    .await;
    let h1 = page.eval("document.querySelector('h1').innerText").await;
    assert_eq!(h1, "Coventry: Outcomes over time", "named, not coded");
    let area = set.find_area(COVENTRY).unwrap();
    let view = set.section_facts(area, set.find_section("outcomes").unwrap());
    let expected = narrator::review::page_charts(&set, &view);
    assert_eq!(expected.len(), 7, "Coventry has all seven outcome measures");
    let measures = page
        .eval("document.querySelectorAll('figure.measure').length")
        .await;
    assert_eq!(measures, expected.len());
    let drawn = page
        .eval(
            "[...document.querySelectorAll('svg.chart')].filter(s => s.getBoundingClientRect().width > 100).length",
        )
        .await;
    let strips_and_trends = expected
        .iter()
        .map(|c| usize::from(!c.strips.is_empty()) + usize::from(c.periods.len() > 1))
        .sum::<usize>();
    assert_eq!(
        drawn,
        expected.len() + strips_and_trends,
        "every chart is laid out"
    );
    let marks = page
        .eval(
            "(() => { const out = []; for (const svg of document.querySelectorAll('svg[id^=strips-]')) {                const c = [...svg.querySelectorAll('circle.council')], m = [...svg.querySelectorAll('line.median')];                c.forEach((el, i) => { const a = el.getBoundingClientRect(), b = m[i].getBoundingClientRect();                  out.push([+el.dataset.value, +m[i].dataset.value, a.x + a.width / 2, b.x + b.width / 2]); }); }                return out; })()",
        )
        .await;
    let marks = marks.as_array().unwrap();
    assert_eq!(marks.len(), 7 * 3, "three groups for each measure");
    let mut compared = 0;
    for m in marks {
        let (value, median, x, median_x) = (
            m[0].as_f64().unwrap(),
            m[1].as_f64().unwrap(),
            m[2].as_f64().unwrap(),
            m[3].as_f64().unwrap(),
        );
        if value != median {
            compared += 1;
            assert_eq!(value > median, x > median_x, "{m:?}");
        }
    }
    assert!(compared >= 15, "{compared}");
    let trend = page
        .eval("document.querySelector('#trend-outcome_users_info_easy desc').textContent")
        .await;
    assert!(
        trend
            .as_str()
            .unwrap()
            .starts_with("Coventry: 2015-16 69.5%, 2016-17 69.4%"),
        "{trend}"
    );
    let points = page
        .eval("document.querySelectorAll('#trend-outcome_users_info_easy circle.point').length")
        .await;
    assert_eq!(points, 7);
    let basis = page
        .eval("document.getElementById('data-basis').innerText")
        .await;
    assert_eq!(
        basis,
        "Data: 2022-23; sources: Adult Social Care Outcomes Framework (NHS England), as published by Oflog (Open Government Licence)"
    );
    let how = page
        .eval("[...document.querySelectorAll('ol.notes li')].map(li => li.innerText).join('\\n')")
        .await;
    assert!(
        how.as_str()
            .unwrap()
            .contains("How: 16 councils with a value, from 56.6 to 82.9; median 67.65"),
        "a group's median is shown with its derivation: {how}"
    );
    page.screenshot("review-outcomes-charts.png").await;

    // The passing draft: approve it as it stands.
    page.goto(
        &format!("{base}/review/drafts/{good}"),
        &format!("/review/drafts/{good}"),
    )
    .await;
    page.eval("document.querySelector('form[action$=\"/approve\"]').submit(); true")
        .await;
    page.settle(&format!("/review/drafts/{good}?done=approved"))
        .await;
    let notice = page
        .eval("document.querySelector('.notice').innerText")
        .await;
    assert_eq!(notice, "Approved and published.");

    // The site reads it from the public API, and from the export.
    let api = client
        .get(format!("{base}/api/v1/published/{COVENTRY}"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 200);
    let body = api.text().await.unwrap();
    assert!(body.contains(WORKING_AGE), "{body}");
    let out = dir.path().join("site");
    let export = narrator(&[
        "export",
        "--out",
        out.to_str().unwrap(),
        "--database-url",
        &db,
    ]);
    assert!(export.status.success(), "{}", stderr(&export));
    let file = std::fs::read_to_string(out.join(format!("{COVENTRY}.json"))).unwrap();
    assert!(file.contains(WORKING_AGE) && !file.contains("9,999"));

    // SIGTERM: the server finishes what is in flight and exits cleanly.
    let mut serve = serve;
    let pid = serve.0.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = serve.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
}
