//! The local model's lifecycle (install, serve on a free port, wait until healthy, stop), with a
//! stand-in script so the test builds nothing and fetches nothing: the real script is exercised
//! by `narrator demo` as the README says.

use narrator::local::LocalServer;

#[tokio::test]
async fn the_local_server_is_started_on_a_free_port_and_stopped_when_dropped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("v1")).unwrap();
    std::fs::write(dir.path().join("v1/models"), "{\"data\": []}").unwrap();
    let script = dir.path().join("fake-local-model");
    std::fs::write(
        &script,
        format!(
            "#!/usr/bin/env bash\ncase \"$1\" in\n  install) echo /nowhere.gguf ;;\n  serve) cd {} && exec python3 -m http.server \"$2\" --bind 127.0.0.1 ;;\nesac\n",
            dir.path().display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .unwrap();
    // Only this test reads the variable.
    std::env::set_var("NARRATOR_LOCAL_MODEL_SCRIPT", &script);
    let server = LocalServer::start().await.unwrap();
    let url = format!("{}/models", server.url());
    assert!(reqwest::get(&url).await.unwrap().status().is_success());
    drop(server);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        reqwest::get(&url).await.is_err(),
        "the server still answers after the job ended"
    );
}
