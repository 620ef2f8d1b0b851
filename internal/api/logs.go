package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/narwhal-ci/narwhal/internal/logstore"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Log read sizes, in bytes. The cap keeps a JSON answer (control characters
// escape to six bytes) well inside Lambda's 6 MB response limit.
const (
	DefaultLogLimit = 256 << 10
	MaxLogLimit     = 512 << 10
)

// LogChunk is the answer of GET /jobs/{id}/logs: log text from the requested
// offset, the offset to ask for next, and whether the log is complete (ended,
// and this answer reaches its end). Data is UTF-8: invalid bytes show as
// U+FFFD, so clients continue from Offset, never from len(Data).
type LogChunk struct {
	Data     string `json:"data"`
	Offset   int64  `json:"offset"`
	Complete bool   `json:"complete"`
	// Times, with ?times=1, is for each line of Data (a cut last line
	// included) when it was logged: the Unix time in milliseconds at which
	// its chunk was stored, which the runner does at most a second after
	// the chunk's first line (to the second on S3). 0 when not known.
	Times []int64 `json:"times,omitempty"`

	chunks []logstore.Chunk // of the log read, when asked for times
}

// followConfig is how ?follow=1 waits: up to wait, re-reading every poll.
type followConfig struct {
	wait, poll time.Duration
}

// logRequest is the query of GET /jobs/{id}/logs.
type logRequest struct {
	offset int64
	limit  int
	follow bool
	step   string // only this step's lines ("" for all)
	raw    bool   // the whole log as text/plain, for download
	times  bool   // LogChunk.Times
}

// jobLogs is GET /jobs/{id}/logs?offset=&limit=&follow=&step=, and with
// raw=1 the whole log (or one step's) as a text/plain download.
func jobLogs(jobs jobGetter, logs LogReader, fc followConfig) http.Handler {
	return apiFunc(func(r *http.Request) (reply, error) {
		req, err := parseLogRequest(r.URL.RawQuery)
		if err != nil {
			return reply{}, err
		}
		id := r.PathValue("id")
		j, err := jobs.GetJob(r.Context(), id)
		if err != nil {
			return reply{}, failure("job "+id, err)
		}
		if req.raw {
			return reply{raw: rawLog(logs, j, req.step)}, nil
		}
		read := func(ctx context.Context) (LogChunk, error) { return readStepLog(ctx, logs, j, req) }
		var chunk LogChunk
		if req.follow {
			chunk, err = follow(r.Context(), fc, req.offset, read)
		} else {
			chunk, err = read(r.Context())
		}
		if err != nil {
			return reply{}, failure("log of job "+id, err)
		}
		return reply{status: http.StatusOK, body: chunk}, nil
	})
}

func parseLogRequest(raw string) (logRequest, error) {
	q, err := parseQuery(raw, "offset", "limit", "follow", "step", "raw", "times")
	if err != nil {
		return logRequest{}, err
	}
	req := logRequest{step: q.str("step")}
	if req.step != "" && (len(req.step) > maxStepName || strings.Contains(req.step, " | ") || strings.ContainsAny(req.step, "\n")) {
		return logRequest{}, fail(http.StatusBadRequest, "step: not a step name", nil)
	}
	if req.raw, err = q.boolean("raw"); err != nil {
		return logRequest{}, err
	}
	if req.times, err = q.boolean("times"); err != nil {
		return logRequest{}, err
	}
	if req.offset, err = q.intIn("offset", 0, 0, 1<<62); err != nil {
		return logRequest{}, err
	}
	limit, err := q.intIn("limit", DefaultLogLimit, 1, MaxLogLimit)
	if err != nil {
		return logRequest{}, err
	}
	req.limit = int(limit)
	req.follow, err = q.boolean("follow")
	return req, err
}

// readLog reads one chunk of j's log. A job without a log yet has an empty
// one, complete when the job has finished (it never got a log: cancelled
// while queued, say). An incomplete chunk does not end inside a UTF-8
// character: the partial character is left for the next read.
func readLog(ctx context.Context, logs LogReader, j ci.Job, req logRequest) (LogChunk, error) {
	data, complete, chunks, err := readAttemptLog(ctx, logs, j, req)
	if errors.Is(err, ci.ErrNotFound) {
		return LogChunk{Offset: req.offset, Complete: j.Status.Final()}, nil
	}
	if err != nil {
		return LogChunk{}, err
	}
	if t := trimPartialRune(data); !complete && len(t) > 0 {
		data = t // (a read of fewer bytes than one character keeps them: no livelock)
	}
	return LogChunk{Data: string(data), Offset: req.offset + int64(len(data)), Complete: complete, chunks: chunks}, nil
}

// trimPartialRune drops the start of a multi-byte UTF-8 character cut off at
// the end of data; other bytes, valid or not, stay.
func trimPartialRune(data []byte) []byte {
	for i := 1; i < utf8.UTFMax && i <= len(data); i++ {
		b := data[len(data)-i]
		if b < utf8.RuneSelf { // ASCII: nothing is cut off
			return data
		}
		if utf8.RuneStart(b) {
			if !utf8.FullRune(data[len(data)-i:]) {
				return data[:len(data)-i]
			}
			return data
		}
	}
	return data
}

// follow reads until there is data or the log is complete, re-reading every
// fc.poll, for at most fc.wait (less when ctx's deadline, the Lambda's, comes
// first). Then it answers an empty, incomplete chunk: the client asks again.
func follow(ctx context.Context, fc followConfig, offset int64, read func(context.Context) (LogChunk, error)) (LogChunk, error) {
	wait := fc.wait
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)-time.Second)
	}
	timeout := time.NewTimer(max(wait, 0))
	defer timeout.Stop()
	tick := time.NewTicker(fc.poll)
	defer tick.Stop()
	for {
		chunk, err := read(ctx)
		if err != nil || chunk.Data != "" || chunk.Complete {
			return chunk, err
		}
		select {
		case <-ctx.Done():
			return LogChunk{}, context.Cause(ctx)
		case <-timeout.C:
			return LogChunk{Offset: offset}, nil
		case <-tick.C:
		}
	}
}

// readAttemptLog reads the log of j's latest attempt that has one. A runner
// that was offered a job again while still running it keeps writing the log
// it started, under the earlier attempt's ID.
//
// With req.times, a store that is a logstore.Timed also gives the chunks it
// listed for the read (nil otherwise): the lines' times.
func readAttemptLog(ctx context.Context, logs LogReader, j ci.Job, req logRequest) ([]byte, bool, []logstore.Chunk, error) {
	for a := max(j.Attempt, 1); ; a-- {
		data, complete, chunks, err := readOne(ctx, logs, logstore.LogID(j.ID, a), req)
		if !errors.Is(err, ci.ErrNotFound) || a <= 1 {
			return data, complete, chunks, err
		}
	}
}

// readOne reads log id; with req.times, through ReadTimed when the store
// has it.
func readOne(ctx context.Context, logs LogReader, id string, req logRequest) ([]byte, bool, []logstore.Chunk, error) {
	if timed, ok := logs.(logstore.Timed); ok && req.times {
		return timed.ReadTimed(ctx, id, req.offset, req.limit)
	}
	data, complete, err := logs.Read(ctx, id, req.offset, req.limit)
	return data, complete, nil, err
}
