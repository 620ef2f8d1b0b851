package logsink

import (
	"bytes"
	"strings"
	"testing"
)

// BenchmarkLogThroughput pushes 200 MB of 100-byte lines, one in 100 holding
// the secret, through one step's Writer with the default cap, in 32000-byte
// writes. Most of it goes through the tail buffer.
func BenchmarkLogThroughput(b *testing.B) {
	const total = 200_000_000
	var chunk []byte
	for i := range 320 {
		line := strings.Repeat("x", 99)
		if i%100 == 0 {
			line = "token=s3cr3t-v4lue " + line[19:]
		}
		chunk = append(chunk, line+"\n"...)
	}
	var lines int
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		s := New(0, []string{"s3cr3t-v4lue"}, func(string, []byte) { lines++ })
		w := s.Writer("build")
		for range total / len(chunk) {
			w.Write(chunk)
		}
		w.Close()
	}
	if lines == 0 || !bytes.HasSuffix(chunk, []byte("x\n")) {
		b.Fatal("nothing delivered")
	}
}

// BenchmarkLogThroughputDenseSecrets is BenchmarkLogThroughput with two
// secrets in every line (the bench.sh step's line, masked five times), in
// 3840-byte writes: the cost of masking when it is not the exception.
func BenchmarkLogThroughputDenseSecrets(b *testing.B) {
	const total = 200_000_000
	line := "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijk\n"
	chunk := []byte(strings.Repeat(line, 40))
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		s := New(0, []string{"xyz0123", "ghijk"}, func(string, []byte) {})
		w := s.Writer("build")
		for range total / len(chunk) {
			w.Write(chunk)
		}
		w.Close()
	}
}
