package docker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// demuxBuf is how much multiplexed output demux reads at once: many of the
// engine's frames (4 to 32 KiB each, as the engine read them from the
// container's pipes) per read.
const demuxBuf = 256 << 10

// frameHeader is the length of a frame's header: the stream (stdin 0,
// stdout 1, stderr 2, the engine's own error 3), three zero bytes and the
// payload's length, big-endian.
const frameHeader = 8

// demux copies the payloads of the stdout and stderr frames that r carries
// (the engine's multiplexed stream of a container without a TTY) to w, in
// order, until r ends; it is stdcopy.StdCopy with both streams going to one
// writer, except that the payloads of all the frames that one read brought
// go to w in a single Write, so that a step printing fast costs a write per
// read, not per frame. It returns nil at EOF, the error of a read or a
// write, or the message of an error frame of the engine as an error.
func demux(w io.Writer, r io.Reader) error {
	buf := make([]byte, demuxBuf)
	held, left := 0, 0 // bytes in buf; payload bytes of the current frame still to come
	for {
		n, rerr := r.Read(buf[held:])
		held += n
		out, used, rest, err := frames(buf[:held], left)
		if out > 0 {
			if _, werr := w.Write(buf[:out]); werr != nil {
				return werr
			}
		}
		if err != nil {
			return err
		}
		held, left = copy(buf, buf[used:held]), rest
		switch {
		case errors.Is(rerr, io.EOF):
			return nil
		case rerr != nil:
			return rerr
		}
	}
}

// frames parses the frames in data, the payload of the current one having
// left bytes still to come, and moves the stdout and stderr payloads to the
// start of data, in place. It returns how many payload bytes it moved there,
// how many bytes of data it used (what follows is the start of a header or
// of an error frame, for the next read to complete), and the payload bytes of
// the last frame still to come.
func frames(data []byte, left int) (out, used, rest int, err error) {
	for used < len(data) {
		if left > 0 {
			m := min(left, len(data)-used)
			out += copy(data[out:], data[used:used+m])
			used, left = used+m, left-m
			continue
		}
		if len(data)-used < frameHeader {
			break
		}
		kind, size := data[used], int(binary.BigEndian.Uint32(data[used+4:]))
		switch {
		case kind <= 2: // stdin (never sent here) goes with stdout, as for StdCopy
			used, left = used+frameHeader, size
			continue
		case kind != 3:
			return out, used, 0, fmt.Errorf("output stream: unknown stream %d", kind)
		case size > demuxBuf-frameHeader:
			return out, used, 0, fmt.Errorf("output stream: engine error of %d bytes", size)
		case len(data)-used-frameHeader < size:
			return out, used, 0, nil // the rest of the error frame comes next
		}
		msg := data[used+frameHeader : used+frameHeader+size]
		return out, used, 0, fmt.Errorf("output stream: engine error: %s", msg)
	}
	return out, used, left, nil
}
