//! Signed tokens: who a person is and what role they have.
//!
//! Tokens are JWTs signed with HS256 only (the algorithm is pinned when verifying, so
//! `alg=none` and algorithm confusion are refused), with audience `plenary` and an expiry.
//! The secret comes from `PLENARY_SECRET` or from the file `secret` in the data directory,
//! created on first use, so `plenary token` and the server agree without talking.
//!
//! Two kinds: a *personal* token names one person; an *invite* token (an invite link) names a
//! role, and each person who says hello with it becomes a new person with a personal token.

use std::path::Path;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use plenary_protocol::{Role, RoomId, User};
use serde::{Deserialize, Serialize};

const AUDIENCE: &str = "plenary";
/// How long a personal token issued to a guest or invitee lasts.
pub const PERSONAL_TOKEN_DAYS: u64 = 30;

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error("cannot read or create the secret: {0}")]
    Secret(#[from] std::io::Error),
    #[error("the secret must be at least 32 bytes")]
    WeakSecret,
}

/// What a token says.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Claims {
    /// The person's id.
    pub sub: String,
    pub name: String,
    pub role: Role,
    /// An invite: each hello with it makes a new person.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub invite: bool,
    /// Rooms this token is limited to; absent for all rooms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rooms: Option<Vec<RoomId>>,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
}

impl Claims {
    /// Claims for `role`, valid for `days` from now (Unix seconds `now`).
    pub fn new(sub: String, name: String, role: Role, now: u64, days: u64) -> Claims {
        Claims {
            sub,
            name,
            role,
            invite: false,
            rooms: None,
            aud: AUDIENCE.into(),
            iat: now,
            exp: now + days * 24 * 60 * 60,
        }
    }

    /// The person these claims name.
    pub fn user(&self) -> User {
        User {
            id: self.sub.clone(),
            name: self.name.clone(),
            role: self.role,
        }
    }
}

/// Signs and verifies tokens with one secret.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Keys {
    /// Keys from a secret of at least 32 bytes.
    pub fn from_secret(secret: &[u8]) -> Result<Keys, AuthError> {
        if secret.len() < 32 {
            return Err(AuthError::WeakSecret);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "aud", "sub"]);
        validation.leeway = 30;
        Ok(Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        })
    }

    /// `secret` if given, else the data directory's secret file, created if missing.
    pub fn load(data_dir: &Path, secret: Option<&str>) -> Result<Keys, AuthError> {
        if let Some(secret) = secret {
            return Keys::from_secret(secret.as_bytes());
        }
        let path = data_dir.join("secret");
        match std::fs::read_to_string(&path) {
            Ok(text) => Keys::from_secret(text.trim().as_bytes()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir)?;
                let secret = random_hex(32);
                write_private(&path, &secret)?;
                Keys::from_secret(secret.as_bytes())
            }
            Err(error) => Err(error.into()),
        }
    }

    /// A signed token.
    pub fn issue(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing of plain claims cannot fail")
    }

    /// The claims of a token this server signed, not expired.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        Ok(jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)?.claims)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

/// `bytes` random bytes as lowercase hex.
pub fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    buffer.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    jiff::Timestamp::now().as_second().max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::from_secret(&[7u8; 32]).expect("32 bytes is enough")
    }

    #[test]
    fn a_token_round_trips() {
        let keys = keys();
        let claims = Claims::new("u1".into(), "Ada".into(), Role::Moderator, unix_now(), 1);
        assert_eq!(keys.verify(&keys.issue(&claims)).expect("valid"), claims);
    }

    #[test]
    fn expired_forged_and_unsigned_tokens_are_refused() {
        let keys = keys();
        let expired = Claims::new("u1".into(), "Ada".into(), Role::Host, 1_000, 1);
        assert!(keys.verify(&keys.issue(&expired)).is_err());

        let other = Keys::from_secret(&[8u8; 32]).expect("32 bytes");
        let claims = Claims::new("u1".into(), "Ada".into(), Role::Host, unix_now(), 1);
        assert!(keys.verify(&other.issue(&claims)).is_err());

        // alg=none: header {"alg":"none","typ":"JWT"}, same claims, no signature.
        let token = keys.issue(&claims);
        let payload = token.split('.').nth(1).expect("three parts");
        let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
        assert!(keys.verify(&unsigned).is_err());
    }
}
