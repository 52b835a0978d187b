//! Giving freed heap back to the system.
//!
//! glibc keeps what a process frees for its next allocations and returns
//! only the top of each heap, so a daemon that once held a sync round's
//! manifests and batches (tens of thousands of small allocations, freed in
//! any order) stays at that peak while it idles. `malloc_trim` hands back
//! the free pages in the middle too. Elsewhere this does nothing: other
//! allocators return memory their own way.

/// Returns the heap's free pages to the system. It walks every arena, so
/// call it when a burst of work has ended, not inside one.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn release_freed() {
    // SAFETY: malloc_trim takes no pointers and only rearranges glibc's own
    // free lists, under the arenas' locks; any thread may call it any time.
    // Its result (whether anything went back) is no one's business here.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Returns the heap's free pages to the system; nothing to do here.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_freed() {}
