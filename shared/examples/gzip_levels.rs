//! Each libdeflate level's gzip size against zlib level 6 on each input of the gzip corpus
//! (what `DEFAULT_GZIP_LEVEL` was chosen from; docs/design/performance.md):
//! `cargo run -p trickle-shared --example gzip_levels`. Sizes are deterministic; for speed see
//! `cargo run --release -p batch-to-s3 --example bench -- --deflate`.

use std::io::Write;
use trickle_shared::gzip::{corpus, gzip, GZIP_LEVELS};

fn main() -> std::io::Result<()> {
    for (name, data) in corpus::all(1 << 20) {
        let mut zlib = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        zlib.write_all(&data)?;
        let reference = zlib.finish()?.len() as f64;
        let mut row = Vec::new();
        for level in GZIP_LEVELS {
            row.push(format!(
                "{level}: {:.3}",
                gzip(&data, level)?.len() as f64 / reference
            ));
        }
        println!("{name}: {}", row.join(", "));
    }
    Ok(())
}
