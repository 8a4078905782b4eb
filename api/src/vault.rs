//! Encryption at rest of what the service must be able to use again by itself, without the
//! person who gave it: the CSD private keys that seal CFDIs.
//!
//! AES-256-GCM (RustCrypto `aes-gcm`) with a random 96-bit nonce per encryption; what is
//! stored is `nonce ‖ ciphertext ‖ tag` beside the id of the key that sealed it. The caller's
//! associated data (for a CSD: its organization and row) is authenticated with it, so a
//! ciphertext copied into another row, or another organization's, does not open.
//!
//! Keys rotate: [`Vault::encrypt`] always uses the current key (`CSD_ENCRYPTION_KEY`);
//! [`Vault::decrypt`] opens with whichever configured key the stored id names, the current or
//! one of `CSD_PREVIOUS_ENCRYPTION_KEYS`, and start-up re-encrypts what older keys sealed
//! (`routes::certificates::reencrypt_stored`).
//!
//! Random nonces are safe here: GCM allows 2³² encryptions per key with random nonces, and a
//! key encrypts one secret per uploaded certificate.

use std::fmt;

use aes_gcm::aead::{Aead, AeadInOut, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use secrecy::{ExposeSecret, SecretBox};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Bytes of an AES-256 key.
pub const KEY_LEN: usize = 32;
/// Bytes of the GCM nonce that starts every stored ciphertext.
const NONCE_LEN: usize = 12;
/// Bytes of the GCM tag that ends it.
const TAG_LEN: usize = 16;

/// A key of the vault: 32 secret bytes and the id stored beside what it encrypts.
pub struct EncryptionKey {
    id: String,
    bytes: SecretBox<[u8; KEY_LEN]>,
}

impl Clone for EncryptionKey {
    fn clone(&self) -> Self {
        Self {
            id: self.id.clone(),
            bytes: SecretBox::new(Box::new(*self.bytes.expose_secret())),
        }
    }
}

/// `CSD_ENCRYPTION_KEY` or one of `CSD_PREVIOUS_ENCRYPTION_KEYS` is not base64 of 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an encryption key must be the base64 of 32 bytes (`openssl rand -base64 32`)")]
pub struct InvalidKey;

impl EncryptionKey {
    fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        // The id is derived from the key, so rotating needs no naming, and (one-way, with a
        // label of its own) it tells nothing usable about the key.
        let mut digest = Sha256::new();
        digest.update(b"facturacion vault key id\0");
        digest.update(bytes);
        Self {
            id: hex::encode(&digest.finalize()[..8]),
            bytes: SecretBox::new(Box::new(bytes)),
        }
    }

    /// Reads the base64 (standard alphabet, padded) of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, InvalidKey> {
        let decoded = Zeroizing::new(BASE64.decode(text.trim()).map_err(|_| InvalidKey)?);
        let bytes: [u8; KEY_LEN] = decoded.as_slice().try_into().map_err(|_| InvalidKey)?;
        Ok(Self::from_bytes(bytes))
    }

    /// A new random key (the development key, generated once).
    pub fn generate() -> Self {
        Self::from_bytes(rand::random())
    }

    /// The key as `CSD_ENCRYPTION_KEY` takes it.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(BASE64.encode(self.bytes.expose_secret()))
    }

    /// The id stored beside every ciphertext this key seals.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Shows the id only.
impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptionKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// What [`Vault::encrypt`] gives: the bytes to store and the id of the key that sealed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    /// `nonce ‖ ciphertext ‖ tag`.
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    #[error(
        "the data was encrypted with key {0}, which is neither CSD_ENCRYPTION_KEY nor one of CSD_PREVIOUS_ENCRYPTION_KEYS"
    )]
    UnknownKey(String),
    #[error("the data does not open with key {0}: it was altered, or belongs to another record")]
    Inauthentic(String),
    #[error("the data is too long to encrypt")]
    TooLong,
}

struct Entry {
    id: String,
    cipher: Aes256Gcm,
}

impl Entry {
    fn new(key: &EncryptionKey) -> Self {
        Self {
            id: key.id.clone(),
            cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key.bytes.expose_secret())),
        }
    }
}

/// Encrypts with the current key, decrypts with any configured one.
pub struct Vault {
    current: Entry,
    previous: Vec<Entry>,
}

impl Vault {
    /// `current` encrypts; it and `previous` decrypt.
    pub fn new(current: &EncryptionKey, previous: &[EncryptionKey]) -> Self {
        Self {
            current: Entry::new(current),
            previous: previous
                .iter()
                .filter(|key| key.id != current.id)
                .map(Entry::new)
                .collect(),
        }
    }

    /// The id of the key [`Vault::encrypt`] uses.
    pub fn current_key_id(&self) -> &str {
        &self.current.id
    }

    /// Seals `plaintext` with the current key, authenticating `associated_data` with it.
    pub fn encrypt(&self, plaintext: &[u8], associated_data: &[u8]) -> Result<Sealed, VaultError> {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let ciphertext = self
            .current
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: associated_data,
                },
            )
            .map_err(|_| VaultError::TooLong)?;
        let mut bytes = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&ciphertext);
        Ok(Sealed {
            key_id: self.current.id.clone(),
            bytes,
        })
    }

    /// Opens what the key `key_id` sealed with `associated_data`. The plaintext is wiped from
    /// memory when dropped.
    pub fn decrypt(
        &self,
        key_id: &str,
        sealed: &[u8],
        associated_data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let entry = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|entry| entry.id == key_id)
            .ok_or_else(|| VaultError::UnknownKey(key_id.to_string()))?;
        let inauthentic = || VaultError::Inauthentic(key_id.to_string());
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(inauthentic());
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| inauthentic())?;
        let mut buffer = Zeroizing::new(ciphertext.to_vec());
        entry
            .cipher
            .decrypt_in_place(&nonce, associated_data, &mut *buffer)
            .map_err(|_| inauthentic())?;
        Ok(buffer)
    }
}

/// Shows the key ids only.
impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("current_key_id", &self.current.id)
            .field(
                "previous_key_ids",
                &self.previous.iter().map(|e| &e.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> EncryptionKey {
        EncryptionKey::from_bytes([byte; KEY_LEN])
    }

    #[test]
    fn what_is_sealed_opens_with_the_same_associated_data_only() -> Result<(), VaultError> {
        let vault = Vault::new(&key(1), &[]);
        let sealed = vault.encrypt(b"private key bytes", b"org-a/row-1")?;
        assert_eq!(sealed.key_id, key(1).id());
        assert_eq!(sealed.bytes.len(), NONCE_LEN + 17 + TAG_LEN);
        assert!(!sealed.bytes.windows(17).any(|w| w == b"private key bytes"));
        let opened = vault.decrypt(&sealed.key_id, &sealed.bytes, b"org-a/row-1")?;
        assert_eq!(opened.as_slice(), b"private key bytes");

        // Moved to another row, altered, or cut short: refused.
        assert_eq!(
            vault.decrypt(&sealed.key_id, &sealed.bytes, b"org-b/row-1"),
            Err(VaultError::Inauthentic(sealed.key_id.clone()))
        );
        let mut altered = sealed.bytes.clone();
        altered[NONCE_LEN] ^= 1;
        assert!(
            vault
                .decrypt(&sealed.key_id, &altered, b"org-a/row-1")
                .is_err()
        );
        assert!(
            vault
                .decrypt(&sealed.key_id, &sealed.bytes[..20], b"org-a/row-1")
                .is_err()
        );
        Ok(())
    }

    #[test]
    fn nonces_are_fresh_every_time() -> Result<(), VaultError> {
        let vault = Vault::new(&key(1), &[]);
        let first = vault.encrypt(b"same", b"ad")?;
        let second = vault.encrypt(b"same", b"ad")?;
        assert_ne!(first.bytes[..NONCE_LEN], second.bytes[..NONCE_LEN]);
        assert_ne!(first.bytes, second.bytes);
        Ok(())
    }

    #[test]
    fn rotation_opens_with_old_keys_and_seals_with_the_new_one() -> Result<(), VaultError> {
        let old = Vault::new(&key(1), &[]);
        let sealed = old.encrypt(b"secret", b"ad")?;

        let rotated = Vault::new(&key(2), &[key(1)]);
        assert_eq!(rotated.current_key_id(), key(2).id());
        let opened = rotated.decrypt(&sealed.key_id, &sealed.bytes, b"ad")?;
        assert_eq!(opened.as_slice(), b"secret");
        assert_eq!(rotated.encrypt(b"secret", b"ad")?.key_id, key(2).id());

        // Without the old key, the id names what is missing.
        let forgotten = Vault::new(&key(2), &[]);
        assert_eq!(
            forgotten.decrypt(&sealed.key_id, &sealed.bytes, b"ad"),
            Err(VaultError::UnknownKey(key(1).id().to_string()))
        );
        Ok(())
    }

    #[test]
    fn keys_read_from_base64_and_never_show() -> Result<(), InvalidKey> {
        let text = BASE64.encode([7u8; KEY_LEN]);
        let read = EncryptionKey::from_base64(&text)?;
        assert_eq!(read.id(), key(7).id());
        assert_eq!(read.to_base64().as_str(), text);
        assert_eq!(read.id().len(), 16);
        assert_ne!(key(7).id(), key(8).id());
        for bad in [
            "",
            "not base64!",
            &BASE64.encode([7u8; 31]),
            &BASE64.encode([7u8; 33]),
        ] {
            assert_eq!(
                EncryptionKey::from_base64(bad).err(),
                Some(InvalidKey),
                "{bad}"
            );
        }
        let shown = format!("{read:?} {:?}", Vault::new(&read, &[key(1)]));
        assert!(!shown.contains(&text), "{shown}");
        assert!(!shown.contains("7, 7"), "{shown}");
        assert!(shown.contains(read.id()), "{shown}");
        Ok(())
    }
}
