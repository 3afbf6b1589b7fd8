//! `ingest::body::parse` on any body, content type, content encoding and key options, then
//! `ingest::aggregate::pack` on what it returns.
//!
//! Invariants:
//! - `parse` never panics and its entries respect Kinesis' limits (record size with the key,
//!   1 to 256 characters of partition key);
//! - `pack` puts every entry in exactly one Kinesis record, in order, each within 1 MiB, and
//!   `trickle_shared::kpl::deaggregate` of an aggregate gives back exactly its members
//!   (key, explicit hash key, data), in order.
#![no_main]

use ingest::aggregate::pack;
use ingest::body::{parse, HttpInput};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use std::io::Write;
use trickle_shared::kpl::{deaggregate, Deaggregated};
use trickle_shared::limits::{KINESIS_MAX_PARTITION_KEY_CHARS, KINESIS_MAX_RECORD_BYTES};

#[derive(Debug, Arbitrary)]
enum ContentType {
    Json,
    JsonCharset,
    PlusJson,
    Ndjson,
    Jsonl,
    Text,
    Missing,
    Other(String),
}

#[derive(Debug, Arbitrary)]
enum Encoding {
    /// No header: the body as it is.
    None,
    /// `Content-Encoding: gzip` and the body gzip-compressed here, so the splitters are
    /// reached through the decoder.
    GzipOfBody,
    /// `Content-Encoding: gzip` over the raw bytes: corrupt and odd gzip streams.
    GzipRaw,
    /// Any header value.
    Header(String),
}

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    method_get: bool,
    content_type: ContentType,
    encoding: Encoding,
    partition_key_header: Option<&'a str>,
    partition_key_query: Option<&'a str>,
    explicit_hash_key: Option<&'a str>,
    /// The `STREAM_PARTITION_KEY_POINTER` setting.
    key_pointer: Option<&'a str>,
    body: &'a [u8],
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("in-memory write");
    e.finish().expect("in-memory write")
}

fuzz_target!(|input: Input<'_>| {
    let content_type = match &input.content_type {
        ContentType::Json => Some("application/json"),
        ContentType::JsonCharset => Some("Application/JSON; charset=utf-8"),
        ContentType::PlusJson => Some("application/vnd.api+json"),
        ContentType::Ndjson => Some("application/x-ndjson"),
        ContentType::Jsonl => Some("application/jsonl"),
        ContentType::Text => Some("text/plain"),
        ContentType::Missing => None,
        ContentType::Other(s) => Some(s.as_str()),
    };
    let compressed;
    let (content_encoding, body) = match &input.encoding {
        Encoding::None => (None, input.body),
        Encoding::GzipOfBody => {
            compressed = gzip(input.body);
            (Some("gzip"), compressed.as_slice())
        }
        Encoding::GzipRaw => (Some("gzip"), input.body),
        Encoding::Header(h) => (Some(h.as_str()), input.body),
    };
    let http = HttpInput {
        method: if input.method_get { "GET" } else { "POST" },
        content_type,
        content_encoding,
        partition_key_header: input.partition_key_header,
        partition_key_query: input.partition_key_query,
        explicit_hash_key: input.explicit_hash_key,
        authorization: None,
        body: body.to_vec().into(),
        ..Default::default()
    };
    let Ok(entries) = parse(&http, input.key_pointer) else {
        return;
    };
    assert!(!entries.is_empty(), "Ok with no entries");
    for e in &entries {
        assert!(
            e.billed_bytes() <= KINESIS_MAX_RECORD_BYTES,
            "record over 1 MiB"
        );
        let chars = e.partition_key.as_str().chars().count();
        assert!(
            (1..=KINESIS_MAX_PARTITION_KEY_CHARS).contains(&chars),
            "partition key of {chars} characters"
        );
    }

    let packed = pack(&entries);
    let mut seen = Vec::with_capacity(entries.len());
    for p in &packed {
        assert!(!p.members.is_empty(), "empty aggregate");
        assert!(
            p.entry.billed_bytes() <= KINESIS_MAX_RECORD_BYTES,
            "packed record of {} bytes",
            p.entry.billed_bytes()
        );
        seen.extend_from_slice(&p.members);
        if let [only] = p.members.as_slice() {
            assert_eq!(
                p.entry, entries[*only],
                "a lone record must be put as it is"
            );
            continue;
        }
        let users = match deaggregate(&p.entry.data) {
            Ok(Deaggregated::Aggregated(users)) => users,
            other => panic!("pack made an aggregate that does not de-aggregate: {other:?}"),
        };
        assert_eq!(users.len(), p.members.len(), "member count");
        for (u, &i) in users.iter().zip(&p.members) {
            let e = &entries[i];
            assert_eq!(
                u.partition_key, e.partition_key.as_str(),
                "member {i}: partition key"
            );
            assert_eq!(
                u.explicit_hash_key.as_deref(), e.explicit_hash_key.as_deref(),
                "member {i}: hash key"
            );
            assert_eq!(u.data, &e.data[..], "member {i}: data");
        }
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..entries.len()).collect::<Vec<_>>(),
        "every entry exactly once"
    );
});
