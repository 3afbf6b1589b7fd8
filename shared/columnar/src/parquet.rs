//! Arrow batches to Parquet file bytes, with the settings every reader takes.
//!
//! - Parquet format 1.0 data pages (writer version `PARQUET_1_0`), which Athena, Hive, Spark,
//!   Trino, DuckDB and pyarrow all read; logical types for dates, timestamps (INT64
//!   MICROS, adjusted to UTC), decimals and strings.
//! - Column statistics (min/max/null count) per page and per column chunk, so engines skip
//!   row groups; dictionary encoding where it pays.
//! - Deterministic: the same batch gives the same bytes (no clock, no random ids in the
//!   footer), which keeps batch-to-s3's `If-None-Match` writes exactly-once.

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use std::str::FromStr;

/// Parquet's MIME type.
pub const CONTENT_TYPE_PARQUET: &str = "application/vnd.apache.parquet";
/// The zstd level: zstd's own default, a good ratio at a low CPU cost.
pub const ZSTD_LEVEL: i32 = 3;

/// `PARQUET_COMPRESSION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ParquetCompression {
    #[default]
    Zstd,
    Snappy,
    Gzip,
    None,
}

impl FromStr for ParquetCompression {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "zstd" => Ok(Self::Zstd),
            "snappy" => Ok(Self::Snappy),
            "gzip" => Ok(Self::Gzip),
            "none" => Ok(Self::None),
            other => Err(format!("{other:?} is not one of zstd, snappy, gzip, none")),
        }
    }
}

impl ParquetCompression {
    fn codec(self) -> Compression {
        match self {
            Self::Zstd => Compression::ZSTD(
                ZstdLevel::try_new(ZSTD_LEVEL).unwrap_or_else(|_| unreachable!("a valid level")),
            ),
            Self::Snappy => Compression::SNAPPY,
            Self::Gzip => Compression::GZIP(GzipLevel::default()),
            Self::None => Compression::UNCOMPRESSED,
        }
    }
}

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("writing Parquet: {0}")]
pub struct ParquetError(#[from] parquet::errors::ParquetError);

/// One Parquet file holding the batch.
pub fn write_parquet(
    batch: &RecordBatch,
    compression: ParquetCompression,
) -> Result<Vec<u8>, ParquetError> {
    let props = WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_1_0)
        .set_compression(compression.codec())
        .set_statistics_enabled(EnabledStatistics::Page)
        .build();
    let mut out = Vec::with_capacity(batch.get_array_memory_size() / 2);
    let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), Some(props))?;
    writer.write(batch)?;
    writer.close()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RecordEncoder, TableSchema};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    fn batch() -> RecordBatch {
        let schema =
            TableSchema::parse("ts timestamp, n bigint, tags array<string>, m map<string,int>")
                .unwrap();
        let mut e = RecordEncoder::new(&schema, Some("_extra"));
        for i in 0..100 {
            e.push(
                format!(
                    r#"{{"ts":{},"n":{i},"tags":["a{i}"],"m":{{"k":{i}}},"z":{i}}}"#,
                    1_718_000_000_000i64 + i
                )
                .as_bytes(),
            )
            .unwrap();
        }
        e.finish()
    }

    #[test]
    fn round_trips_with_statistics_and_the_same_bytes_every_time() {
        for compression in [
            ParquetCompression::Zstd,
            ParquetCompression::Snappy,
            ParquetCompression::Gzip,
            ParquetCompression::None,
        ] {
            let b = batch();
            let bytes = write_parquet(&b, compression).unwrap();
            assert_eq!(bytes, write_parquet(&batch(), compression).unwrap());
            let mut reader =
                ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes.clone()))
                    .unwrap()
                    .build()
                    .unwrap();
            let back = reader.next().unwrap().unwrap();
            assert_eq!(back, b, "{compression:?}");
            let file = SerializedFileReader::new(bytes::Bytes::from(bytes)).unwrap();
            let meta = file.metadata();
            let rg = meta.row_group(0);
            let n = rg.column(1);
            let stats = n.statistics().expect("statistics");
            assert_eq!(stats.null_count_opt(), Some(0));
            let ts_type = meta.file_metadata().schema_descr().column(0);
            assert_eq!(
                format!("{:?}", ts_type.logical_type_ref()),
                "Some(Timestamp { is_adjusted_to_u_t_c: true, unit: MICROS })"
            );
        }
    }
}
