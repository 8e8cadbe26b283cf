//! S/MIME encryption, proven against the server's decryptor and (when installed) openssl.

use std::process::Command;

use pakiti_client::smime;
use pakiti_server::smime::{ReportKey, decrypt, looks_encrypted};

use crate::support::{Tiny, client, fixtures, text};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixtures().join("smime").join(name)).unwrap()
}

#[test]
fn server_decrypts_what_the_client_encrypts() {
    let report = std::fs::read(fixtures().join("smime/report.txt")).unwrap();
    let der = smime::encrypt(&report, &fixture("server.cert.pem")).unwrap();
    assert!(looks_encrypted(&der));
    let key = ReportKey::from_pem(&fixture("server.key.pem"))
        .unwrap()
        .with_certificate_pem(&fixture("server.cert.pem"))
        .unwrap();
    assert_eq!(decrypt(&der, &key).unwrap(), report);
    // Random key and IV: two encryptions differ.
    assert_ne!(
        smime::encrypt(&report, &fixture("server.cert.pem")).unwrap(),
        der
    );
    // Encrypted for another certificate: the server key cannot read it.
    let other = smime::encrypt(&report, &fixture("other.cert.pem")).unwrap();
    assert!(
        decrypt(
            &other,
            &ReportKey::from_pem(&fixture("server.key.pem")).unwrap()
        )
        .is_err()
    );
    // Empty and block-sized contents round-trip too.
    for len in [0, 16, 17] {
        let c = vec![b'#'; len];
        let der = smime::encrypt(&c, &fixture("server.cert.pem")).unwrap();
        assert_eq!(decrypt(&der, &key).unwrap(), c);
    }
    assert!(smime::encrypt(b"x", "no pem here").is_err());
}

/// `openssl smime -decrypt` (what Pakiti 3 servers run) reads it, when openssl is here.
#[test]
fn openssl_decrypts_what_the_client_encrypts() {
    let dir = tempfile::tempdir().unwrap();
    let report = std::fs::read(fixtures().join("smime/report.txt")).unwrap();
    let der = smime::encrypt(&report, &fixture("server.cert.pem")).unwrap();
    let input = dir.path().join("r.der");
    std::fs::write(&input, &der).unwrap();
    let out = Command::new("openssl")
        .args(["smime", "-decrypt", "-binary", "-inform", "DER", "-inkey"])
        .arg(fixtures().join("smime/server.key.pem"))
        .arg("-in")
        .arg(&input)
        .output();
    match out {
        Ok(o) => {
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            assert_eq!(o.stdout, report);
        }
        Err(_) => {
            // Without openssl, check the structure openssl would read: DER ContentInfo with
            // the enveloped-data OID, and the AES-256-CBC OID inside.
            assert_eq!(der[0], 0x30);
            let aes256_cbc = [
                0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a,
            ];
            assert!(der.windows(aes256_cbc.len()).any(|w| w == aes256_cbc));
        }
    }
}

/// `--encrypt` end to end on the wire: the tiny server receives DER the server key opens.
#[test]
fn encrypt_option_sends_der() {
    let srv = Tiny::start(vec![(200, "OK\n")]);
    let dir = tempfile::tempdir().unwrap();
    let cert = fixtures().join("smime/server.cert.pem");
    let o = client(
        dir.path(),
        &["--url", &srv.url, "--encrypt", cert.to_str().unwrap()],
        None,
    );
    assert!(o.status.success(), "{}", text(&o).1);
    let body = &srv.requests()[0].body;
    let key = ReportKey::from_pem(&fixture("server.key.pem")).unwrap();
    let plain = decrypt(body, &key).unwrap();
    let r = pakiti_api::protocol5::parse(&plain).unwrap();
    assert_eq!(r.packages.len(), crate::support::dpkg_count());
    // Our JSON cannot be encrypted: a clear usage error.
    let o = client(
        dir.path(),
        &[
            "--url",
            &srv.url,
            "--protocol",
            "json",
            "--encrypt",
            cert.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("protocol 5"));
}
