//! How the window's memory allocator treats the large blocks it frees.
//!
//! A window replaces its socket table every second, and with it blocks the size of the table
//! (the sockets, their sort keys, the view's rows). glibc's allocator can treat them two ways,
//! and the window picks one when it starts:
//!
//! - **Give them back** ([`Policy::GiveBack`], a window on this machine alone): blocks past
//!   256 KiB get mappings of their own that go back to the system when freed. Left to itself,
//!   glibc raises that threshold each time a large block is freed, so after a few polls every
//!   table would be carved from the heap and stay resident once dropped: a spare copy of a
//!   large table kept for nothing. This keeps the window's memory at what it holds.
//! - **Keep them** ([`Policy::Keep`], a window with hosts): ten hosts' tables come on as many
//!   threads every second, and mapping fresh pages for each of them, clearing them and taking
//!   a fault for each page (about 20,000 a second with ten hosts of 10,000 sockets), then
//!   unmapping them and interrupting every core, cost more CPU than the window's own work.
//!   Blocks up to 32 MiB come from the heaps and up to 256 MiB of free memory is kept: the
//!   blocks are reused, for about half again as much memory. The threads keep glibc's heaps of
//!   their own: with one heap for all, the window's thread waited for its lock behind the
//!   threads that copy tables, and the frames with it.

/// What the allocator does with the large blocks the window frees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Large blocks in mappings of their own, given back when freed.
    GiveBack,
    /// Large blocks from the heaps, kept and reused.
    Keep,
}

impl Policy {
    /// The policy for a window that starts with hosts besides this machine (given on the
    /// command line or remembered), or without.
    pub fn for_window(with_hosts: bool) -> Policy {
        if with_hosts {
            Policy::Keep
        } else {
            Policy::GiveBack
        }
    }
}

/// Blocks past this size get mappings of their own when they are given back.
const OWN_MAPPING: i32 = 256 << 10;

/// Blocks up to this size come from the heap when they are kept.
const FROM_THE_HEAP: i32 = 32 << 20;

/// Free memory at the heap's end is given back to the system only past this much.
const KEPT: i32 = 256 << 20;

/// Set the allocator to `policy`. Called once, before the window starts its threads (glibc's
/// settings are not to be changed while other threads allocate). Returns whether the
/// allocator took the settings: glibc's does; elsewhere nothing changes.
pub fn apply(policy: Policy) -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` changes the allocator's parameters; these are documented for any
        // value in range, and the caller starts no thread before this returns.
        unsafe {
            match policy {
                Policy::GiveBack => libc::mallopt(libc::M_MMAP_THRESHOLD, OWN_MAPPING) == 1,
                Policy::Keep => {
                    libc::mallopt(libc::M_MMAP_THRESHOLD, FROM_THE_HEAP) == 1
                        && libc::mallopt(libc::M_TRIM_THRESHOLD, KEPT) == 1
                }
            }
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = policy;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_with_hosts_keeps_its_blocks_and_one_without_gives_them_back() {
        assert_eq!(Policy::for_window(false), Policy::GiveBack);
        assert_eq!(Policy::for_window(true), Policy::Keep);
    }
}
