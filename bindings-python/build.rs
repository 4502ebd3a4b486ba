fn main() {
    // Lets `cargo test` binaries find libpython at run time; wheels built by
    // maturin get no rpath.
    pyo3_build_config::add_libpython_rpath_link_args();
}
