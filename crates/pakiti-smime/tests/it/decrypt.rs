//! S/MIME report decryption against fixtures made once by the openssl CLI
//! (`fixtures/smime/make.sh`); the tests themselves never run openssl.

use pakiti_smime::{ReportKey, SmimeError, decrypt, looks_encrypted};
use proptest::prelude::*;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/smime/");

fn bytes(name: &str) -> Vec<u8> {
    let path = format!("{DIR}{name}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn text(name: &str) -> String {
    String::from_utf8(bytes(name)).expect("fixture is UTF-8")
}

fn server_key() -> ReportKey {
    ReportKey::from_pem(&text("server.key.pem")).expect("server key")
}

fn server_key_with_cert() -> ReportKey {
    server_key()
        .with_certificate_pem(&text("server.cert.pem"))
        .expect("server cert matches key")
}

fn other_key() -> ReportKey {
    ReportKey::from_pem(&text("other.key.pem")).expect("other key")
}

/// Every DER fixture that openssl decrypts to `report.txt` with the server key.
const DECRYPTABLE: [&str; 8] = [
    "report.aes256.der",
    "report.aes128.der",
    "report.aes192.der",
    "report.des3.der",
    "report.two-recipients.der",
    "report.keyid.der",
    "report.oaep-sha1.der",
    "report.oaep-sha256.der",
];

#[track_caller]
fn check_decrypts(file: &str, key: &ReportKey) {
    let plain = decrypt(&bytes(file), key).unwrap_or_else(|e| panic!("{file}: {e}"));
    let expected = bytes("report.txt");
    assert_eq!(plain.len(), expected.len(), "{file}");
    assert!(plain == expected, "{file}: content differs from report.txt");
}

#[test]
fn the_plain_report_is_a_real_protocol_5_report() {
    let report = text("report.txt");
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines[0], "#");
    assert_eq!(lines[9], "#");
    assert_eq!(lines[1], "arch: x86_64");
    assert_eq!(lines.last(), Some(&"#"));
    // 477 package lines of rhel_80.tsv, gpg-pubkey dropped, plus 1 + 8 + 1 + 1 framing lines.
    assert_eq!(lines.len(), 476 + 11);
    assert_eq!(lines[10], "NetworkManager\t1:1.14.0-5.el8\tx86_64");
}

#[test]
fn decrypts_every_cipher_and_key_transport_with_the_pkcs8_key() {
    let key = server_key();
    for file in DECRYPTABLE {
        check_decrypts(file, &key);
    }
}

#[test]
fn decrypts_with_the_pkcs1_key() {
    let key = ReportKey::from_pem(&text("server.key.pkcs1.pem")).expect("pkcs1 key");
    for file in DECRYPTABLE {
        check_decrypts(file, &key);
    }
}

#[test]
fn decrypts_with_key_and_certificate_including_keyid_and_second_recipient() {
    let key = server_key_with_cert();
    for file in DECRYPTABLE {
        check_decrypts(file, &key);
    }
}

#[test]
fn a_combined_key_and_certificate_file_attaches_the_certificate() {
    let combined = text("server.key.pem") + &text("server.cert.pem");
    let key = ReportKey::from_pem(&combined).expect("combined pem");
    assert_eq!(
        format!("{key:?}"),
        "ReportKey { modulus_bits: 2048, with_certificate: true }"
    );
    check_decrypts("report.aes256.der", &key);
    // With the certificate attached, another server's report names no recipient of ours.
    let err = decrypt(&bytes("report.aes256.der"), &other_key_with_cert()).unwrap_err();
    assert!(matches!(err, SmimeError::NoRecipient(_)), "{err}");
}

#[test]
fn debug_output_shows_no_key_material() {
    assert_eq!(
        format!("{:?}", server_key()),
        "ReportKey { modulus_bits: 2048, with_certificate: false }"
    );
}

#[test]
fn text_mode_message_decrypts_to_what_openssl_gives_with_crlf() {
    let plain = decrypt(&bytes("report.text-mode.der"), &server_key()).expect("decrypts");
    assert!(plain == bytes("report.text-mode.openssl-out"));
    let crlf = text("report.txt").replace('\n', "\r\n");
    assert!(plain == crlf.as_bytes());
}

fn other_key_with_cert() -> ReportKey {
    other_key()
        .with_certificate_pem(&text("other.cert.pem"))
        .expect("other cert matches other key")
}

#[test]
fn a_wrong_key_without_certificate_fails_to_decrypt() {
    let key = other_key();
    // report.two-recipients.der is also encrypted for the other key, so it is left out.
    for file in DECRYPTABLE.iter().filter(|f| !f.contains("two-recipients")) {
        let err = decrypt(&bytes(file), &key).unwrap_err();
        assert!(matches!(err, SmimeError::Decryption), "{file}: {err}");
        assert_eq!(
            err.to_string(),
            "decryption failed: wrong key or corrupted data"
        );
    }
}

#[test]
fn the_other_recipient_of_a_two_recipient_message_decrypts_it_too() {
    check_decrypts("report.two-recipients.der", &other_key());
    check_decrypts("report.two-recipients.der", &other_key_with_cert());
}

#[test]
fn a_wrong_key_with_its_certificate_finds_no_recipient() {
    let key = other_key_with_cert();
    for file in DECRYPTABLE.iter().filter(|f| !f.contains("two-recipients")) {
        let err = decrypt(&bytes(file), &key).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no recipient for this key: none of the 1 recipient(s) is the key's certificate",
            "{file}"
        );
    }
}

#[test]
fn a_certificate_of_another_key_is_refused() {
    let err = server_key()
        .with_certificate_pem(&text("other.cert.pem"))
        .unwrap_err();
    assert!(matches!(err, SmimeError::CertificateMismatch), "{err}");
}

#[test]
fn bad_key_pem_is_refused_with_a_clear_error() {
    let cases = [
        (
            "hello",
            "invalid private key: no 'BEGIN RSA PRIVATE KEY' or 'BEGIN PRIVATE KEY' block found",
        ),
        (
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
            "invalid private key: the key is protected by a passphrase; store it unencrypted \
             (openssl pkey -in KEY -out KEY.plain)",
        ),
    ];
    for (pem, message) in cases {
        assert_eq!(ReportKey::from_pem(pem).unwrap_err().to_string(), message);
    }
    // A certificate alone is not a key.
    let err = ReportKey::from_pem(&text("server.cert.pem")).unwrap_err();
    assert!(matches!(err, SmimeError::Key(_)), "{err}");
    // A key block with a broken body.
    let broken = "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n";
    let err = ReportKey::from_pem(broken).unwrap_err();
    assert!(matches!(err, SmimeError::Key(_)), "{err}");
    let err = server_key().with_certificate_pem("nothing").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid certificate: no 'BEGIN CERTIFICATE' block found"
    );
}

#[test]
fn aes_gcm_auth_enveloped_data_is_named_as_unsupported() {
    let body = bytes("report.aes256gcm.der");
    assert!(looks_encrypted(&body));
    let err = decrypt(&body, &server_key()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unsupported CMS content type id-ct-authEnvelopedData (1.2.840.113549.1.9.16.1.23)"
    );
}

#[test]
fn ber_indefinite_length_is_rejected_cleanly() {
    let body = bytes("report.stream-ber.der");
    assert!(looks_encrypted(&body));
    let err = decrypt(&body, &server_key()).unwrap_err();
    assert!(matches!(err, SmimeError::Malformed(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "malformed CMS enveloped data: BER indefinite-length encoding (openssl -stream) \
         is not supported, only DER"
    );
}

/// Replaces the one occurrence of `from` in `body` by `to` (same length).
fn patch(body: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at: Vec<usize> = body
        .windows(from.len())
        .enumerate()
        .filter(|(_, w)| *w == from)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 1, "pattern must occur once");
    let mut out = body.to_vec();
    out[at[0]..at[0] + to.len()].copy_from_slice(to);
    out
}

#[test]
fn unsupported_algorithms_are_named_with_their_oid() {
    let body = bytes("report.aes256.der");
    let key = server_key();
    let aes256_cbc = [
        0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a,
    ];
    // id-aes256-CBC (…1.42) turned into id-aes256-GCM (…1.46).
    let mut gcm = aes256_cbc;
    gcm[10] = 0x2e;
    assert_eq!(
        decrypt(&patch(&body, &aes256_cbc, &gcm), &key)
            .unwrap_err()
            .to_string(),
        "unsupported content encryption algorithm id-aes256-GCM (2.16.840.1.101.3.4.1.46)"
    );
    // …and into id-aes256-OFB (…1.43), which the OID database does not name.
    let mut ofb = aes256_cbc;
    ofb[10] = 0x2b;
    assert_eq!(
        decrypt(&patch(&body, &aes256_cbc, &ofb), &key)
            .unwrap_err()
            .to_string(),
        "unsupported content encryption algorithm unknown algorithm (2.16.840.1.101.3.4.1.43)"
    );
    // rsaEncryption (…1.1.1) turned into id-RSASSA-PSS (…1.1.10).
    let pss = patch(
        &body,
        &[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
        ],
        &[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a,
        ],
    );
    assert_eq!(
        decrypt(&pss, &key).unwrap_err().to_string(),
        "unsupported key encryption algorithm id-RSASSA-PSS (1.2.840.113549.1.1.10)"
    );
}

#[test]
fn a_changed_content_key_fails_and_a_changed_last_block_fails() {
    let body = bytes("report.aes256.der");
    let key = server_key();
    // The last ciphertext byte decides the padding: change it and the padding breaks.
    let mut last = body.clone();
    let n = last.len();
    last[n - 1] ^= 0x01;
    assert!(matches!(decrypt(&last, &key), Err(SmimeError::Decryption)));
    // A byte inside the RSA-encrypted content key (offset 200 is inside the 256-byte OCTET STRING
    // at 111..367 of this file): the content key becomes a synthetic one.
    let mut cek = body.clone();
    cek[200] ^= 0x80;
    assert!(matches!(decrypt(&cek, &key), Err(SmimeError::Decryption)));
}

#[test]
fn every_truncation_of_a_real_report_fails_cleanly() {
    let body = bytes("report.aes256.der");
    let key = server_key();
    let mut truncated = 0;
    let mut not_enveloped = 0;
    for len in 0..body.len() {
        match decrypt(&body[..len], &key) {
            Err(SmimeError::Truncated(_)) => truncated += 1,
            Err(SmimeError::NotEnvelopedData(_)) => not_enveloped += 1,
            other => panic!("length {len}: {other:?}"),
        }
    }
    // The first 15 prefixes (0..=14 bytes) are too short to show the 4-byte SEQUENCE header
    // and the whole 11-byte OID.
    assert_eq!(not_enveloped, 15);
    assert_eq!(truncated, body.len() - 15);
}

#[test]
fn trailing_bytes_whitespace_is_accepted_and_garbage_is_not() {
    let mut body = bytes("report.aes256.der");
    let key = server_key();
    body.extend_from_slice(b"\r\n");
    assert!(decrypt(&body, &key).is_ok());
    body.extend_from_slice(b"x");
    assert_eq!(
        decrypt(&body, &key).unwrap_err().to_string(),
        "malformed CMS enveloped data: 3 unexpected bytes after the DER structure"
    );
}

#[test]
fn looks_encrypted_tells_der_from_plain_reports() {
    for file in DECRYPTABLE {
        assert!(looks_encrypted(&bytes(file)), "{file}");
    }
    assert!(looks_encrypted(&bytes("report.text-mode.der")));
    assert!(!looks_encrypted(&bytes("report.txt")));
    assert!(!looks_encrypted(b"{\"content\": {\"softwares\": []}}"));
    assert!(!looks_encrypted(b""));
    assert!(!looks_encrypted(b"0"));
    assert!(!looks_encrypted(b"type=rpm&host=a&pkgs="));
    // A DER certificate is a SEQUENCE too, but not enveloped data.
    let cert_pem = text("server.cert.pem");
    let b64: String = cert_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let cert_der = base64_decode(&b64);
    assert_eq!(cert_der[0], 0x30);
    assert!(!looks_encrypted(&cert_der));
    assert_eq!(
        decrypt(&bytes("report.txt"), &server_key())
            .unwrap_err()
            .to_string(),
        "not CMS enveloped data: the body is a plain-text report"
    );
}

/// A small standard base64 decoder, so the test needs no extra dependency.
fn base64_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0_u32, 0_u32);
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c).expect("base64") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let key = server_key();
        prop_assert!(decrypt(&body, &key).is_err());
    }

    #[test]
    fn mutated_headers_never_panic(
        at in 0_usize..420,
        value in any::<u8>(),
        cut in 0_usize..64,
    ) {
        // Changes one byte of the DER header (recipient info, algorithm identifiers, IV) and
        // optionally drops a tail: whatever happens, no panic.
        let key = server_key();
        let mut body = bytes("report.aes256.der");
        body[at] = value;
        body.truncate(body.len() - cut);
        let _ = decrypt(&body, &key);
    }
}
