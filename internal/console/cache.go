package console

import (
	"fmt"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Bytes is a size for people, in decimal units as disks are sold: "812 B",
// "3.4 kB", "812 MB", "1.2 GB".
func Bytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, prefix := float64(n), 0
	for f >= unit && prefix < len("kMGTPE") {
		f /= unit
		prefix++
	}
	if f >= 100 {
		return fmt.Sprintf("%.0f %cB", f, "kMGTPE"[prefix-1])
	}
	return fmt.Sprintf("%.1f %cB", f, "kMGTPE"[prefix-1])
}

// CacheLine says what a step did with its cache: "cache hit KEY (812 MB)",
// "cache miss KEY, restored OTHER (40 MB), saved 812 MB", "cache miss KEY",
// with the reason a restore or save did not happen after a semicolon.
func CacheLine(u ci.CacheUse) string {
	line := "cache miss " + u.Key
	switch {
	case u.Hit:
		line = fmt.Sprintf("cache hit %s (%s)", u.Key, Bytes(u.RestoredBytes))
	case u.Restored != "":
		line += fmt.Sprintf(", restored %s (%s)", u.Restored, Bytes(u.RestoredBytes))
	}
	if u.Saved {
		line += ", saved " + Bytes(u.SavedBytes)
	}
	if u.Error != "" {
		line += "; " + u.Error
	}
	return line
}
