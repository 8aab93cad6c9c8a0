//! `inflate`: a gzip snapshot back to a plain `.heapsnapshot` that DevTools can load, written
//! through the same atomic writer as snapshots (temporary file, fsync, rename), so a failed or
//! interrupted run never leaves a partial file under the output name.

use std::path::{Path, PathBuf};

use super::bar::Bar;
use super::source::{Source, ERR_BAD_SNAPSHOT};
use crate::core::error::SnapError;
use crate::core::sink::{Compression, Sink, SinkSpec};

pub struct Inflated {
    pub output: PathBuf,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// The default output name: the input without its `.gz`.
pub fn default_output(input: &Path) -> Option<PathBuf> {
    let name = input.file_name()?.to_str()?;
    let stem = name.strip_suffix(".gz")?;
    (!stem.is_empty()).then(|| input.with_file_name(stem))
}

pub fn inflate(
    input: &Path,
    output: Option<&Path>,
    force: bool,
    bar: &Bar,
) -> Result<Inflated, SnapError> {
    let output = match output {
        Some(o) => o.to_path_buf(),
        None => default_output(input).ok_or_else(|| {
            SnapError::other(
                "ERR_HEAPSNAP_OUTPUT_REQUIRED",
                "open",
                input,
                format!(
                    "{}: the name does not end in .gz; give an output file",
                    input.display()
                ),
            )
        })?,
    };
    let source = Source::open(input)?;
    if !source.gzip {
        return Err(SnapError::other(
            "ERR_HEAPSNAP_NOT_GZIP",
            "read",
            input,
            format!(
                "{}: not gzip data (it is already a plain file)",
                input.display()
            ),
        ));
    }
    if !force && output.exists() {
        return Err(SnapError::os(
            libc::EEXIST,
            "open",
            &output.display().to_string(),
        ));
    }
    bar.phase(format!("inflating {}", input.display()));
    bar.set_source(source.read.clone(), source.file_size);
    let mut sink = Sink::open(SinkSpec {
        path: output.clone(),
        compression: Compression::None,
        sidecar: None,
        progress: None,
        began: None,
    })?;
    let mut chunk = Vec::new();
    let mut first = true;
    loop {
        chunk = match source.next_chunk(chunk) {
            Ok(c) => c,
            Err(e) => {
                sink.abort();
                return Err(e);
            }
        };
        if chunk.is_empty() {
            break;
        }
        if first {
            first = false;
            let start = chunk.iter().find(|b| !b.is_ascii_whitespace());
            if start != Some(&b'{') {
                sink.abort();
                return Err(SnapError::other(
                    ERR_BAD_SNAPSHOT,
                    "read",
                    input,
                    format!(
                        "{}: the gzip data is not a heap snapshot (no JSON object)",
                        input.display()
                    ),
                ));
            }
        }
        if !sink.write(&chunk) {
            break;
        }
    }
    bar.clear_source();
    let outcome = sink.finish(0.0, None).wait()?;
    Ok(Inflated {
        output: outcome.path,
        bytes_in: source.file_size,
        bytes_out: outcome.raw_bytes,
    })
}
