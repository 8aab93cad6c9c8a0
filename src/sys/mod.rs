//! Everything that needs `unsafe` Rust, and nothing else: the V8 bridge ([`v8`]), the POSIX
//! signal handler ([`signal`]) and safe wrappers of single libc calls and CPU instructions
//! ([`os`]). The other module trees forbid `unsafe` code (see `src/lib.rs`), so every unsafe
//! operation of the crate is in here, each with a `// SAFETY:` comment that the lints below
//! require.
//!
//! Knows nothing of N-API and does not depend on [`crate::core`]: what it hands out are plain
//! Rust types and primitives.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod os;
pub mod signal;
pub mod v8;

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// Whether `code` has the keyword `unsafe` (not a longer word such as `unsafe_code`).
    fn has_keyword(code: &str) -> bool {
        let is_word = |c: char| c.is_alphanumeric() || c == '_';
        code.match_indices("unsafe").any(|(i, w)| {
            !code[..i].chars().next_back().is_some_and(is_word)
                && !code[i + w.len()..].chars().next().is_some_and(is_word)
        })
    }

    #[test]
    fn unsafe_code_is_only_in_sys() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        assert!(files.len() > 10);
        let mut found = Vec::new();
        for file in &files {
            let in_sys = file.starts_with(src.join("sys"));
            let text = std::fs::read_to_string(file).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                if (!in_sys && has_keyword(code))
                    || code.contains(concat!("allow(", "unsafe_code)"))
                {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
        assert!(
            found.is_empty(),
            "unsafe code outside src/sys:\n{}",
            found.join("\n")
        );
    }
}
