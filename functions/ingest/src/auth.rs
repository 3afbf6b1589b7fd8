//! Token check for a public function URL (`AuthType: NONE`): `Authorization: Bearer TOKEN`,
//! or `Authorization: Basic` with the token as the password (any user name), for senders that
//! only speak Basic auth (Fluent Bit's `http_User`/`http_Passwd`, Logstash's `user`/`password`).
//!
//! The deployed configuration holds only the SHA-256 of the token (`AUTH_TOKEN_SHA256`), never
//! the token. A request's token is hashed and the two digests are compared in constant time,
//! so neither the comparison's timing nor the configuration reveals the token. With
//! `AuthType: AWS_IAM` the function URL itself authenticates (SigV4) and no token is needed.

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type TokenDigest = [u8; 32];

/// Parses 64 hex digits into a digest.
pub fn parse_digest(hex: &str) -> Option<TokenDigest> {
    let hex = hex.trim();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Equality whose time does not depend on where the inputs differ.
fn constant_time_eq(a: &TokenDigest, b: &TokenDigest) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// True when the `Authorization` header carries the expected token: `Bearer <token>`, or
/// `Basic base64(<user>:<token>)`.
pub fn bearer_matches(authorization: Option<&str>, expected: &TokenDigest) -> bool {
    let Some((scheme, credentials)) = authorization.and_then(|h| h.trim().split_once(' ')) else {
        return false;
    };
    let credentials = credentials.trim();
    let digest: TokenDigest = if scheme.eq_ignore_ascii_case("bearer") {
        Sha256::digest(credentials.as_bytes()).into()
    } else if scheme.eq_ignore_ascii_case("basic") {
        use base64::Engine;
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(credentials) else {
            return false;
        };
        let Some(colon) = decoded.iter().position(|&b| b == b':') else {
            return false;
        };
        Sha256::digest(&decoded[colon + 1..]).into()
    } else {
        return false;
    };
    constant_time_eq(&digest, expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `printf s3cret | sha256sum`
    const S3CRET_SHA256: &str = "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0";

    fn digest_of(token: &str) -> TokenDigest {
        Sha256::digest(token.as_bytes()).into()
    }

    #[test]
    fn accepts_only_the_configured_token() {
        let d = digest_of("s3cret");
        assert!(bearer_matches(Some("Bearer s3cret"), &d));
        assert!(bearer_matches(Some("bearer s3cret"), &d));
        assert!(!bearer_matches(Some("Bearer s3cret2"), &d));
        assert!(!bearer_matches(Some("Basic s3cret"), &d));
        // Basic: the token is the password, the user name is anything.
        assert!(bearer_matches(Some("Basic Zmx1ZW50OnMzY3JldA=="), &d)); // fluent:s3cret
        assert!(bearer_matches(Some("basic OnMzY3JldA=="), &d)); // :s3cret
        assert!(!bearer_matches(Some("Basic czNjcmV0"), &d)); // s3cret, no colon
        assert!(!bearer_matches(Some("Basic Zmx1ZW50OnMzY3JldDI="), &d)); // fluent:s3cret2
        assert!(!bearer_matches(Some("Basic !!!"), &d));
        assert!(!bearer_matches(Some("s3cret"), &d));
        assert!(!bearer_matches(None, &d));
    }

    #[test]
    fn parses_hex_digests() {
        let d = digest_of("s3cret");
        let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(parse_digest(&hex), Some(d));
        assert_eq!(parse_digest(&hex.to_uppercase()), Some(d));
        assert_eq!(parse_digest("abc"), None);
        assert_eq!(parse_digest(&"g".repeat(64)), None);
        assert_eq!(
            parse_digest(S3CRET_SHA256),
            Some(d),
            "matches sha256sum's output"
        );
    }
}
