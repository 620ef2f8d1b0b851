//go:build unix

package pipeline

import "syscall"

// openFlags make ReadFile's open fail on a symbolic link (ELOOP) and never
// block on a FIFO swapped in after its Lstat.
const openFlags = syscall.O_NOFOLLOW | syscall.O_NONBLOCK
