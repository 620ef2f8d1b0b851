package docker

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/docker/docker/pkg/stdcopy"
)

// chunkReader returns its data in reads of random sizes, as a socket does.
type chunkReader struct {
	data []byte
	rng  *rand.Rand
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.data[:min(len(c.data), 1+c.rng.IntN(20000))])
	c.data = c.data[n:]
	return n, nil
}

// countingWriter records what it is given and how many writes gave it.
type countingWriter struct {
	bytes.Buffer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes++
	return c.Buffer.Write(p)
}

// muxed is the engine's stream of frames of up to 32 KiB from stdout and
// stderr in turn (the engine's own stdcopy writer), and the payloads in order.
func muxed(rng *rand.Rand, frames int) (stream, want []byte) {
	var buf, payloads bytes.Buffer
	out, errw := stdcopy.NewStdWriter(&buf, stdcopy.Stdout), stdcopy.NewStdWriter(&buf, stdcopy.Stderr)
	for i := range frames {
		p := bytes.Repeat([]byte{byte('a' + i%26)}, 1+rng.IntN(32<<10))
		p[len(p)-1] = '\n'
		if i%3 == 0 {
			errw.Write(p)
		} else {
			out.Write(p)
		}
		payloads.Write(p)
	}
	return buf.Bytes(), payloads.Bytes()
}

func TestDemuxMatchesStdCopy(t *testing.T) {
	t.Parallel()
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 5))
		stream, want := muxed(rng, 1+rng.IntN(300))
		var got countingWriter
		if err := demux(&got, &chunkReader{data: stream, rng: rng}); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		var std bytes.Buffer
		if _, err := stdcopy.StdCopy(&std, &std, bytes.NewReader(stream)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) || !bytes.Equal(std.Bytes(), want) {
			t.Fatalf("seed %d: demux gave %d bytes, StdCopy %d, want %d", seed, got.Len(), std.Len(), len(want))
		}
		if reads := len(stream)/demuxBuf + 1; got.writes > 2*len(stream)/10000+reads {
			t.Errorf("seed %d: %d writes for %d bytes in reads of 10 KB on average", seed, got.writes, len(stream))
		}
	}
}

func TestDemuxOneWritePerRead(t *testing.T) {
	t.Parallel()
	stream, want := muxed(rand.New(rand.NewPCG(1, 1)), 40) // about 650 KB: three reads
	var got countingWriter
	if err := demux(&got, bytes.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) || got.writes != (len(stream)+demuxBuf-1)/demuxBuf {
		t.Fatalf("%d bytes in %d writes, want %d in %d", got.Len(), got.writes, len(want), (len(stream)+demuxBuf-1)/demuxBuf)
	}
}

func TestDemuxEngineError(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	stdcopy.NewStdWriter(&buf, stdcopy.Stdout).Write([]byte("before\n"))
	stdcopy.NewStdWriter(&buf, stdcopy.Systemerr).Write([]byte("container vanished"))
	stdcopy.NewStdWriter(&buf, stdcopy.Stdout).Write([]byte("after\n"))
	var got countingWriter
	err := demux(&got, &chunkReader{data: buf.Bytes(), rng: rand.New(rand.NewPCG(2, 2))})
	if err == nil || !strings.Contains(err.Error(), "container vanished") || got.String() != "before\n" {
		t.Fatalf("err %v, output %q", err, got.String())
	}
	bad := append([]byte{7, 0, 0, 0, 0, 0, 0, 1}, 'x')
	if err := demux(io.Discard, bytes.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "unknown stream 7") {
		t.Fatalf("unknown stream: %v", err)
	}
}

func TestDemuxReturnsWriteAndReadErrors(t *testing.T) {
	t.Parallel()
	stream, _ := muxed(rand.New(rand.NewPCG(3, 3)), 5)
	broken := errors.New("broken")
	if err := demux(failingWriter{broken}, bytes.NewReader(stream)); !errors.Is(err, broken) {
		t.Fatalf("write error: %v", err)
	}
	if err := demux(io.Discard, io.MultiReader(bytes.NewReader(stream[:100]), failingReader{broken})); !errors.Is(err, broken) {
		t.Fatalf("read error: %v", err)
	}
}

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }
