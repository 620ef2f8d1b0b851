//go:build !linux

package netguard

// Guard is unavailable off Linux: Open always fails with ErrUnsupported.
type Guard struct{}

// Open returns ErrUnsupported.
func Open(table string) (*Guard, error) { return nil, ErrUnsupported }

// Protect is never reached: there is no Guard off Linux.
func (g *Guard) Protect(r Rule) error { return ErrUnsupported }

// Release is never reached: there is no Guard off Linux.
func (g *Guard) Release(r Rule) error { return ErrUnsupported }

// Close is never reached: there is no Guard off Linux.
func (g *Guard) Close() error { return nil }
