//! The default local model as a child process: `scripts/local-model` installs llama.cpp's
//! OpenAI-compatible server and SmolLM2 once, then serves on a free loopback port until the job
//! ends.

use anyhow::{bail, Context, Result};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The server's process id, so a second Ctrl-C (which exits at once) can still stop it.
static LOCAL_SERVER_PID: AtomicU32 = AtomicU32::new(0);

pub struct LocalServer {
    child: Child,
    url: String,
}

fn script() -> String {
    std::env::var("NARRATOR_LOCAL_MODEL_SCRIPT")
        .unwrap_or_else(|_| "scripts/local-model".to_string())
}

impl LocalServer {
    /// Installs what is missing (showing its progress), starts the server, waits until it answers.
    pub async fn start() -> Result<LocalServer> {
        let script = script();
        let status = Command::new(&script)
            .arg("install")
            .stdout(Stdio::null())
            .status()
            .with_context(|| format!("running {script} install"))?;
        if !status.success() {
            bail!("{script} install failed ({status})");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("finding a free port")?
            .port();
        let log_path = std::path::Path::new(".narrator").join("local-model.log");
        std::fs::create_dir_all(".narrator").context("creating .narrator")?;
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let child = Command::new(&script)
            .args(["serve", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {script} serve"))?;
        LOCAL_SERVER_PID.store(child.id(), Ordering::SeqCst);
        let mut server = LocalServer {
            child,
            url: format!("http://127.0.0.1:{port}/v1"),
        };
        eprintln!(
            "local model: starting on {} (log in {})",
            server.url,
            log_path.display()
        );
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "the local model server exited ({status}); see {}",
                    log_path.display()
                );
            }
            let healthy = http
                .get(format!("{}/models", server.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if healthy {
                eprintln!("local model: ready");
                return Ok(server);
            }
            if Instant::now() > deadline {
                bail!(
                    "the local model server did not answer within 180 s; see {}",
                    log_path.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        // This server's own child, not whichever the process-wide pid names: two servers in
        // one process (tests run in parallel) must each stop their own, or one waits forever
        // on a child nobody killed. SIGKILL, as `kill_local_server` explains.
        let pid = self.child.id();
        let _ = LOCAL_SERVER_PID.compare_exchange(pid, 0, Ordering::SeqCst, Ordering::SeqCst);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Stops the local model server if one was started.
pub fn kill_local_server() {
    let pid = LOCAL_SERVER_PID.swap(0, Ordering::SeqCst);
    if pid != 0 {
        // The script execs python, so its pid is the server's. SIGKILL: on SIGTERM the server
        // would first finish the generation in flight, which can take minutes, and it keeps
        // nothing worth a graceful stop.
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
}
