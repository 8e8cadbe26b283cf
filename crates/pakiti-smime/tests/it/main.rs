//! Integration tests of pakiti-smime: decryption of real openssl-made messages.

mod decrypt;
