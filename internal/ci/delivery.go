package ci

import (
	"fmt"
	"slices"
)

// Limits of the delivery IDs a job keeps, so that replays cannot grow its
// record without bound.
const (
	// MaxDeliveryID is the longest delivery ID accepted. GitHub's are GUIDs
	// (36 characters).
	MaxDeliveryID = 64
	// MaxDeliveries is how many delivery IDs a job keeps: the first and the
	// latest MaxDeliveries-1.
	MaxDeliveries = 10
)

// CheckDeliveryID accepts a delivery ID of 1 to MaxDeliveryID characters,
// each an ASCII letter, digit or '-' (GitHub's GUIDs are). Anything else gives
// an error matching ErrBadDelivery.
func CheckDeliveryID(id string) error {
	if id == "" || len(id) > MaxDeliveryID {
		return fmt.Errorf("%w: want 1 to %d characters, got %d", ErrBadDelivery, MaxDeliveryID, len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("%w: character %d is %q; want letters, digits and '-'", ErrBadDelivery, i+1, c)
		}
	}
	return nil
}

// AddDelivery records delivery ID id on j and reports whether j changed (an
// ID it holds already changes nothing). It keeps the first ID and the latest
// MaxDeliveries-1; the ones it drops from between are counted in
// DeliveriesDropped. An ID dropped earlier counts again when it comes back.
func (j *Job) AddDelivery(id string) bool {
	if slices.Contains(j.Deliveries, id) {
		return false
	}
	j.Deliveries = append(j.Deliveries, id)
	if over := len(j.Deliveries) - MaxDeliveries; over > 0 {
		j.Deliveries = slices.Delete(j.Deliveries, 1, 1+over)
		j.DeliveriesDropped += over
	}
	return true
}
