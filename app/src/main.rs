//! The client's entry point: mounts the app on `<body>`.

fn main() {
    leptos::mount::mount_to_body(kaisen_app::App);
}
