//! S/MIME encryption of a report for the server's certificate: CMS enveloped data (DER),
//! AES-256-CBC content encryption, RSA PKCS#1 v1.5 key transport to the recipient named by
//! issuer and serial number.
//!
//! This is what the Pakiti 3 Perl client gets from
//! `openssl smime -encrypt -binary -aes-256-cbc -outform DER CERT`, so Pakiti 3 servers
//! (`openssl smime -decrypt`) and ours (`pakiti_server::smime::decrypt`) read it.

use aes::Aes256;
use cbc::cipher::{BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
use cms::cert::IssuerAndSerialNumber;
use cms::cert::x509::Certificate;
use cms::cert::x509::der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use cms::cert::x509::der::{Any, DecodePem, Encode, Tag};
use cms::cert::x509::spki::AlgorithmIdentifierOwned;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::enveloped_data::{
    EncryptedContentInfo, EnvelopedData, KeyTransRecipientInfo, RecipientIdentifier, RecipientInfo,
    RecipientInfos,
};
use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Encrypt, PublicKey};

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_ENVELOPED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.3");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ID_AES256_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.42");

/// Encryption failed.
#[derive(Debug, thiserror::Error)]
pub enum EncryptError {
    /// The certificate is not PEM, not X.509, or its key is not RSA.
    #[error("bad encryption certificate: {0}")]
    Certificate(String),
    /// The operating system gave no random bytes.
    #[error("no random bytes from the operating system: {0}")]
    Random(String),
    /// RSA or DER encoding failed.
    #[error("encryption failed: {0}")]
    Encode(String),
}

/// Encrypts `content` for the holder of the certificate `cert_pem` (its first
/// `BEGIN CERTIFICATE` block) and returns the DER `ContentInfo`.
///
/// # Errors
/// See [`EncryptError`].
pub fn encrypt(content: &[u8], cert_pem: &str) -> Result<Vec<u8>, EncryptError> {
    let cert_err = |e: &dyn std::fmt::Display| EncryptError::Certificate(e.to_string());
    let block = first_certificate(cert_pem)
        .ok_or_else(|| EncryptError::Certificate("no 'BEGIN CERTIFICATE' block found".into()))?;
    let cert = Certificate::from_pem(block).map_err(|e| cert_err(&e))?;
    let tbs = &cert.tbs_certificate;
    let spki = tbs
        .subject_public_key_info
        .to_der()
        .map_err(|e| cert_err(&e))?;
    let public = PublicKey::from_public_key_der(&spki)
        .map_err(|e| EncryptError::Certificate(format!("not an RSA public key: {e}")))?;

    let mut cek = [0u8; 32];
    let mut iv = [0u8; 16];
    getrandom::fill(&mut cek).map_err(|e| EncryptError::Random(e.to_string()))?;
    getrandom::fill(&mut iv).map_err(|e| EncryptError::Random(e.to_string()))?;

    let mut buf = vec![0u8; (content.len() / 16 + 1) * 16];
    buf[..content.len()].copy_from_slice(content);
    let ciphertext = cbc::Encryptor::<Aes256>::new(&cek.into(), &iv.into())
        .encrypt_padded::<Pkcs7>(&mut buf, content.len())
        .map_err(|e| EncryptError::Encode(e.to_string()))?
        .to_vec();

    let enc_key = public
        .encrypt(&mut getrandom::SysRng, Pkcs1v15Encrypt, &cek)
        .map_err(|e| EncryptError::Encode(e.to_string()))?;

    let encode = |e: cms::cert::x509::der::Error| EncryptError::Encode(e.to_string());
    let ktri = KeyTransRecipientInfo {
        version: CmsVersion::V0,
        rid: RecipientIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer.clone(),
            serial_number: tbs.serial_number.clone(),
        }),
        key_enc_alg: AlgorithmIdentifierOwned {
            oid: RSA_ENCRYPTION,
            parameters: Some(Any::null()),
        },
        enc_key: OctetString::new(enc_key).map_err(encode)?,
    };
    let mut recipients = SetOfVec::new();
    recipients
        .insert(RecipientInfo::Ktri(ktri))
        .map_err(encode)?;
    let enveloped = EnvelopedData {
        version: CmsVersion::V0,
        originator_info: None,
        recip_infos: RecipientInfos(recipients),
        encrypted_content: EncryptedContentInfo {
            content_type: ID_DATA,
            content_enc_alg: AlgorithmIdentifierOwned {
                oid: ID_AES256_CBC,
                parameters: Some(Any::new(Tag::OctetString, iv.to_vec()).map_err(encode)?),
            },
            encrypted_content: Some(OctetString::new(ciphertext).map_err(encode)?),
        },
        unprotected_attrs: None,
    };
    let info = ContentInfo {
        content_type: ID_ENVELOPED_DATA,
        content: Any::encode_from(&enveloped).map_err(encode)?,
    };
    info.to_der().map_err(encode)
}

fn first_certificate(text: &str) -> Option<&str> {
    let begin = "-----BEGIN CERTIFICATE-----";
    let end = "-----END CERTIFICATE-----";
    let start = text.find(begin)?;
    let stop = start + text[start..].find(end)? + end.len();
    Some(&text[start..stop])
}
