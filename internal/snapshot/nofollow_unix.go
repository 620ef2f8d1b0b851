package snapshot

import "syscall"

// o_NOFOLLOW keeps a file swapped for a link after the walk listed it from
// being followed.
const o_NOFOLLOW = syscall.O_NOFOLLOW
