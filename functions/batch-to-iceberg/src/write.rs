//! Rows to Parquet data files of the table: split by the table's default partition spec
//! (hidden partitioning: the transforms are computed from the rows), one file per
//! partition, written with iceberg-rust's Parquet writer (field ids, column metrics).
//!
//! Files go under the table's data location with names that say where they came from
//! (`trickle-<shard>-<first sequence>-<uuid>`): until a commit references them they are
//! invisible to every reader, and an orphan-file cleanup finds them there.

use arrow_array::RecordBatch;
use iceberg::arrow::RecordBatchPartitionSplitter;
use iceberg::spec::{DataFile, DataFileFormat, PartitionKey};
use iceberg::table::Table;
use iceberg::writer::base_writer::data_file_writer::DataFileWriterBuilder;
use iceberg::writer::file_writer::location_generator::{
    DefaultFileNameGenerator, DefaultLocationGenerator,
};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::{IcebergWriter, IcebergWriterBuilder};
use iceberg::Result;

/// Writes `batch` (already in the table's Arrow schema) as data files.
pub async fn data_files(
    table: &Table,
    batch: &RecordBatch,
    name_prefix: &str,
) -> Result<Vec<DataFile>> {
    let metadata = table.metadata();
    let schema = metadata.current_schema().clone();
    let spec = metadata.default_partition_spec().clone();
    let parts: Vec<(Option<PartitionKey>, RecordBatch)> = if spec.is_unpartitioned() {
        vec![(None, batch.clone())]
    } else {
        RecordBatchPartitionSplitter::try_new_with_computed_values(schema.clone(), spec)?
            .split(batch)?
            .into_iter()
            .map(|(key, part)| (Some(key), part))
            .collect()
    };
    let parquet =
        ParquetWriterBuilder::from_table_properties(&metadata.table_properties()?, schema);
    let rolling = RollingFileWriterBuilder::new_with_default_file_size(
        parquet,
        table.file_io().clone(),
        DefaultLocationGenerator::new(metadata)?,
        DefaultFileNameGenerator::new(name_prefix.to_owned(), None, DataFileFormat::Parquet),
    );
    let builder = DataFileWriterBuilder::new(rolling);
    let mut files = Vec::new();
    for (key, part) in parts {
        let mut writer = builder.build(key).await?;
        writer.write(part).await?;
        files.extend(writer.close().await?);
    }
    Ok(files)
}
