//! HTTPS with real rustls servers on 127.0.0.1 and the real binary: CA file, hashed CA
//! directory, mutual TLS, `--disable-tls-checks`, an outgoing CONNECT proxy and timeouts.
//!
//! The certificates are `fixtures/tls/` (made by `fixtures/tls/make.sh` with the openssl CLI).
//! Every server and proxy thread here stops by itself: when its handle is dropped, or at the
//! latest after [`LIFETIME`].

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pakiti_api::{protocol4, protocol5};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection};
use x509_cert::der::Decode;

use crate::support::{Seen, fixtures, read_request, respond, text};

/// The longest any test thread lives.
const LIFETIME: Duration = Duration::from_secs(30);

fn tls(name: &str) -> PathBuf {
    fixtures().join("tls").join(name)
}

fn tls_str(name: &str) -> String {
    tls(name).to_str().unwrap().to_owned()
}

/// The protocol-5 report every test forwards with `--input`.
fn report_file() -> String {
    fixtures()
        .join("smime/report.txt")
        .to_str()
        .unwrap()
        .to_owned()
}

fn report_packages() -> usize {
    let r = protocol5::parse(&std::fs::read(report_file()).unwrap()).unwrap();
    r.packages.len()
}

/// Runs the binary with no proxy variables inherited, plus `envs`; returns the output and
/// how long it ran.
fn run(args: &[&str], envs: &[(&str, &str)]) -> (Output, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pakiti-client"));
    cmd.args(args)
        .arg("--host-id-file")
        .arg(dir.path().join("id"));
    for v in [
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "https_proxy",
        "http_proxy",
        "all_proxy",
        "no_proxy",
    ] {
        cmd.env_remove(v);
    }
    cmd.envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let t = Instant::now();
    let out = cmd.output().expect("the client binary runs");
    (out, t.elapsed())
}

/// The usual arguments: forward the fixture report to `url`, no retry delay to speak of.
fn args<'a>(url: &'a str, report: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["--url", url, "--input", report];
    if !extra.contains(&"--retry-delay-ms") {
        a.extend(["--retry-delay-ms", "50"]);
    }
    a.extend_from_slice(extra);
    a
}

fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(name: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(tls(name))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A server config presenting `cert`/`key`; with `client_ca`, client certificates signed
/// by it are required.
fn server_config(cert: &str, key: &str, client_ca: Option<&str>) -> Arc<ServerConfig> {
    let builder = ServerConfig::builder_with_provider(ring())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for c in certs(ca) {
                roots.add(c).unwrap();
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), ring())
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let key = PrivateKeyDer::from_pem_file(tls(key)).unwrap();
    Arc::new(builder.with_single_cert(certs(cert), key).unwrap())
}

/// One TCP connection as the TLS server saw it.
#[derive(Clone, Debug, Default)]
struct Conn {
    /// The handshake's failure, if it failed.
    handshake_error: Option<String>,
    /// The client certificate's subject (RFC 4514), if one was presented.
    client_subject: Option<String>,
    /// The HTTP request read after the handshake.
    request: Option<Seen>,
}

/// What the TLS server does with a connection.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Handshake, read the request, answer 200 with this body.
    Answer(&'static str),
    /// Accept the TCP connection and never say anything.
    Silent,
}

/// Accepts on a non-blocking listener until `stop` or [`LIFETIME`], calling `each` per
/// connection.
fn accept_loop(listener: &TcpListener, stop: &AtomicBool, mut each: impl FnMut(TcpStream)) {
    listener.set_nonblocking(true).unwrap();
    let end = Instant::now() + LIFETIME;
    while !stop.load(Ordering::Relaxed) && Instant::now() < end {
        match listener.accept() {
            Ok((tcp, _)) => {
                tcp.set_nonblocking(false).unwrap();
                tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                tcp.set_write_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                each(tcp);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => break,
        }
    }
}

/// A one-thread HTTPS server on 127.0.0.1 that records every connection.
struct TlsServer {
    port: u16,
    conns: Arc<Mutex<Vec<Conn>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TlsServer {
    fn start(config: Arc<ServerConfig>, behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, flag) = (Arc::clone(&conns), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            // Silent connections are held open (unanswered) until the server stops.
            let mut held = Vec::new();
            accept_loop(&listener, &flag, |tcp| match behaviour {
                Behaviour::Silent => {
                    log.lock().unwrap().push(Conn::default());
                    held.push(tcp);
                }
                Behaviour::Answer(body) => {
                    let conn = serve_one(&config, tcp, body);
                    log.lock().unwrap().push(conn);
                }
            });
        });
        TlsServer {
            port,
            conns,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}/feed/", self.port)
    }

    fn conns(&self) -> Vec<Conn> {
        self.conns.lock().unwrap().clone()
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve_one(config: &Arc<ServerConfig>, tcp: TcpStream, body: &str) -> Conn {
    let mut out = Conn::default();
    let conn = ServerConnection::new(Arc::clone(config)).unwrap();
    let mut s = rustls::StreamOwned::new(conn, tcp);
    while s.conn.is_handshaking() {
        // On a failure rustls sends its alert before returning the error.
        if let Err(e) = s.conn.complete_io(&mut s.sock) {
            out.handshake_error = Some(e.to_string());
            // A lingering close, as real servers do: closing with the client's request
            // unread would send a reset that can overtake the alert.
            let _ = s.sock.shutdown(Shutdown::Write);
            let _ = std::io::copy(&mut (&s.sock).take(1 << 20), &mut std::io::sink());
            return out;
        }
    }
    out.client_subject = s
        .conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|der| {
            x509_cert::Certificate::from_der(der)
                .unwrap()
                .tbs_certificate
                .subject
                .to_string()
        });
    out.request = read_request(&mut s);
    if out.request.is_some() {
        respond(&mut s, 200, body);
        s.conn.send_close_notify();
        let _ = s.flush();
    }
    out
}

/// A plain-HTTP forward proxy on 127.0.0.1 that only does `CONNECT` (to 127.0.0.1), records
/// each `CONNECT` target and tunnels the bytes.
struct ConnectProxy {
    port: u16,
    connects: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ConnectProxy {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connects = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, flag) = (Arc::clone(&connects), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            accept_loop(&listener, &flag, |tcp| tunnel(tcp, &log));
        });
        ConnectProxy {
            port,
            connects,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn connects(&self) -> Vec<String> {
        self.connects.lock().unwrap().clone()
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn tunnel(client: TcpStream, log: &Mutex<Vec<String>>) {
    // The client sends nothing after the CONNECT head until it has the answer, so the
    // buffered reader cannot swallow tunnelled bytes.
    let mut head = BufReader::new(&client);
    let mut line = String::new();
    if head.read_line(&mut line).is_err() {
        return;
    }
    loop {
        let mut h = String::new();
        match head.read_line(&mut h) {
            Ok(0) | Err(_) => return,
            Ok(_) if h.trim().is_empty() => break,
            Ok(_) => {}
        }
    }
    drop(head);
    let mut words = line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    log.lock().unwrap().push(format!("{method} {target}"));
    let upstream = match target.strip_prefix("127.0.0.1:") {
        Some(_) if method == "CONNECT" => TcpStream::connect(target).ok(),
        _ => None,
    };
    let mut client = client;
    let Some(upstream) = upstream else {
        let _ = client.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .is_err()
    {
        return;
    }
    let pump = |mut from: TcpStream, mut to: TcpStream| {
        std::thread::spawn(move || {
            from.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let _ = std::io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Write);
        })
    };
    let up = pump(client.try_clone().unwrap(), upstream.try_clone().unwrap());
    let down = pump(upstream, client);
    let _ = up.join();
    let _ = down.join();
}

/// Checks the forwarded protocol-5 request as a Pakiti 3 server reads it.
#[track_caller]
fn assert_protocol5_request(req: &Seen) {
    assert_eq!(req.method, "POST");
    assert_eq!(req.target, "/feed/?mode=store-only&protocol=5");
    assert_eq!(
        req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert!(
        req.header("user-agent")
            .is_some_and(|u| u.starts_with("pakiti-client/")),
        "{:?}",
        req.headers
    );
    let r = protocol5::parse(&req.body).unwrap();
    assert_eq!(r.hostname, "rhel80.example.org");
    assert_eq!(r.site.as_deref(), Some("PRAGUE-LCG2"));
    assert_eq!(r.packages.len(), report_packages());
}

fn answering(cert: &str, key: &str) -> TlsServer {
    TlsServer::start(server_config(cert, key, None), Behaviour::Answer("OK\n"))
}

#[test]
fn ca_file_trusts_the_server() {
    let srv = answering("server.cert.pem", "server.key.pem");
    let (url, report, ca) = (srv.url(), report_file(), tls_str("ca.cert.pem"));
    let (o, _) = run(&args(&url, &report, &["--ca", &ca, "--retries", "0"]), &[]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(out, "");
    assert_eq!(err, "");
    let conns = srv.conns();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0].handshake_error, None);
    assert_eq!(conns[0].client_subject, None);
    assert_protocol5_request(conns[0].request.as_ref().unwrap());
}

/// A certificate problem does not fix itself in seconds: one connection, no backoff, exit 2,
/// and a message that names the problem and the option to look at.
#[test]
fn wrong_ca_fails_at_once_with_a_clear_message() {
    let srv = answering("wrong-server.cert.pem", "wrong-server.key.pem");
    let (url, report, ca) = (srv.url(), report_file(), tls_str("ca.cert.pem"));
    let (o, elapsed) = run(
        &args(
            &url,
            &report,
            &["--ca", &ca, "--retries", "3", "--retry-delay-ms", "3000"],
        ),
        &[],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(out, "");
    assert!(err.contains(&url), "{err}");
    assert!(
        err.contains("server certificate is not trusted")
            && err.contains("UnknownIssuer")
            && err.contains("--ca"),
        "{err}"
    );
    assert!(
        elapsed < Duration::from_secs(3),
        "no retry delay: {elapsed:?}"
    );
    let conns = srv.conns();
    assert_eq!(conns.len(), 1, "no retry on a certificate error");
    // The client hangs up mid-handshake (ureq does not flush rustls's alert first).
    assert!(conns[0].handshake_error.is_some(), "{conns:?}");
    assert!(conns[0].request.is_none());

    // Without --ca, the system bundle does not know the test CA either.
    let srv = answering("server.cert.pem", "server.key.pem");
    let url = srv.url();
    let (o, _) = run(&args(&url, &report, &["--retries", "2"]), &[]);
    let err = text(&o).1;
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("UnknownIssuer"), "{err}");
    assert_eq!(srv.conns().len(), 1);
}

/// The CA directory file that holds the test CA (not the unrelated one).
fn hashed_test_ca() -> (String, PathBuf) {
    let dir = tls("grid-security/certificates");
    let ca = std::fs::read(tls("ca.cert.pem")).unwrap();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if std::fs::read(&p).unwrap() == ca {
            let name = p.file_name().unwrap().to_str().unwrap().to_owned();
            return (name, p);
        }
    }
    panic!("no copy of ca.cert.pem in {}", dir.display());
}

#[test]
fn ca_directory_with_hashed_names() {
    let srv = answering("server.cert.pem", "server.key.pem");
    let (url, report) = (srv.url(), report_file());
    let accepts = |dir: &Path| {
        let (o, _) = run(&args(&url, &report, &["--ca", dir.to_str().unwrap()]), &[]);
        (o.status.code(), text(&o).1)
    };

    // The /etc/grid-security/certificates layout: <hash>.0 plus IGTF side files.
    let (name, path) = hashed_test_ca();
    assert!(name.ends_with(".0") && name.len() == 10, "{name}");
    let (code, err) = accepts(&tls("grid-security/certificates"));
    assert_eq!(code, Some(0), "{err}");

    // `openssl rehash` makes symbolic links, and <hash>.1 when two CAs share a subject hash
    // (an IGTF CA roll-over keeps its subject name).
    let tmp = tempfile::tempdir().unwrap();
    let stem = name.trim_end_matches(".0");
    std::os::unix::fs::symlink(&path, tmp.path().join(format!("{stem}.1"))).unwrap();
    std::fs::copy(
        tls("other-ca.cert.pem"),
        tmp.path().join(format!("{stem}.0")),
    )
    .unwrap();
    let (code, err) = accepts(tmp.path());
    assert_eq!(code, Some(0), "{err}");

    // Only the unrelated CA: not trusted.
    let only_other = tempfile::tempdir().unwrap();
    std::fs::copy(
        tls("other-ca.cert.pem"),
        only_other.path().join("42524c4a.0"),
    )
    .unwrap();
    let (code, err) = accepts(only_other.path());
    assert_eq!(code, Some(2));
    assert!(err.contains("UnknownIssuer"), "{err}");

    // Nothing that looks like a CA certificate: a setup error naming the directory.
    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("README"), "no certificates here\n").unwrap();
    let (code, err) = accepts(empty.path());
    assert_eq!(code, Some(2));
    assert!(
        err.contains(empty.path().to_str().unwrap()) && err.contains("no CA certificates"),
        "{err}"
    );
    assert_eq!(srv.conns().len(), 3, "the setup error connects nowhere");
}

#[test]
fn mutual_tls_with_a_host_certificate() {
    let srv = TlsServer::start(
        server_config("server.cert.pem", "server.key.pem", Some("ca.cert.pem")),
        Behaviour::Answer("OK\n"),
    );
    let (url, report, ca) = (srv.url(), report_file(), tls_str("ca.cert.pem"));
    let subject = "CN=host/client.example.org,O=Pakiti Tests,DC=example,DC=org";

    // No client certificate: the server refuses; no retry.
    let (o, _) = run(&args(&url, &report, &["--ca", &ca, "--retries", "2"]), &[]);
    let err = text(&o).1;
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("the server requires a client certificate") && err.contains("--cert"),
        "{err}"
    );
    let conns = srv.conns();
    assert_eq!(conns.len(), 1, "{conns:?}");
    assert!(
        conns[0]
            .handshake_error
            .as_deref()
            .is_some_and(|e| e.contains("peer sent no certificates")),
        "{conns:?}"
    );

    // --cert and --key (PKCS#8 key).
    let (cert, key) = (tls_str("client.cert.pem"), tls_str("client.key.pem"));
    let (o, _) = run(
        &args(
            &url,
            &report,
            &["--ca", &ca, "--cert", &cert, "--key", &key],
        ),
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let conns = srv.conns();
    assert_eq!(conns.len(), 2);
    assert_eq!(conns[1].handshake_error, None);
    assert_eq!(conns[1].client_subject.as_deref(), Some(subject));
    assert_protocol5_request(conns[1].request.as_ref().unwrap());

    // A Pakiti 2 client file: servers_name, ca_certificate, and host_cert holding both the
    // certificate and its PKCS#1 key; protocol 4 follows from servers_name.
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("pakiti2-client.conf");
    std::fs::write(
        &conf,
        format!(
            "servers_name = 127.0.0.1:{}\nserver_url = /feed/\nca_certificate = {ca}\nhost_cert = {}\n",
            srv.port,
            tls_str("client.combined.pem")
        ),
    )
    .unwrap();
    let (o, _) = run(
        &["--config", conf.to_str().unwrap(), "--input", &report],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let conns = srv.conns();
    assert_eq!(conns.len(), 3);
    assert_eq!(conns[2].client_subject.as_deref(), Some(subject));
    let req = conns[2].request.as_ref().unwrap();
    assert_eq!(req.target, "/feed/");
    let r = protocol4::parse_urlencoded(&req.body).unwrap();
    assert_eq!(r.hostname, "rhel80.example.org");
    assert_eq!(r.packages.len(), report_packages());

    // A certificate from a CA the server does not trust: refused, and said so.
    let (cert, key) = (tls_str("stranger.cert.pem"), tls_str("stranger.key.pem"));
    let (o, _) = run(
        &args(
            &url,
            &report,
            &["--ca", &ca, "--cert", &cert, "--key", &key],
        ),
        &[],
    );
    let err = text(&o).1;
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("the server did not accept the client certificate"),
        "{err}"
    );
    let conns = srv.conns();
    assert_eq!(conns.len(), 4);
    assert!(
        conns[3]
            .handshake_error
            .as_deref()
            .is_some_and(|e| e.contains("UnknownIssuer")),
        "{conns:?}"
    );
}

#[test]
fn disable_tls_checks_accepts_any_server_and_warns() {
    let srv = answering("wrong-server.cert.pem", "wrong-server.key.pem");
    let (url, report) = (srv.url(), report_file());
    let (o, _) = run(&args(&url, &report, &["--disable-tls-checks"]), &[]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(out, "");
    assert!(
        err.starts_with("pakiti-client: warning: TLS certificate checks are DISABLED"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let conns = srv.conns();
    assert_eq!(conns.len(), 1);
    assert_protocol5_request(conns[0].request.as_ref().unwrap());
}

#[test]
fn outgoing_proxy_tunnels_with_connect() {
    let srv = answering("server.cert.pem", "server.key.pem");
    let proxy = ConnectProxy::start();
    let (url, report, ca) = (srv.url(), report_file(), tls_str("ca.cert.pem"));
    let purl = proxy.url();
    let connect = format!("CONNECT 127.0.0.1:{}", srv.port);

    let (o, _) = run(&args(&url, &report, &["--ca", &ca, "--proxy", &purl]), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    assert_eq!(proxy.connects(), vec![connect.clone()]);
    assert_eq!(srv.conns().len(), 1);
    assert_protocol5_request(srv.conns()[0].request.as_ref().unwrap());

    // The environment, as curl (the Pakiti 2 and 3 clients) reads it.
    for var in ["HTTPS_PROXY", "https_proxy"] {
        let (o, _) = run(&args(&url, &report, &["--ca", &ca]), &[(var, &purl)]);
        assert_eq!(o.status.code(), Some(0), "{var}: {}", text(&o).1);
    }
    assert_eq!(proxy.connects(), vec![connect.clone(); 3]);
    assert_eq!(srv.conns().len(), 3);

    // NO_PROXY bypasses it; --proxy wins over the environment.
    let (o, _) = run(
        &args(&url, &report, &["--ca", &ca]),
        &[("HTTPS_PROXY", &purl), ("NO_PROXY", "127.0.0.1")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    assert_eq!(proxy.connects().len(), 3);
    assert_eq!(srv.conns().len(), 4);

    // A proxy nobody listens on: a connection error that names the proxy, retried.
    let dead = crate::support::Dead::new("http://127.0.0.1:{port}");
    let dead_url = dead.url.clone();
    let (o, _) = run(
        &args(&url, &report, &["--ca", &ca, "--retries", "1"]),
        &[("HTTPS_PROXY", &dead_url)],
    );
    let err = text(&o).1;
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&dead_url), "{err}");
    assert_eq!(srv.conns().len(), 4);
}

/// A server that accepts and never answers: the client gives up after `--timeout`, retries
/// as configured, and says what happened.
#[test]
fn silent_server_times_out() {
    let srv = TlsServer::start(
        server_config("server.cert.pem", "server.key.pem", None),
        Behaviour::Silent,
    );
    let (url, report, ca) = (srv.url(), report_file(), tls_str("ca.cert.pem"));
    let (o, elapsed) = run(
        &args(
            &url,
            &report,
            &["--ca", &ca, "--timeout", "1", "--retries", "1"],
        ),
        &[],
    );
    let err = text(&o).1;
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("no answer within 1 s"), "{err}");
    assert_eq!(srv.conns().len(), 2, "one try and one retry");
    assert!(
        elapsed >= Duration::from_millis(2000) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
}
