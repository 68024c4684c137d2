//! Lists the browser client for `http/assets.rs`: every file under `web/` becomes an entry
//! (path, content type, `include_bytes!`) in `$OUT_DIR/assets.rs`, so a module added to the
//! client is served without being typed into a list. `web/index.html` is served at `/`.
//!
//! Left out: the client's Node tests (`web/test/`, `*.test.js`), `web/package.json` (it only
//! tells Node the files are ES modules) and hidden files. A file of an extension without a
//! content type here stops the build rather than being served as the wrong type.

use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn Error>> {
    let web = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../web")
        .canonicalize()?;
    println!("cargo:rerun-if-changed={}", web.display());

    let mut files = Vec::new();
    collect(&web, &mut files)?;
    files.sort();

    let mut list = String::from("&[\n");
    for file in &files {
        let relative = file.strip_prefix(&web)?;
        let relative = relative
            .to_str()
            .ok_or_else(|| format!("{} is not UTF-8", relative.display()))?
            .replace('\\', "/");
        if is_left_out(&relative) {
            continue;
        }
        let path = if relative == "index.html" {
            "/".to_owned()
        } else {
            format!("/{relative}")
        };
        let content_type = content_type(&relative).ok_or_else(|| {
            format!(
                "web/{relative}: no content type for this extension (add one in server/build.rs)"
            )
        })?;
        let source = file
            .to_str()
            .ok_or_else(|| format!("{} is not UTF-8", file.display()))?;
        writeln!(
            list,
            "    ({path:?}, {content_type:?}, include_bytes!({source:?})),"
        )?;
    }
    list.push(']');

    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("assets.rs");
    std::fs::write(out, list)?;
    Ok(())
}

/// Every file under `dir`, hidden ones (`.name`) left out.
fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), Box<dyn Error>> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

/// What is in `web/` for Node, not for the browser.
fn is_left_out(relative: &str) -> bool {
    relative.starts_with("test/") || relative.ends_with(".test.js") || relative == "package.json"
}

/// The content type a file is served with, by its extension.
fn content_type(relative: &str) -> Option<&'static str> {
    let extension = relative.rsplit_once('.')?.1;
    Some(match extension {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        _ => return None,
    })
}
