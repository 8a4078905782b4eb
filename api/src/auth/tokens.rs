//! Access tokens: short-lived HS256 JWTs (RFC 8725 practices). The header names the signing key
//! (`kid`) so the secret can be rotated while tokens signed with the previous one still verify;
//! the algorithm is allow-listed (no `none`, no algorithm confusion); `typ` is `at+jwt`
//! (RFC 9068) and a `token_use` claim says `access`, so no other kind of token is taken for one.

use std::collections::HashMap;
use std::time::Duration;

use domain::identity::Role;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::JwtKeys;

/// How long an access token lives.
pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
/// The audience every token is issued for and checked against.
pub const AUDIENCE: &str = "facturacion-api";
const TOKEN_TYPE: &str = "at+jwt";
const TOKEN_USE: &str = "access";

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user (or API client) id.
    pub sub: Uuid,
    /// The organization the token acts for.
    pub org: Uuid,
    pub role: Role,
    pub exp: u64,
    pub iat: u64,
    pub nbf: u64,
    pub jti: Uuid,
    pub token_use: String,
    /// The login session (refresh-token family) the token was issued for, when there is one:
    /// lets a password change keep the caller's own session while ending the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    /// True when `sub` is an API client (an ERP integration), not a user.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub client: bool,
}

/// Why a token was refused; all are answered 401 alike, the reason is only logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("algorithm not allowed")]
    Algorithm,
    #[error("bad signature")]
    Signature,
    #[error("expired")]
    Expired,
    #[error("not yet valid")]
    NotYetValid,
    #[error("wrong issuer or audience")]
    WrongParty,
    #[error("not an access token")]
    WrongType,
}

/// Signs and verifies access tokens.
#[derive(Clone)]
pub struct TokenKeys {
    issuer: String,
    signing_kid: String,
    signing: EncodingKey,
    verifying: HashMap<String, DecodingKey>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("issuer", &self.issuer)
            .field("signing_kid", &self.signing_kid)
            .field("verifying_kids", &self.verifying.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl TokenKeys {
    pub fn new(keys: &JwtKeys, issuer: &str) -> Result<Self, jsonwebtoken::errors::Error> {
        let secret = |k: &crate::config::SigningKey| k.secret.expose_secret().as_bytes().to_vec();
        let verifying = std::iter::once(&keys.current)
            .chain(&keys.previous)
            .map(|k| Ok((k.kid.clone(), DecodingKey::from_secret(&secret(k))?)))
            .collect::<Result<_, jsonwebtoken::errors::Error>>()?;
        Ok(Self {
            issuer: issuer.to_string(),
            signing_kid: keys.current.kid.clone(),
            signing: EncodingKey::from_secret(&secret(&keys.current))?,
            verifying,
        })
    }

    /// A new access token for `sub` acting in `org` as `role`; returns it with its lifetime.
    pub fn issue(
        &self,
        sub: Uuid,
        org: Uuid,
        role: Role,
        sid: Option<Uuid>,
    ) -> Result<(String, Duration), jsonwebtoken::errors::Error> {
        self.sign(self.claims(sub, org, role, sid))
    }

    fn claims(&self, sub: Uuid, org: Uuid, role: Role, sid: Option<Uuid>) -> AccessClaims {
        let now = now();
        AccessClaims {
            iss: self.issuer.clone(),
            aud: AUDIENCE.to_string(),
            sub,
            org,
            role,
            exp: now + ACCESS_TOKEN_TTL.as_secs(),
            iat: now,
            nbf: now,
            jti: Uuid::now_v7(),
            token_use: TOKEN_USE.to_string(),
            sid,
            client: false,
        }
    }

    fn sign(
        &self,
        claims: AccessClaims,
    ) -> Result<(String, Duration), jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.signing_kid.clone());
        header.typ = Some(TOKEN_TYPE.to_string());
        Ok((
            jsonwebtoken::encode(&header, &claims, &self.signing)?,
            ACCESS_TOKEN_TTL,
        ))
    }

    /// A new access token for API client `client_id` of `org`.
    pub fn issue_for_client(
        &self,
        client_id: Uuid,
        org: Uuid,
        role: Role,
    ) -> Result<(String, Duration), jsonwebtoken::errors::Error> {
        self.sign(AccessClaims {
            client: true,
            ..self.claims(client_id, org, role, None)
        })
    }

    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::Algorithm);
        }
        if !header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(TOKEN_TYPE))
        {
            return Err(TokenError::WrongType);
        }
        let key = header
            .kid
            .as_ref()
            .and_then(|kid| self.verifying.get(kid))
            .ok_or(TokenError::UnknownKey)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 30;
        let data = jsonwebtoken::decode::<AccessClaims>(token, key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::InvalidSignature => TokenError::Signature,
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidAudience | ErrorKind::InvalidIssuer => TokenError::WrongParty,
                ErrorKind::InvalidAlgorithm => TokenError::Algorithm,
                _ => TokenError::Malformed,
            }
        })?;
        if data.claims.token_use != TOKEN_USE {
            return Err(TokenError::WrongType);
        }
        Ok(data.claims)
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SigningKey;
    use secrecy::SecretString;

    fn keys(current: &str, previous: &[&str]) -> JwtKeys {
        JwtKeys {
            current: SigningKey::new(SecretString::from(current.to_string())),
            previous: previous
                .iter()
                .map(|p| SigningKey::new(SecretString::from(p.to_string())))
                .collect(),
        }
    }

    const A: &str = "first-secret-first-secret-first-secret";
    const B: &str = "second-secret-second-secret-second-secret";

    #[test]
    fn issued_tokens_verify_and_carry_their_claims() {
        let k = TokenKeys::new(&keys(A, &[]), "http://issuer").unwrap();
        let (sub, org) = (Uuid::now_v7(), Uuid::now_v7());
        let (token, ttl) = k.issue(sub, org, Role::Admin, None).unwrap();
        assert!(ttl <= Duration::from_secs(15 * 60));
        let claims = k.verify(&token).unwrap();
        assert_eq!(
            (claims.sub, claims.org, claims.role),
            (sub, org, Role::Admin)
        );
        assert_eq!(claims.exp - claims.iat, ACCESS_TOKEN_TTL.as_secs());
    }

    #[test]
    fn rotation_keeps_old_tokens_valid_until_the_old_key_is_dropped() {
        let old = TokenKeys::new(&keys(A, &[]), "http://issuer").unwrap();
        let (token, _) = old
            .issue(Uuid::now_v7(), Uuid::now_v7(), Role::Viewer, None)
            .unwrap();
        let rotated = TokenKeys::new(&keys(B, &[A]), "http://issuer").unwrap();
        assert!(rotated.verify(&token).is_ok());
        let dropped = TokenKeys::new(&keys(B, &[]), "http://issuer").unwrap();
        assert_eq!(dropped.verify(&token).err(), Some(TokenError::UnknownKey));
    }

    #[test]
    fn other_issuers_are_refused() {
        let k = TokenKeys::new(&keys(A, &[]), "http://issuer").unwrap();
        let (token, _) = k
            .issue(Uuid::now_v7(), Uuid::now_v7(), Role::Viewer, None)
            .unwrap();
        let other = TokenKeys::new(&keys(A, &[]), "http://elsewhere").unwrap();
        assert_eq!(other.verify(&token).err(), Some(TokenError::WrongParty));
        assert_eq!(k.verify("garbage").err(), Some(TokenError::Malformed));
    }
}
