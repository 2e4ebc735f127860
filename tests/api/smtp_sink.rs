//! A tiny SMTP server for tests: accepts every message on `127.0.0.1:<random>` and keeps it in
//! memory. It can answer the next messages' `DATA` with a transient `451` (to exercise
//! retries) and rejects recipients containing `bounce` with a permanent `550`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One accepted message.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The raw message (headers and MIME body), dot-unstuffed.
    pub data: String,
}

impl Received {
    /// A top-level header's value.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.split("\r\n").find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    /// The decoded body of the part with this content type (`text/plain`, `text/html`).
    pub fn part(&self, content_type: &str) -> Option<String> {
        let top = self.header("content-type")?;
        let boundary = top
            .split(';')
            .find_map(|p| p.trim().strip_prefix("boundary="))?
            .trim_matches('"')
            .to_string();
        self.data
            .split(&format!("--{boundary}"))
            .skip(1)
            .find_map(|part| {
                let (head, body) = part.split_once("\r\n\r\n")?;
                let head = head.to_ascii_lowercase();
                if !head.contains(&format!("content-type: {content_type}")) {
                    return None;
                }
                let body = body.trim_end_matches("\r\n");
                Some(
                    if head.contains("content-transfer-encoding: quoted-printable") {
                        decode_qp(body)
                    } else if head.contains("content-transfer-encoding: base64") {
                        let joined: String = body.split_whitespace().collect();
                        String::from_utf8(
                            base64::engine::general_purpose::STANDARD
                                .decode(joined)
                                .expect("base64 part"),
                        )
                        .expect("utf-8 part")
                    } else {
                        body.to_string()
                    },
                )
            })
    }

    /// The plain-text part.
    pub fn text(&self) -> String {
        self.part("text/plain").expect("text/plain part")
    }

    /// The first run of 6 digits in the plain-text part (a one-time code).
    pub fn code(&self) -> String {
        let text = self.text();
        let re = regex::Regex::new(r"\b(\d{6})\b").expect("regex");
        re.captures(&text)
            .map(|c| c[1].to_string())
            .unwrap_or_else(|| panic!("no code in: {text}"))
    }
}

fn decode_qp(s: &str) -> String {
    let joined = s.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The running sink.
#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    messages: Arc<Mutex<Vec<Received>>>,
    fail_next: Arc<AtomicUsize>,
}

impl SmtpSink {
    /// Starts listening on a random loopback port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind sink");
        let port = listener.local_addr().expect("addr").port();
        let sink = Self {
            port,
            messages: Arc::default(),
            fail_next: Arc::default(),
        };
        let s = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = s.session(stream).await;
                });
            }
        });
        sink
    }

    /// `smtp://127.0.0.1:<port>` (plain SMTP).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Answers the next `n` messages with `451` (transient).
    pub fn fail_next(&self, n: usize) {
        self.fail_next.store(n, Ordering::SeqCst);
    }

    /// Every accepted message so far.
    pub fn messages(&self) -> Vec<Received> {
        self.messages.lock().expect("sink lock").clone()
    }

    /// The latest message to `to`, waiting up to `timeout` for one.
    pub async fn wait_for(&self, to: &str, timeout: Duration) -> Received {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(m) = self
                .messages()
                .into_iter()
                .rev()
                .find(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
            {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "no email to {to} within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn session(&self, stream: TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        write.write_all(b"220 sink.test ESMTP\r\n").await?;
        let (mut from, mut to) = (String::new(), Vec::new());
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let cmd = line.trim_end().to_string();
            let upper = cmd.to_ascii_uppercase();
            let reply: &[u8] = if upper.starts_with("EHLO") {
                b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
            } else if upper.starts_with("HELO") {
                b"250 sink.test\r\n"
            } else if upper.starts_with("MAIL FROM:") {
                from = address(&cmd);
                to.clear();
                b"250 OK\r\n"
            } else if upper.starts_with("RCPT TO:") {
                let rcpt = address(&cmd);
                if rcpt.contains("bounce") {
                    b"550 5.1.1 No such user\r\n"
                } else {
                    to.push(rcpt);
                    b"250 OK\r\n"
                }
            } else if upper == "DATA" {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                let failing = self
                    .fail_next
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if failing {
                    b"451 4.3.0 Try again later\r\n"
                } else {
                    self.messages.lock().expect("sink lock").push(Received {
                        from: from.clone(),
                        to: to.clone(),
                        data,
                    });
                    b"250 OK queued\r\n"
                }
            } else if upper == "QUIT" {
                write.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            } else if upper.starts_with("RSET") || upper.starts_with("NOOP") {
                b"250 OK\r\n"
            } else {
                b"502 Command not implemented\r\n"
            };
            write.write_all(reply).await?;
        }
    }
}

fn address(cmd: &str) -> String {
    cmd.split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(a, _)| a.to_string())
        .unwrap_or_default()
}
