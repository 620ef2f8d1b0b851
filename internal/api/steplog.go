package api

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/logstore"
)

// maxStepName bounds the step parameter; pipeline step names are shorter.
const maxStepName = 128

// MaxRawLog caps a raw download below Lambda's 6 MB response limit; a longer
// log ends with a line that says how to read the rest.
const MaxRawLog = 5 << 20

// readStepLog reads one chunk like readLog, keeping only req.step's lines
// (all lines when req.step is empty), with their times when req.times. The
// offset stays that of the whole log, so a client follows a step exactly as
// it follows the job.
func readStepLog(ctx context.Context, logs LogReader, j ci.Job, req logRequest) (LogChunk, error) {
	chunk, err := readLog(ctx, logs, j, req)
	if err != nil || (req.step == "" && !req.times) {
		return chunk, err
	}
	data := []byte(chunk.Data)
	if req.step != "" {
		data = wholeLines(data, chunk.Complete, req.limit)
		chunk.Offset = req.offset + int64(len(data))
	}
	var times []int64
	if req.times {
		times = logstore.LineTimes(chunk.chunks, req.offset, data)
	}
	if req.step != "" {
		data, times = stepLines(data, req.step, true, times)
	}
	chunk.Data, chunk.Times = string(data), times
	return chunk, nil
}

// wholeLines is data up to its last newline, unless the log is complete:
// a line cut off by the read is left for the next one. A read that filled
// its limit without a newline is kept whole, so a tiny limit cannot stall.
func wholeLines(data []byte, complete bool, limit int) []byte {
	i := bytes.LastIndexByte(data, '\n')
	switch {
	case complete || (i < 0 && len(data) >= limit):
		return data
	case i < 0:
		return nil
	}
	return data[:i+1]
}

// stepLines returns the lines of log that belong to step, with their
// "<step> | " prefix when keepPrefix is set (docs/logs.md: the format is
// fixed, so a line's step is what comes before its first " | "), and the
// times of those lines when times holds one per line of log.
func stepLines(log []byte, step string, keepPrefix bool, times []int64) ([]byte, []int64) {
	prefix := []byte(step + " | ")
	var out []byte
	var kept []int64
	for i := 0; len(log) > 0; i++ {
		line, rest, _ := bytes.Cut(log, []byte("\n"))
		log = rest
		if !bytes.HasPrefix(line, prefix) {
			continue
		}
		if i < len(times) {
			kept = append(kept, times[i])
		}
		if !keepPrefix {
			line = line[len(prefix):]
		}
		out = append(append(out, line...), '\n')
	}
	return out, kept
}

// rawLog writes j's log, or step's lines without their prefix, as a
// text/plain attachment of at most MaxRawLog bytes.
func rawLog(logs LogReader, j ci.Job, step string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := j.ID
		if step != "" {
			name += "-" + step
		}
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name+".log"))
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		body, more, err := readWhole(r.Context(), logs, j, step)
		if err != nil {
			writeFailure(w, failure("log of job "+j.ID, err))
			return
		}
		w.WriteHeader(http.StatusOK)
		w.Write(body)
		if more {
			fmt.Fprintf(w, "[narwhal] the log goes on past %d MiB: read it with GET /jobs/%s/logs?offset=\n", MaxRawLog>>20, j.ID)
		}
	}
}

// readWhole reads the log from the start, up to MaxRawLog bytes of what it
// keeps (step's lines without their prefix, or every line); more says it
// stopped at the cap.
func readWhole(ctx context.Context, logs LogReader, j ci.Job, step string) (body []byte, more bool, err error) {
	req := logRequest{limit: MaxLogLimit}
	for {
		chunk, err := readLog(ctx, logs, j, req)
		if err != nil {
			return nil, false, err
		}
		data := []byte(chunk.Data) // a running job's last line, cut or not, is in the snapshot
		next := chunk.Offset
		if step != "" {
			data, _ = stepLines(data, step, false, nil)
		}
		if len(body)+len(data) > MaxRawLog {
			return append(body, data[:MaxRawLog-len(body)]...), true, nil
		}
		body = append(body, data...)
		if chunk.Complete || next == req.offset {
			return body, false, nil
		}
		req.offset = next
	}
}
