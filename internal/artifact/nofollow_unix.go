package artifact

import "syscall"

// o_NOFOLLOW keeps a file swapped for a link after Collect listed it from
// being followed.
const o_NOFOLLOW = syscall.O_NOFOLLOW
