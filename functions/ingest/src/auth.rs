//! Bearer-token check for a public function URL (`AuthType: NONE`).
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

/// True when the `Authorization` header carries `Bearer <token>` with the expected token.
pub fn bearer_matches(authorization: Option<&str>, expected: &TokenDigest) -> bool {
    let Some((scheme, token)) = authorization.and_then(|h| h.trim().split_once(' ')) else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return false;
    }
    let digest: TokenDigest = Sha256::digest(token.trim().as_bytes()).into();
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
