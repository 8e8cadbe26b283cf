//! A throw-away PKI made in the test with the real openssl CLI: a CA, a server certificate
//! for `localhost` and 127.0.0.1, host certificates for a client and a report proxy, and a
//! certificate from an unrelated CA. EC P-256 keys, so making one takes milliseconds.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

/// The test CA's subject.
pub(crate) const CA_DN: &str = "/DC=org/DC=example/CN=Pakiti Test CA";
/// The client host certificate's subject, legacy and RFC 4514 forms.
pub(crate) const CLIENT_DN: &str = "/DC=org/DC=example/O=Pakiti Tests/CN=client.example.org";
pub(crate) const CLIENT_DN_RFC4514: &str = "CN=client.example.org,O=Pakiti Tests,DC=example,DC=org";
/// The report proxy's subject (legacy form).
pub(crate) const PROXY_DN: &str = "/DC=org/DC=example/O=Pakiti Tests/CN=proxy.example.org";

static SERIAL: AtomicU64 = AtomicU64::new(1);

/// The files of one test PKI, in a temporary directory.
pub(crate) struct Pki {
    dir: tempfile::TempDir,
}

/// Runs openssl with `args` in `dir`; a missing openssl fails the test with a clear message.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI is needed to make the test PKI (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const EC: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

fn ca(dir: &Path, name: &str, subject: &str) {
    let (key, cert) = (format!("{name}.key.pem"), format!("{name}.cert.pem"));
    let mut args = vec!["req", "-x509"];
    args.extend(EC);
    args.extend([
        "-nodes",
        "-days",
        "2",
        "-subj",
        subject,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout",
        &key,
        "-out",
        &cert,
    ]);
    openssl(dir, &args);
}

/// Makes `<name>.key.pem`, `<name>.cert.pem` (signed by CA `ca` with extensions `ext`) and
/// `<name>.combined.pem` (certificate then key: Pakiti 2's `host_cert`).
fn leaf(dir: &Path, ca: &str, name: &str, subject: &str, ext: &str) {
    let (key, csr, cert) = (
        format!("{name}.key.pem"),
        format!("{name}.csr.pem"),
        format!("{name}.cert.pem"),
    );
    let mut args = vec!["req", "-new"];
    args.extend(EC);
    args.extend(["-nodes", "-subj", subject, "-keyout", &key, "-out", &csr]);
    openssl(dir, &args);
    let extfile = format!("{name}.ext");
    std::fs::write(dir.join(&extfile), ext).unwrap();
    let serial = format!(
        "0x{:x}{:04x}",
        std::process::id(),
        SERIAL.fetch_add(1, Ordering::Relaxed)
    );
    let (ca_cert, ca_key) = (format!("{ca}.cert.pem"), format!("{ca}.key.pem"));
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_cert,
            "-CAkey",
            &ca_key,
            "-set_serial",
            &serial,
            "-days",
            "2",
            "-sha256",
            "-extfile",
            &extfile,
            "-out",
            &cert,
        ],
    );
    let combined = [
        std::fs::read(dir.join(&cert)).unwrap(),
        std::fs::read(dir.join(&key)).unwrap(),
    ]
    .concat();
    std::fs::write(dir.join(format!("{name}.combined.pem")), combined).unwrap();
}

const SERVER_EXT: &str = "basicConstraints=critical,CA:FALSE\n\
    keyUsage=critical,digitalSignature\n\
    extendedKeyUsage=serverAuth\n\
    subjectAltName=DNS:localhost,IP:127.0.0.1\n";
const CLIENT_EXT: &str = "basicConstraints=critical,CA:FALSE\n\
    keyUsage=critical,digitalSignature\n\
    extendedKeyUsage=clientAuth\n";

impl Pki {
    /// Makes the CA, the server, client and proxy certificates, a stranger's certificate
    /// from another CA, and `certs/`: the CA in an OpenSSL hashed directory (`openssl rehash`),
    /// as Pakiti 2's `ca_certificate` and `--tls-client-ca DIR` want it.
    pub(crate) fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        ca(d, "ca", CA_DN);
        ca(d, "other-ca", "/DC=org/DC=example/CN=Some Other CA");
        leaf(
            d,
            "ca",
            "server",
            "/DC=org/DC=example/CN=localhost",
            SERVER_EXT,
        );
        leaf(d, "ca", "client", CLIENT_DN, CLIENT_EXT);
        leaf(d, "ca", "proxy", PROXY_DN, CLIENT_EXT);
        leaf(
            d,
            "other-ca",
            "stranger",
            "/DC=org/DC=example/O=Pakiti Tests/CN=stranger.example.org",
            CLIENT_EXT,
        );
        std::fs::create_dir(d.join("certs")).unwrap();
        std::fs::copy(d.join("ca.cert.pem"), d.join("certs/ca.pem")).unwrap();
        openssl(d, &["rehash", "certs"]);
        Pki { dir }
    }

    /// A file of this PKI (`ca.cert.pem`, `server.key.pem`, `client.combined.pem`, `certs` …).
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Signs a new server certificate and key in place of the old ones (a certbot renewal).
    pub(crate) fn renew_server(&self) {
        leaf(
            self.dir.path(),
            "ca",
            "server",
            "/DC=org/DC=example/CN=localhost",
            SERVER_EXT,
        );
    }

    /// The serial number of `server.cert.pem`, as openssl prints it (`serial=…`).
    pub(crate) fn server_serial(&self) -> String {
        let out = Command::new("openssl")
            .args(["x509", "-noout", "-serial", "-in"])
            .arg(self.path("server.cert.pem"))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// Settings that serve HTTPS with the server certificate; with `client_auth`, client
    /// certificates are verified against the hashed CA directory.
    pub(crate) fn tls_settings(
        &self,
        client_auth: Option<pakiti_server::settings::ClientAuth>,
    ) -> pakiti_server::settings::Tls {
        pakiti_server::settings::Tls {
            cert: Some(self.path("server.cert.pem")),
            key: Some(self.path("server.key.pem")),
            client_ca: client_auth.map(|_| self.path("certs")),
            client_auth: client_auth.unwrap_or_default(),
            ..pakiti_server::settings::Tls::default()
        }
    }

    /// A reqwest client that trusts only the test CA, presenting `identity`
    /// (`client`, `proxy`, `stranger`) when given.
    pub(crate) fn client(&self, identity: Option<&str>) -> reqwest::Client {
        let ca = std::fs::read(self.path("ca.cert.pem")).unwrap();
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap());
        if let Some(name) = identity {
            let pem = std::fs::read(self.path(&format!("{name}.combined.pem"))).unwrap();
            b = b.identity(reqwest::Identity::from_pem(&pem).unwrap());
        }
        b.build().unwrap()
    }
}

/// The serial number of the certificate a TLS server at `addr` presents, as seen by the real
/// `openssl s_client`.
pub(crate) fn served_serial(addr: &str) -> String {
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect", addr, "-servername", "localhost"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut pem = Vec::new();
    std::io::Read::read_to_end(child.stdout.as_mut().unwrap(), &mut pem).unwrap();
    let _ = child.wait();
    let mut x509 = Command::new("openssl")
        .args(["x509", "-noout", "-serial"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(x509.stdin.as_mut().unwrap(), &pem).unwrap();
    let out = x509.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}
