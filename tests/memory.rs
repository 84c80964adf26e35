//! The window's two ways with the large blocks it frees, checked on the allocator itself (in a
//! process of its own: the settings are the process's).
#![cfg(all(target_os = "linux", target_env = "gnu"))]

use portscope::ui::memory::{Policy, apply};

/// How many blocks the allocator holds in mappings of their own.
fn mapped_blocks() -> usize {
    // SAFETY: mallinfo2 only reads the allocator's counters.
    unsafe { libc::mallinfo2() }.hblks
}

/// Whether a block of `size` bytes, held and then freed, had a mapping of its own.
fn mapped(size: usize) -> bool {
    let before = mapped_blocks();
    let block = std::hint::black_box(vec![7u8; size]);
    let during = mapped_blocks();
    drop(block);
    during > before
}

#[test]
fn a_table_sized_block_gets_its_own_mapping_when_given_back_and_comes_from_the_heap_when_kept() {
    const TABLE: usize = 1 << 20; // about a host's 10,000 sockets

    assert!(apply(Policy::GiveBack));
    // Twice: left to itself, glibc would take the second from the heap (it raises its
    // threshold past a mapped block that is freed).
    assert!(
        mapped(TABLE),
        "given back: the block has a mapping of its own"
    );
    assert!(
        mapped(TABLE),
        "given back: the threshold stays where it was set"
    );

    assert!(apply(Policy::Keep));
    assert!(!mapped(TABLE), "kept: the block comes from the heap");
    assert!(!mapped(TABLE), "kept: and again, reusing what was freed");
    assert!(
        mapped(64 << 20),
        "kept: blocks past 32 MiB still have mappings of their own"
    );
}
