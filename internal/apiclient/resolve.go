package apiclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// MinPrefix is the shortest job ID prefix ResolveJob looks up: shorter ones
// would match too many jobs to be worth a listing.
const MinPrefix = 6

// maxResolvePages bounds the listing of one prefix: on DynamoDB a sparse
// prefix may come as short pages with a cursor (docs/api.md).
const maxResolvePages = 100

// ResolveJob turns what a person typed into a job ID: a whole ID is
// returned as it is; otherwise a prefix of at least MinPrefix characters is
// looked up (GET /jobs?id_prefix=) and must match exactly one job. An
// unknown ID or prefix gives an *Error with status 404, an ambiguous one an
// error naming the matches.
func (c *Client) ResolveJob(ctx context.Context, arg string) (string, error) {
	if !ci.ValidJobID(arg) {
		return "", fmt.Errorf("%q is not a job ID", arg)
	}
	_, err := c.Job(ctx, arg)
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound {
		return arg, err // found, or a failure that a listing would meet too
	}
	if len(arg) < MinPrefix {
		return "", &Error{Status: http.StatusNotFound,
			Message: fmt.Sprintf("job %s not found (a short ID needs at least %d characters)", arg, MinPrefix)}
	}
	matches, err := c.idsWithPrefix(ctx, arg)
	switch {
	case err != nil:
		return "", err
	case len(matches) == 0:
		return "", &Error{Status: http.StatusNotFound, Message: fmt.Sprintf("no job ID starts with %s", arg)}
	case len(matches) > 1:
		return "", fmt.Errorf("%s is ambiguous: it starts %s and more; type more of the ID", arg, strings.Join(matches, ", "))
	}
	return matches[0], nil
}

// idsWithPrefix lists up to two IDs that start with prefix.
func (c *Client) idsWithPrefix(ctx context.Context, prefix string) ([]string, error) {
	f := ci.JobFilter{IDPrefix: prefix, Limit: 2}
	var ids []string
	for range maxResolvePages {
		page, err := c.Jobs(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, j := range page.Jobs {
			ids = append(ids, j.ID)
		}
		if len(ids) >= 2 || page.Cursor == "" {
			return ids, nil
		}
		f.Cursor = page.Cursor
	}
	return ids, nil
}
