//! `vitscope`: with no subcommand the workbench GUI, else one command of the CLI (`cli/`). This
//! file only sets up the process (allocator, Vulkan layers) and reports the error of a command.

/// mimalloc keeps freed blocks for reuse: the model allocates and frees megabyte tensors at a
/// high rate, and the system allocator returned them to the kernel each time (about 20 000 page
/// faults per ViT-B forward, 8–10 % of its time).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its index in mimalloc v3's `mi_option_t`).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tells mimalloc never to hand freed memory back to the kernel. By default it does so 10 ms
/// after a free; the explanation maps allocate and free megabyte tensors all the time, so every
/// round trip came back as fresh pages the kernel had to zero: ~20 000 page faults per Chefer map
/// of a ViT-B, 15–20 % of its time. The process keeps its peak memory instead.
fn keep_freed_memory() {
    // SAFETY: an FFI call with plain integers that sets one mimalloc option. mimalloc documents
    // `mi_option_set` as not thread-safe; this runs first thing in `main`, before any other
    // thread exists.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
    }
}

mod cli;

/// Mesa's Vulkan device-select layer, loaded while wgpu looks for adapters, asks libwayland for a
/// display; without a usable `XDG_RUNTIME_DIR` libwayland prints `error: XDG_RUNTIME_DIR is
/// invalid or not set` on every run, although nothing failed. The layer only orders adapters
/// (wgpu chooses its own), so it is switched off (`NODEVICE_SELECT`) in that case.
fn quiet_vulkan_layers() {
    let runtime_dir_ok =
        std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| std::path::Path::new(&d).is_dir());
    if !runtime_dir_ok && std::env::var_os("NODEVICE_SELECT").is_none() {
        // SAFETY: called first thing in `main`, before any other thread exists, so nothing reads
        // the environment concurrently.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var("NODEVICE_SELECT", "1");
        }
    }
}

fn main() {
    keep_freed_memory();
    quiet_vulkan_layers();
    if let Err(e) = cli::run() {
        eprintln!("error: {}", vitscope::error::one_line(e.as_ref()));
        std::process::exit(1);
    }
}
