//! Giving freed memory back to the operating system. glibc's malloc gives each thread that allocates
//! (tokio's workers, every SQLite connection's thread) an arena of its own and keeps what is freed in it
//! for reuse, so a sync that frees a batch of thousands of rows in one thread and allocates the next in
//! another grows its resident memory by the sum of the arenas. Trimming after each written batch keeps a
//! first 100,000-repo sync at 105–115 MB peak RSS instead of 133–148 MB, at the same speed; capping the
//! number of arenas did as well on memory but cost 10–25 % of the speed (BENCHMARKS.md, "Memory").

/// Returns the free memory of every malloc arena to the system (glibc's `malloc_trim`); a no-op
/// elsewhere.
#[allow(unsafe_code)]
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` takes no pointer, locks each arena itself and only returns memory that is
    // free; it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
