//! How the window's memory allocator keeps what it frees.
//!
//! With many hosts the window replaces tables of 100,000 rows every second on several threads
//! (the hosts' readers, the collectors, the view and tracker threads). glibc's allocator, left
//! as it is, gives such large blocks back to the system when they are freed and asks for them
//! again a second later, through a heap per thread: each time the kernel maps fresh pages,
//! clears them and takes a fault for each (about 18,000 a second with ten hosts), and unmapping
//! them interrupts every core. Kept instead, the blocks are reused.

/// Blocks up to this size come from the heap, where a freed one is reused.
const FROM_THE_HEAP: i32 = 32 << 20;

/// Free memory at the heap's end is given back to the system only past this much.
const KEPT: i32 = 256 << 20;

/// Have the allocator keep and reuse large blocks (one heap for every thread, blocks up to
/// 32 MiB from it, up to 256 MiB of free memory kept). Called once, before the window starts
/// its threads. Returns whether the allocator took the settings: glibc's does; elsewhere
/// nothing changes and the allocator is left as it is.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` changes the allocator's parameters; these three are documented
        // for any value in range, and no allocation is in progress on this thread meanwhile.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1) == 1
                && libc::mallopt(libc::M_MMAP_THRESHOLD, FROM_THE_HEAP) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, KEPT) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    #[test]
    fn the_allocator_takes_the_settings() {
        assert!(super::keep_freed_memory());
    }
}
