//! A small size-class allocator in place of std's dlmalloc (about 6.5 KB of the wasm): blocks
//! are powers of two, freed blocks go on a free list per size and are reused as they are, new
//! ones are bumped from the top of the heap (growing memory as needed). Never merges or splits,
//! so memory is at most twice what is live at the peak, and a steady state (the same requests
//! again and again) allocates nothing new. Single-threaded, like the module.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::UnsafeCell;

struct State {
    free: [usize; usize::BITS as usize],
    next: usize,
}

pub struct Classes(UnsafeCell<State>);
unsafe impl Sync for Classes {}

extern "C" {
    static __heap_base: u8;
}

const PAGE: usize = 65_536;

#[global_allocator]
static ALLOC: Classes = Classes(UnsafeCell::new(State { free: [0; usize::BITS as usize], next: 0 }));

/// The size class (log2 of the block size) of a layout.
fn class(layout: &Layout) -> usize {
    let size = layout.size().max(layout.align()).max(8);
    (usize::BITS - (size - 1).leading_zeros()) as usize
}

unsafe impl GlobalAlloc for Classes {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let s = &mut *self.0.get();
        let k = class(&layout);
        // Blocks are 8-aligned; a stricter alignment is bumped fresh and never recycled.
        if layout.align() <= 8 && s.free[k] != 0 {
            let block = s.free[k];
            s.free[k] = *(block as *const usize);
            return block as *mut u8;
        }
        if s.next == 0 {
            s.next = core::ptr::addr_of!(__heap_base) as usize;
        }
        let start = (s.next + layout.align().max(8) - 1) & !(layout.align().max(8) - 1);
        let Some(top) = start.checked_add(1 << k) else { return core::ptr::null_mut() };
        // The end of memory read where it is needed (one instruction), not kept.
        let end = wasm32::memory_size(0) * PAGE;
        if top > end && wasm32::memory_grow(0, (top - end).div_ceil(PAGE)) == usize::MAX {
            return core::ptr::null_mut();
        }
        s.next = top;
        start as *mut u8
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `realloc`'s contract: `new_size` rounded up to the alignment fits an `isize`.
        let new = Layout::from_size_align_unchecked(new_size, layout.align());
        if class(&new) == class(&layout) {
            return ptr;
        }
        let fresh = self.alloc(new);
        if !fresh.is_null() {
            core::ptr::copy_nonoverlapping(ptr, fresh, layout.size().min(new_size));
            self.dealloc(ptr, layout);
        }
        fresh
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.align() > 8 {
            return;
        }
        let s = &mut *self.0.get();
        let k = class(&layout);
        *(ptr as *mut usize) = s.free[k];
        s.free[k] = ptr as usize;
    }
}
