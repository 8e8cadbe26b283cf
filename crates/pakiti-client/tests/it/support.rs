//! Test helpers: run the real binary, and a tiny scripted HTTP server on 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// The repository root's `fixtures/`.
pub(crate) fn fixtures() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures"))
}

/// Runs `pakiti-client` with `args` (and `stdin`), with a host id file in `dir`.
pub(crate) fn client(dir: &std::path::Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pakiti-client"));
    cmd.args(args)
        .arg("--host-id-file")
        .arg(dir.join("host-id"))
        .env_remove("HTTPS_PROXY")
        .env_remove("HTTP_PROXY")
        .env_remove("ALL_PROXY")
        .env_remove("https_proxy")
        .env_remove("http_proxy")
        .env_remove("all_proxy")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the client binary runs");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// Stdout and stderr as text.
pub(crate) fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// One request as the tiny server saw it.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    /// Request method.
    pub(crate) method: String,
    /// Request target (path and query).
    pub(crate) target: String,
    /// Lower-cased header names with values.
    pub(crate) headers: Vec<(String, String)>,
    /// The body.
    pub(crate) body: Vec<u8>,
}

impl Seen {
    /// A header's value.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A server that answers each request with the next scripted (status, body), then the last
/// one forever; it records every request.
pub(crate) struct Tiny {
    /// `http://127.0.0.1:PORT/feed/`.
    pub(crate) url: String,
    /// What it received.
    pub(crate) seen: Arc<Mutex<Vec<Seen>>>,
    _thread: JoinHandle<()>,
}

impl Tiny {
    pub(crate) fn start(script: Vec<(u16, &'static str)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/feed/", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let thread = std::thread::spawn(move || {
            for (i, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { continue };
                let (status, body) = script[i.min(script.len() - 1)];
                if let Some(req) = read_request(&stream) {
                    log.lock().unwrap().push(req);
                }
                respond(stream, status, body);
            }
        });
        Tiny {
            url,
            seen,
            _thread: thread,
        }
    }

    pub(crate) fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Reads one HTTP/1.1 request (request line, headers, `Content-Length` body).
pub(crate) fn read_request(stream: impl Read) -> Option<Seen> {
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut words = line.split_whitespace();
    let method = words.next()?.to_owned();
    let target = words.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Seen {
        method,
        target,
        headers,
        body,
    })
}

/// Writes one `Connection: close` response.
pub(crate) fn respond(mut stream: impl Write, status: u16, body: &str) {
    let ctype = if body.starts_with('{') {
        "application/json"
    } else {
        "text/plain"
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// A local port nobody listens on.
pub(crate) fn dead_url() -> Dead {
    Dead::new("http://127.0.0.1:{port}/feed/")
}

/// A port on 127.0.0.1 that refuses connections for as long as this lives: a socket bound
/// to it without listening. (Binding a listener and dropping it frees the port, and a
/// server another test starts at the same moment can get it: the "dead" server then answers.)
pub(crate) struct Dead {
    _socket: socket2::Socket,
    /// `pattern` with `{port}` replaced by the port.
    pub(crate) url: String,
}

impl Dead {
    pub(crate) fn new(pattern: &str) -> Self {
        let socket = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )
        .unwrap();
        let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
        socket.bind(&any.into()).unwrap();
        let port = socket.local_addr().unwrap().as_socket().unwrap().port();
        Dead {
            _socket: socket,
            url: pattern.replace("{port}", &port.to_string()),
        }
    }
}

/// The installed packages as `dpkg-query -W` lists them (installed state only).
pub(crate) fn dpkg_count() -> usize {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${db:Status-Abbrev}\n"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| matches!(l.as_bytes().get(1), Some(b'i' | b'W' | b't')))
        .count()
}
