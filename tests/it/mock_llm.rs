//! A scripted OpenAI-compatible server on 127.0.0.1 for tests: real HTTP, one reply per
//! request from a script, then an optional fallback that writes a passing draft from the
//! prompt's own facts table.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Reply {
    /// A chat completion whose answer is `text`.
    pub fn chat(text: &str) -> Reply {
        Reply::finished(text, "stop")
    }

    pub fn finished(text: &str, finish_reason: &str) -> Reply {
        let body = serde_json::json!({
            "id": "chatcmpl-test", "object": "chat.completion", "created": 1, "model": "mock",
            "choices": [{"index": 0, "finish_reason": finish_reason,
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 80, "total_tokens": 200}
        });
        Reply {
            status: 200,
            headers: Vec::new(),
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    pub fn status(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    echo: bool,
    echo_delay: Duration,
    requests: Vec<serde_json::Value>,
}

#[derive(Clone)]
pub struct MockLlm {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl MockLlm {
    /// Serves `script` in order; after it, a passing draft from the prompt if `echo`, else 500.
    pub async fn start(script: Vec<Reply>, echo: bool) -> MockLlm {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            script: script.into(),
            echo,
            ..State::default()
        }));
        let shared = Arc::clone(&state);
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let Some(body) = read_request(&mut socket).await else {
                        return;
                    };
                    let request: serde_json::Value =
                        serde_json::from_str(&body).unwrap_or_default();
                    let reply = {
                        let mut s = state.lock().unwrap();
                        s.requests.push(request.clone());
                        match s.script.pop_front() {
                            Some(r) => r,
                            None if s.echo => {
                                Reply::chat(&echo_draft(&request)).delayed(s.echo_delay)
                            }
                            None => Reply::status(500, "script exhausted"),
                        }
                    };
                    tokio::time::sleep(reply.delay).await;
                    let mut head = format!(
                        "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                        reply.status,
                        reply.body.len()
                    );
                    for (k, v) in &reply.headers {
                        head.push_str(&format!("{k}: {v}\r\n"));
                    }
                    head.push_str("\r\n");
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(reply.body.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        MockLlm { url, state }
    }

    pub fn set_echo_delay(&self, delay: Duration) {
        self.state.lock().unwrap().echo_delay = delay;
    }

    pub fn requests(&self) -> Vec<serde_json::Value> {
        self.state.lock().unwrap().requests.clone()
    }
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(String::from_utf8_lossy(&buf[header_end..]).into_owned())
}

/// A draft that quotes the council's first figures exactly as the prompt's table gives them
/// (the mock provider's own writer, never wrong here).
pub fn echo_draft(request: &serde_json::Value) -> String {
    let user = request["messages"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default();
    narrator::mock::draft_from_prompt(user, user, false)
}
