//! The page's files, built into the binary: the page itself (`fugue-server/web/`) and
//! xterm.js, which `build.rs` fetches with npm from the pinned lockfile. A build without
//! the `viewer` feature serves a page saying so (the WebSocket still works).

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One file: its name under `/`, its content type, its bytes.
type Asset = (&'static str, &'static str, &'static [u8]);

#[cfg(feature = "viewer")]
macro_rules! npm {
    ($path:literal) => {
        include_bytes!(concat!(env!("OUT_DIR"), "/npm/node_modules/", $path))
    };
}

#[cfg(feature = "viewer")]
const FILES: &[Asset] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../../web/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/app.css"),
    ),
    (
        "xterm.js",
        "text/javascript; charset=utf-8",
        npm!("@xterm/xterm/lib/xterm.js"),
    ),
    (
        "xterm.css",
        "text/css; charset=utf-8",
        npm!("@xterm/xterm/css/xterm.css"),
    ),
    (
        "addon-fit.js",
        "text/javascript; charset=utf-8",
        npm!("@xterm/addon-fit/lib/addon-fit.js"),
    ),
    (
        "xterm-LICENSE.txt",
        "text/plain; charset=utf-8",
        npm!("@xterm/xterm/LICENSE"),
    ),
];

#[cfg(not(feature = "viewer"))]
const FILES: &[Asset] = &[(
    "index.html",
    "text/html; charset=utf-8",
    b"<!doctype html><title>fugue</title><p>This fugue-server was built without the \
      browser viewer's page (cargo feature <code>viewer</code>).</p>\n",
)];

/// `/`: the page.
pub(super) async fn index() -> Response {
    serve("index.html")
}

/// `/NAME`: one of the page's files.
pub(super) async fn file(Path(name): Path<String>) -> Response {
    serve(&name)
}

fn serve(name: &str) -> Response {
    match FILES.iter().find(|(file, _, _)| *file == name) {
        Some((_, kind, bytes)) => ([(header::CONTENT_TYPE, *kind)], *bytes).into_response(),
        None => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}
