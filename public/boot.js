// Loads the wasm client. A file, not an inline script, so that the
// Content-Security-Policy can forbid inline scripts.
import init from "/kaisen.js";
init({ module_or_path: "/kaisen_bg.wasm" });
