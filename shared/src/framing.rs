//! NDJSON-style framing: each record followed by exactly one `\n` unless it already ends
//! with one. Used by batch-to-s3 (object bodies) and the Firehose path.

/// Appends `record` to `out`, then a `\n` unless the record already ends with one.
pub fn push_line(out: &mut Vec<u8>, record: &[u8]) {
    out.extend_from_slice(record);
    if record.last() != Some(&b'\n') {
        out.push(b'\n');
    }
}

/// The framed length of a record: its bytes plus the `\n` `push_line` would add.
pub fn framed_len(record: &[u8]) -> usize {
    record.len() + usize::from(record.last() != Some(&b'\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_newline_only_when_missing() {
        let mut out = Vec::new();
        push_line(&mut out, b"a");
        push_line(&mut out, b"b\n");
        push_line(&mut out, b"");
        assert_eq!(out, b"a\nb\n\n");
        assert_eq!(framed_len(b"a"), 2);
        assert_eq!(framed_len(b"b\n"), 2);
    }
}
