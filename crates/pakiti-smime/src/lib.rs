//! Decryption of encrypted Pakiti reports: S/MIME (CMS) enveloped data in DER, as made by
//! `openssl smime -encrypt -binary -aes-256-cbc -outform DER CERT`.
//!
//! The Pakiti 3 Perl client encrypts the whole protocol-5 report with the server's certificate
//! (`--encrypt CERT`) and posts the DER bytes; the Pakiti 3 server ran
//! `openssl smime -decrypt -binary -inform DER -inkey KEY` on them. [`decrypt`] gives back the
//! same bytes as that command, without the openssl binary:
//!
//! - key transport: RSA PKCS#1 v1.5 (what `openssl smime` always uses) or RSA-OAEP (what
//!   `openssl cms -keyopt rsa_padding_mode:oaep` makes) with SHA-1/SHA-224/256/384/512;
//! - content encryption: AES-128/192/256-CBC and DES-EDE3-CBC (the default of old openssl).
//!
//! With `-binary`, openssl encrypts the bytes as they are, with no MIME header; without it,
//! openssl turns every LF into CRLF before encrypting, and `-decrypt -binary` gives the CRLF back.
//! We do the same: the decrypted content is returned untouched.
//!
//! Wrong keys and damaged data give one error, [`SmimeError::Decryption`], whatever step failed,
//! so that the answer to a forged body says nothing about where it went wrong (a padding oracle).
//! `rsa` uses implicit rejection for PKCS#1 v1.5, so a wrong key yields a random-looking content
//! key and the failure shows up as bad CBC padding. As with openssl, about one wrong key in 256
//! gives valid padding and garbage content: callers must still parse the result strictly.
//!
//! A crate of its own, apart from the server that uses it (`pakiti_server::smime` re-exports
//! it), so that the fuzz targets (`fuzz/`) and anything else can decrypt reports without
//! building the server.

use std::fmt;

use aes::{Aes128, Aes192, Aes256};
use cbc::cipher::{BlockCipherDecrypt, BlockModeDecrypt, KeyIvInit, block_padding::Pkcs7};
use cms::cert::x509::Certificate;
use cms::cert::x509::der::asn1::{ObjectIdentifier, OctetStringRef};
use cms::cert::x509::der::oid::db::DB;
use cms::cert::x509::der::{
    self, Decode, DecodePem, Encode, ErrorKind, Reader, SliceReader, TagMode, TagNumber,
};
use cms::cert::x509::ext::pkix::SubjectKeyIdentifier;
use cms::cert::x509::name::Name;
use cms::cert::x509::serial_number::SerialNumber;
use cms::cert::x509::spki::AlgorithmIdentifierOwned;
use cms::content_info::ContentInfo;
use cms::enveloped_data::{
    EnvelopedData, KeyTransRecipientInfo, RecipientIdentifier, RecipientInfo,
};
use des::TdesEde3;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::sha2::{Sha224, Sha256, Sha384, Sha512};
use rsa::traits::PublicKeyParts;
use rsa::{Oaep, Pkcs1v15Encrypt, PrivateKey, PublicKey};
use sha1::Sha1;

/// `id-envelopedData` (RFC 5652): the content type of an encrypted report.
const ID_ENVELOPED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.3");
/// `id-ct-authEnvelopedData` (RFC 5083): what `openssl cms -encrypt -aes-256-gcm` makes.
const ID_AUTH_ENVELOPED_DATA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.23");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ID_RSAES_OAEP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.7");
const ID_MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");
const ID_P_SPECIFIED: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.9");
const ID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const ID_SHA224: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.4");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const ID_AES128_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.2");
const ID_AES192_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.22");
const ID_AES256_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.42");
const DES_EDE3_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.3.7");

/// Why an encrypted report could not be decrypted, or a key could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SmimeError {
    /// The body is not a CMS `ContentInfo` holding enveloped data.
    #[error("not CMS enveloped data: {0}")]
    NotEnvelopedData(String),
    /// The body ends before the DER structure it announces.
    #[error("truncated CMS data: {0}")]
    Truncated(String),
    /// The body is CMS enveloped data but breaks the DER or CMS rules.
    #[error("malformed CMS enveloped data: {0}")]
    Malformed(String),
    /// No recipient of the message is this key's certificate (or, without a certificate,
    /// the message has no RSA key-transport recipient at all).
    #[error("no recipient for this key: {0}")]
    NoRecipient(String),
    /// The message uses an algorithm or content type this module does not implement.
    #[error("unsupported {what} {name} ({oid})")]
    Unsupported {
        /// What the algorithm is for, e.g. "content encryption algorithm".
        what: &'static str,
        /// The algorithm's usual name, or "unknown algorithm".
        name: String,
        /// The dotted object identifier.
        oid: String,
    },
    /// The key did not decrypt the message: wrong key, or the ciphertext was altered.
    #[error("decryption failed: wrong key or corrupted data")]
    Decryption,
    /// The private key PEM could not be read.
    #[error("invalid private key: {0}")]
    Key(String),
    /// The certificate PEM could not be read.
    #[error("invalid certificate: {0}")]
    Certificate(String),
    /// The certificate does not hold the public half of the private key.
    #[error("the certificate does not match the private key")]
    CertificateMismatch,
}

/// The server's report-decryption key (`Config::$REPORT_DECRYPTION_KEY` in Pakiti 3), optionally
/// with its certificate so that the right recipient is picked when a report has several.
pub struct ReportKey {
    key: PrivateKey,
    recipient: Option<RecipientId>,
}

/// How a CMS message names a certificate: issuer and serial, or subject key identifier.
struct RecipientId {
    issuer: Name,
    serial: SerialNumber,
    subject_key_id: Option<Vec<u8>>,
}

impl fmt::Debug for ReportKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material: the modulus size and whether a certificate is attached suffice.
        f.debug_struct("ReportKey")
            .field("modulus_bits", &self.key.size().saturating_mul(8))
            .field("with_certificate", &self.recipient.is_some())
            .finish()
    }
}

impl ReportKey {
    /// Reads an RSA private key from PEM text: PKCS#1 (`BEGIN RSA PRIVATE KEY`) or unencrypted
    /// PKCS#8 (`BEGIN PRIVATE KEY`). If the text also holds a `BEGIN CERTIFICATE` block (a
    /// combined key-and-certificate file), the certificate is attached as by
    /// [`ReportKey::with_certificate_pem`].
    ///
    /// # Errors
    /// [`SmimeError::Key`] when no usable key block is found or it does not decode;
    /// certificate errors as for [`ReportKey::with_certificate_pem`].
    pub fn from_pem(pem: &str) -> Result<Self, SmimeError> {
        let key = if let Some(block) = pem_block(pem, "RSA PRIVATE KEY") {
            PrivateKey::from_pkcs1_pem(block).map_err(|e| SmimeError::Key(e.to_string()))?
        } else if let Some(block) = pem_block(pem, "PRIVATE KEY") {
            PrivateKey::from_pkcs8_pem(block).map_err(|e| SmimeError::Key(e.to_string()))?
        } else if pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
            return Err(SmimeError::Key(
                "the key is protected by a passphrase; store it unencrypted \
                 (openssl pkey -in KEY -out KEY.plain)"
                    .into(),
            ));
        } else {
            return Err(SmimeError::Key(
                "no 'BEGIN RSA PRIVATE KEY' or 'BEGIN PRIVATE KEY' block found".into(),
            ));
        };
        let report_key = Self {
            key,
            recipient: None,
        };
        if pem_block(pem, "CERTIFICATE").is_some() {
            report_key.with_certificate_pem(pem)
        } else {
            Ok(report_key)
        }
    }

    /// Attaches the key's certificate (the first `BEGIN CERTIFICATE` block of `pem`), so that
    /// [`decrypt`] only tries the recipient that names this certificate.
    ///
    /// # Errors
    /// [`SmimeError::Certificate`] when the certificate does not decode or has no RSA key;
    /// [`SmimeError::CertificateMismatch`] when it belongs to another key.
    pub fn with_certificate_pem(mut self, pem: &str) -> Result<Self, SmimeError> {
        let block = pem_block(pem, "CERTIFICATE")
            .ok_or_else(|| SmimeError::Certificate("no 'BEGIN CERTIFICATE' block found".into()))?;
        let cert =
            Certificate::from_pem(block).map_err(|e| SmimeError::Certificate(e.to_string()))?;
        let tbs = &cert.tbs_certificate;
        let spki = tbs
            .subject_public_key_info
            .to_der()
            .map_err(|e| SmimeError::Certificate(e.to_string()))?;
        let public = PublicKey::from_public_key_der(&spki)
            .map_err(|e| SmimeError::Certificate(format!("not an RSA public key: {e}")))?;
        if &public != self.key.as_public_key() {
            return Err(SmimeError::CertificateMismatch);
        }
        let subject_key_id = tbs
            .get::<SubjectKeyIdentifier>()
            .map_err(|e| SmimeError::Certificate(e.to_string()))?
            .map(|(_, ski)| ski.0.as_bytes().to_vec());
        self.recipient = Some(RecipientId {
            issuer: tbs.issuer.clone(),
            serial: tbs.serial_number.clone(),
            subject_key_id,
        });
        Ok(self)
    }
}

/// Returns the first PEM block with exactly this label, `BEGIN` to `END` line included.
fn pem_block<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)?;
    let stop = start + text[start..].find(&end)? + end.len();
    Some(&text[start..stop])
}

/// Whether `body` looks like a CMS enveloped message rather than a plain-text report: a DER
/// SEQUENCE whose first element is the enveloped-data OID (or the authenticated
/// enveloped-data OID, which [`decrypt`] then rejects with a clear error).
///
/// This replaces Pakiti 3's libmagic sniffing (`application/octet-stream` meant encrypted).
/// A protocol-5 report starts with `#`, a GLPI inventory with `{`, a protocol-4 form with a
/// field name: none of them starts with the SEQUENCE tag 0x30 followed by this OID.
#[must_use]
pub fn looks_encrypted(body: &[u8]) -> bool {
    let Some((&0x30, rest)) = body.split_first() else {
        return false;
    };
    // Skip the SEQUENCE length: short form, long form (up to 4 bytes) or BER indefinite (0x80).
    let Some((&len, rest)) = rest.split_first() else {
        return false;
    };
    let rest = if len & 0x80 == 0 || len == 0x80 {
        rest
    } else {
        match rest.get(usize::from(len & 0x7f)..) {
            Some(rest) if len & 0x7f <= 4 => rest,
            _ => return false,
        }
    };
    [ID_ENVELOPED_DATA, ID_AUTH_ENVELOPED_DATA]
        .iter()
        .any(|oid| {
            let value = oid.as_bytes();
            rest.len() >= value.len() + 2
                && rest[0] == 0x06
                && usize::from(rest[1]) == value.len()
                && &rest[2..2 + value.len()] == value
        })
}

/// Decrypts a CMS enveloped-data message (DER) with the report key and returns the content
/// exactly as `openssl smime -decrypt -binary -inform DER -inkey KEY` writes it.
///
/// Trailing ASCII whitespace or NUL bytes after the DER structure are ignored (openssl reads one
/// object and stops); any other trailing byte is an error.
///
/// # Errors
/// See [`SmimeError`]: not enveloped data, truncated or malformed DER, no recipient for this
/// key, an unsupported algorithm (named with its OID), or a failed decryption.
pub fn decrypt(body: &[u8], key: &ReportKey) -> Result<Vec<u8>, SmimeError> {
    let enveloped = parse_enveloped(body)?;
    let content = &enveloped.encrypted_content;
    let cipher = ContentCipher::from_algorithm(&content.content_enc_alg)?;
    let ciphertext = content
        .encrypted_content
        .as_ref()
        .ok_or_else(|| SmimeError::Malformed("the encrypted content is detached".into()))?
        .as_bytes();

    let candidates = candidates(&enveloped, key)?;
    let mut unsupported = None;
    let mut tried = false;
    for ktri in candidates {
        let transport = match KeyTransport::from_algorithm(&ktri.key_enc_alg) {
            Ok(transport) => transport,
            Err(e) => {
                unsupported.get_or_insert(e);
                continue;
            }
        };
        tried = true;
        let (cek, cek_ok) = match transport.decrypt(&key.key, ktri.enc_key.as_bytes()) {
            Ok(cek) if cek.len() == cipher.key_len() => (cek, true),
            // A content key of the wrong length (or an RSA failure) still goes through the
            // content decryption, with a zero key, so that every failure costs the same work.
            _ => (vec![0; cipher.key_len()], false),
        };
        let plain = cipher.decrypt(&cek, ciphertext);
        if let (true, Some(plain)) = (cek_ok, plain) {
            return Ok(plain);
        }
    }
    match (tried, unsupported) {
        (false, Some(e)) => Err(e),
        _ => Err(SmimeError::Decryption),
    }
}

/// Parses the outer `ContentInfo` and the `EnvelopedData` inside it.
fn parse_enveloped(body: &[u8]) -> Result<EnvelopedData, SmimeError> {
    if !looks_encrypted(body) {
        let what = match body.first() {
            None => "the body is empty".to_owned(),
            Some(b'#') => "the body is a plain-text report".to_owned(),
            Some(b'{') => "the body is JSON".to_owned(),
            Some(0x30) => "a DER SEQUENCE without the enveloped-data OID".to_owned(),
            Some(b) => format!("the body starts with byte 0x{b:02x}"),
        };
        return Err(SmimeError::NotEnvelopedData(what));
    }
    let mut reader = SliceReader::new(body).map_err(der_error)?;
    let info = ContentInfo::decode(&mut reader).map_err(der_error)?;
    let rest = reader
        .read_slice(reader.remaining_len())
        .map_err(der_error)?;
    if !rest.iter().all(|b| b.is_ascii_whitespace() || *b == 0) {
        return Err(SmimeError::Malformed(format!(
            "{} unexpected bytes after the DER structure",
            rest.len()
        )));
    }
    if info.content_type != ID_ENVELOPED_DATA {
        return Err(unsupported("CMS content type", &info.content_type));
    }
    info.content.decode_as::<EnvelopedData>().map_err(der_error)
}

/// Maps a DER error to truncated or malformed.
fn der_error(e: der::Error) -> SmimeError {
    match e.kind() {
        ErrorKind::Incomplete { .. } => SmimeError::Truncated(e.to_string()),
        ErrorKind::IndefiniteLength => SmimeError::Malformed(
            "BER indefinite-length encoding (openssl -stream) is not supported, only DER".into(),
        ),
        _ => SmimeError::Malformed(e.to_string()),
    }
}

fn unsupported(what: &'static str, oid: &ObjectIdentifier) -> SmimeError {
    SmimeError::Unsupported {
        what,
        name: DB.by_oid(oid).unwrap_or("unknown algorithm").to_owned(),
        oid: oid.to_string(),
    }
}

/// The most recipients tried when the server has no certificate to pick ours by. Each try is
/// an RSA private-key operation plus a content decryption, and the recipient list is the
/// sender's to choose: a body naming thousands of recipients must not cost thousands of them.
pub const MAX_BLIND_RECIPIENTS: usize = 4;

/// The key-transport recipients worth trying: the first one naming our certificate when we
/// have it (the certificate is public, so a forged message may name it many times: it is
/// tried once), else the first [`MAX_BLIND_RECIPIENTS`] RSA ones.
fn candidates<'a>(
    enveloped: &'a EnvelopedData,
    key: &ReportKey,
) -> Result<Vec<&'a KeyTransRecipientInfo>, SmimeError> {
    let mut total = 0_usize;
    let mut ktris = Vec::new();
    let most = if key.recipient.is_some() {
        1
    } else {
        MAX_BLIND_RECIPIENTS
    };
    for info in enveloped.recip_infos.0.iter() {
        total += 1;
        if let RecipientInfo::Ktri(ktri) = info {
            let wanted = match &key.recipient {
                None => true,
                Some(id) => id.matches(&ktri.rid),
            };
            if wanted && ktris.len() < most {
                ktris.push(ktri);
            }
        }
    }
    if ktris.is_empty() {
        let why = if key.recipient.is_some() {
            format!("none of the {total} recipient(s) is the key's certificate")
        } else {
            format!("none of the {total} recipient(s) uses RSA key transport")
        };
        return Err(SmimeError::NoRecipient(why));
    }
    Ok(ktris)
}

impl RecipientId {
    fn matches(&self, rid: &RecipientIdentifier) -> bool {
        match rid {
            RecipientIdentifier::IssuerAndSerialNumber(ias) => {
                ias.serial_number == self.serial && ias.issuer == self.issuer
            }
            RecipientIdentifier::SubjectKeyIdentifier(ski) => {
                self.subject_key_id.as_deref() == Some(ski.0.as_bytes())
            }
        }
    }
}

/// A digest named in RSA-OAEP parameters.
#[derive(Clone, Copy)]
enum Hash {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn from_oid(oid: &ObjectIdentifier) -> Result<Self, SmimeError> {
        Ok(match *oid {
            ID_SHA1 => Self::Sha1,
            ID_SHA224 => Self::Sha224,
            ID_SHA256 => Self::Sha256,
            ID_SHA384 => Self::Sha384,
            ID_SHA512 => Self::Sha512,
            _ => return Err(unsupported("RSA-OAEP digest", oid)),
        })
    }
}

/// How the content-encryption key was encrypted for us.
enum KeyTransport {
    Pkcs1v15,
    Oaep {
        hash: Hash,
        mgf_hash: Hash,
        label: Vec<u8>,
    },
}

impl KeyTransport {
    fn from_algorithm(alg: &AlgorithmIdentifierOwned) -> Result<Self, SmimeError> {
        match alg.oid {
            RSA_ENCRYPTION => Ok(Self::Pkcs1v15),
            ID_RSAES_OAEP => Self::oaep(alg),
            ref oid => Err(unsupported("key encryption algorithm", oid)),
        }
    }

    /// Reads `RSAES-OAEP-params` (RFC 8017 A.2.1): three optional explicitly tagged fields
    /// whose defaults are SHA-1, MGF1 with SHA-1 and an empty label.
    fn oaep(alg: &AlgorithmIdentifierOwned) -> Result<Self, SmimeError> {
        let mut transport = Self::Oaep {
            hash: Hash::Sha1,
            mgf_hash: Hash::Sha1,
            label: Vec::new(),
        };
        let Some(params) = &alg.parameters else {
            return Ok(transport);
        };
        let der = params.to_der().map_err(der_error)?;
        let fields = SliceReader::new(&der)
            .and_then(|mut reader| {
                reader.sequence(|seq| {
                    let hash = seq.context_specific::<AlgorithmIdentifierOwned>(
                        TagNumber::N0,
                        TagMode::Explicit,
                    )?;
                    let mgf = seq.context_specific::<AlgorithmIdentifierOwned>(
                        TagNumber::N1,
                        TagMode::Explicit,
                    )?;
                    let source = seq.context_specific::<AlgorithmIdentifierOwned>(
                        TagNumber::N2,
                        TagMode::Explicit,
                    )?;
                    Ok((hash, mgf, source))
                })
            })
            .map_err(der_error)?;
        let (hash_alg, mgf_alg, source_alg) = fields;
        let Self::Oaep {
            hash,
            mgf_hash,
            label,
        } = &mut transport
        else {
            return Ok(transport);
        };
        if let Some(hash_alg) = hash_alg {
            *hash = Hash::from_oid(&hash_alg.oid)?;
        }
        if let Some(mgf_alg) = mgf_alg {
            if mgf_alg.oid != ID_MGF1 {
                return Err(unsupported(
                    "RSA-OAEP mask generation function",
                    &mgf_alg.oid,
                ));
            }
            let mgf_digest = mgf_alg
                .parameters
                .as_ref()
                .ok_or_else(|| SmimeError::Malformed("MGF1 without a digest".into()))?
                .decode_as::<AlgorithmIdentifierOwned>()
                .map_err(der_error)?;
            *mgf_hash = Hash::from_oid(&mgf_digest.oid)?;
        }
        if let Some(source_alg) = source_alg {
            if source_alg.oid != ID_P_SPECIFIED {
                return Err(unsupported("RSA-OAEP label source", &source_alg.oid));
            }
            if let Some(value) = &source_alg.parameters {
                *label = value
                    .decode_as::<OctetStringRef<'_>>()
                    .map_err(der_error)?
                    .as_bytes()
                    .to_vec();
            }
        }
        Ok(transport)
    }

    /// Decrypts the content-encryption key. PKCS#1 v1.5 never fails on bad padding (implicit
    /// rejection gives a synthetic key), so a wrong key surfaces later as bad CBC padding.
    fn decrypt(&self, key: &PrivateKey, encrypted_key: &[u8]) -> Result<Vec<u8>, rsa::Error> {
        match self {
            Self::Pkcs1v15 => key.decrypt(Pkcs1v15Encrypt, encrypted_key),
            Self::Oaep {
                hash,
                mgf_hash,
                label,
            } => oaep_with_hash(*hash, *mgf_hash, label, key, encrypted_key),
        }
    }
}

fn oaep_with_hash(
    hash: Hash,
    mgf: Hash,
    label: &[u8],
    key: &PrivateKey,
    ct: &[u8],
) -> Result<Vec<u8>, rsa::Error> {
    match hash {
        Hash::Sha1 => oaep_with_mgf::<Sha1>(mgf, label, key, ct),
        Hash::Sha224 => oaep_with_mgf::<Sha224>(mgf, label, key, ct),
        Hash::Sha256 => oaep_with_mgf::<Sha256>(mgf, label, key, ct),
        Hash::Sha384 => oaep_with_mgf::<Sha384>(mgf, label, key, ct),
        Hash::Sha512 => oaep_with_mgf::<Sha512>(mgf, label, key, ct),
    }
}

fn oaep_with_mgf<D>(
    mgf: Hash,
    label: &[u8],
    key: &PrivateKey,
    ct: &[u8],
) -> Result<Vec<u8>, rsa::Error>
where
    D: sha1::Digest + sha1::digest::FixedOutputReset,
{
    fn run<D, M>(label: &[u8], key: &PrivateKey, ct: &[u8]) -> Result<Vec<u8>, rsa::Error>
    where
        D: sha1::Digest + sha1::digest::FixedOutputReset,
        M: sha1::Digest + sha1::digest::FixedOutputReset,
    {
        // An empty pSpecified label and no label are the same thing (RFC 8017 7.1.2).
        key.decrypt(Oaep::<D, M>::new_with_mgf_hash_and_label(label), ct)
    }
    match mgf {
        Hash::Sha1 => run::<D, Sha1>(label, key, ct),
        Hash::Sha224 => run::<D, Sha224>(label, key, ct),
        Hash::Sha256 => run::<D, Sha256>(label, key, ct),
        Hash::Sha384 => run::<D, Sha384>(label, key, ct),
        Hash::Sha512 => run::<D, Sha512>(label, key, ct),
    }
}

/// The content-encryption algorithm and its IV.
struct ContentCipher {
    kind: CipherKind,
    iv: Vec<u8>,
}

/// The block cipher of the content encryption; all of them are used in CBC mode.
#[derive(Clone, Copy)]
enum CipherKind {
    Aes128,
    Aes192,
    Aes256,
    DesEde3,
}

impl ContentCipher {
    fn from_algorithm(alg: &AlgorithmIdentifierOwned) -> Result<Self, SmimeError> {
        let (kind, block) = match alg.oid {
            ID_AES128_CBC => (CipherKind::Aes128, 16),
            ID_AES192_CBC => (CipherKind::Aes192, 16),
            ID_AES256_CBC => (CipherKind::Aes256, 16),
            DES_EDE3_CBC => (CipherKind::DesEde3, 8),
            ref oid => return Err(unsupported("content encryption algorithm", oid)),
        };
        let iv = alg
            .parameters
            .as_ref()
            .ok_or_else(|| SmimeError::Malformed("the content cipher has no IV".into()))?
            .decode_as::<OctetStringRef<'_>>()
            .map_err(der_error)?
            .as_bytes()
            .to_vec();
        if iv.len() != block {
            return Err(SmimeError::Malformed(format!(
                "the IV is {} bytes, the cipher needs {block}",
                iv.len()
            )));
        }
        Ok(Self { kind, iv })
    }

    fn key_len(&self) -> usize {
        match self.kind {
            CipherKind::Aes128 => 16,
            CipherKind::Aes192 | CipherKind::DesEde3 => 24,
            CipherKind::Aes256 => 32,
        }
    }

    /// CBC-decrypts and removes PKCS#7 padding; `None` on a bad length or bad padding.
    fn decrypt(&self, key: &[u8], ciphertext: &[u8]) -> Option<Vec<u8>> {
        match self.kind {
            CipherKind::Aes128 => cbc_decrypt::<Aes128>(key, &self.iv, ciphertext),
            CipherKind::Aes192 => cbc_decrypt::<Aes192>(key, &self.iv, ciphertext),
            CipherKind::Aes256 => cbc_decrypt::<Aes256>(key, &self.iv, ciphertext),
            CipherKind::DesEde3 => cbc_decrypt::<TdesEde3>(key, &self.iv, ciphertext),
        }
    }
}

fn cbc_decrypt<C>(key: &[u8], iv: &[u8], ciphertext: &[u8]) -> Option<Vec<u8>>
where
    C: BlockCipherDecrypt,
    cbc::Decryptor<C>: KeyIvInit + BlockModeDecrypt,
{
    let decryptor = cbc::Decryptor::<C>::new_from_slices(key, iv).ok()?;
    let mut buf = ciphertext.to_vec();
    let len = decryptor.decrypt_padded::<Pkcs7>(&mut buf).ok()?.len();
    buf.truncate(len);
    Some(buf)
}
