//! What a dump writes and prints, whoever starts it (the API, a signal, the near-heap-limit
//! hook, a threshold) and whichever engine takes it: the file name, the sidecar's fields, the
//! one-line report, the near-heap-limit policy. Pure Rust; the binding layer supplies the heap
//! figures.

use std::path::PathBuf;
use std::time::SystemTime;

use serde_json::{Map, Value};

use super::error::SnapError;
use super::naming;
use super::progress::human_bytes;
use super::sink::{Compression, Outcome};

/// Where and how a dump writes its snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct DumpPlan {
    /// heapdump's naming: `heapdump-<ms>.<ns>.heapsnapshot` relative to the working directory,
    /// plain JSON, no sidecar. Otherwise the sortable name in `dir`.
    pub heapdump_names: bool,
    pub dir: PathBuf,
    pub compression: Compression,
    pub sidecar: bool,
    pub quiet: bool,
    pub progress: bool,
    /// Check that the dump fits in the memory left before V8 allocates it.
    pub memory_check: bool,
}

impl DumpPlan {
    /// The file the next dump goes to.
    pub fn next_path(&self) -> PathBuf {
        if self.heapdump_names {
            PathBuf::from(naming::heapdump_name(naming::unique_hrtime()))
        } else {
            self.dir.join(naming::generated_name(
                self.compression != Compression::None,
            ))
        }
    }
}

/// What the process said about itself when it registered (versions, thread), as the JSON
/// object `{ version, node, v8, hostname, platform, arch, threadId, isMainThread }`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessInfo {
    /// This module's version.
    pub version: String,
    pub node: String,
    pub v8: String,
    pub hostname: String,
    pub platform: String,
    pub arch: String,
    pub thread_id: u32,
    pub is_main_thread: bool,
}

/// The sidecar's start fields, for every dump (`memoryUsage` and `heapStatistics` are what the
/// caller could read: `process.memoryUsage()` and `v8.getHeapStatistics()` from JavaScript,
/// V8's own figures without it).
pub fn sidecar_start(
    info: &ProcessInfo,
    engine: &str,
    trigger: &str,
    started: SystemTime,
    memory_usage: Value,
    heap_statistics: Value,
    extra: Map<String, Value>,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("heapsnapNative".into(), info.version.clone().into());
    m.insert("engine".into(), engine.into());
    m.insert("trigger".into(), trigger.into());
    m.insert("node".into(), info.node.clone().into());
    m.insert("v8".into(), info.v8.clone().into());
    m.insert("pid".into(), std::process::id().into());
    m.insert("hostname".into(), info.hostname.clone().into());
    m.insert("platform".into(), info.platform.clone().into());
    m.insert("arch".into(), info.arch.clone().into());
    m.insert("threadId".into(), info.thread_id.into());
    m.insert("isMainThread".into(), info.is_main_thread.into());
    m.insert("startTime".into(), naming::iso8601(started).into());
    m.insert("memoryUsage".into(), memory_usage);
    m.insert("heapStatistics".into(), heap_statistics);
    m.extend(extra);
    m
}

/// The line a trigger prints when its dump is durable or has failed.
pub fn report_line(result: &Result<Outcome, SnapError>) -> String {
    match result {
        Ok(o) => format!(
            "heapsnap: wrote {} ({}, stalled {:.0} ms)",
            o.path.display(),
            human_bytes(o.bytes),
            o.stall_ms
        ),
        // Already a whole sentence: `heapsnap: not enough memory for a heap snapshot: …`.
        Err(e) if e.headroom.is_some() => e.message.clone(),
        Err(e) => format!("heapsnap: snapshot failed: {}", e.message),
    }
}

/// Extra heap room granted past the current limit while a near-heap-limit dump runs. Node core
/// grants the maximum young-generation size (48 MiB on Node 16–22, 192 MiB on 24+); the
/// snapshot's own garbage collections must fit in it, so take the larger.
pub const NEAR_LIMIT_HEADROOM: usize = 192 << 20;

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn heapdump_plan_names_relative_files() {
        let plan = DumpPlan {
            heapdump_names: true,
            dir: PathBuf::from("/ignored"),
            compression: Compression::None,
            sidecar: false,
            quiet: false,
            progress: false,
            memory_check: true,
        };
        let p = plan.next_path();
        assert!(p.is_relative());
        assert!(p.to_str().unwrap().starts_with("heapdump-"));
    }

    #[test]
    fn modern_plan_names_files_in_dir() {
        let plan = DumpPlan {
            heapdump_names: false,
            dir: PathBuf::from("/var/tmp"),
            compression: Compression::Gzip(1),
            sidecar: true,
            quiet: false,
            progress: false,
            memory_check: true,
        };
        let p = plan.next_path();
        assert_eq!(p.parent(), Some(Path::new("/var/tmp")));
        assert!(p.to_str().unwrap().ends_with(".heapsnapshot.gz"));
    }

    #[test]
    #[cfg(unix)]
    fn report_lines() {
        let e = SnapError::os(libc::ENOSPC, "write", "/x");
        assert_eq!(
            report_line(&Err(e)),
            "heapsnap: snapshot failed: ENOSPC: no space left on device, write '/x'"
        );
    }
}
