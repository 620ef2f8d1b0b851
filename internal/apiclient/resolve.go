package apiclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// MinPrefix is the shortest job ID prefix ResolveJob looks up: shorter ones
// would match too many jobs to be worth a listing.
const MinPrefix = 6

// maxResolvePages bounds the listing of one prefix: on DynamoDB a sparse
// prefix may come as short pages with a cursor (docs/api.md).
const maxResolvePages = 100

// ResolveJob turns what a person typed into a job ID: OWNER/NAME#N is the
// repository's build number N (GET /jobs?repo=&number=); a whole ID is
// returned as it is; otherwise a prefix of at least MinPrefix characters is
// looked up (GET /jobs?id_prefix=) and must match exactly one job. An
// unknown ID, number or prefix gives an *Error with status 404, an
// ambiguous prefix an error naming the matches.
func (c *Client) ResolveJob(ctx context.Context, arg string) (string, error) {
	if repo, num, ok := strings.Cut(arg, "#"); ok {
		return c.byNumber(ctx, repo, num)
	}
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
	matches, err := c.findIDs(ctx, ci.JobFilter{IDPrefix: arg, Limit: 2})
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

// byNumber finds build number num of repo.
func (c *Client) byNumber(ctx context.Context, repo, num string) (string, error) {
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || strings.Count(repo, "/") != 1 {
		return "", fmt.Errorf("%q: want OWNER/NAME#NUMBER, such as acme/app#42", repo+"#"+num)
	}
	ids, err := c.findIDs(ctx, ci.JobFilter{Repo: repo, Number: n, Limit: 1})
	switch {
	case err != nil:
		return "", err
	case len(ids) == 0:
		return "", &Error{Status: http.StatusNotFound, Message: fmt.Sprintf("%s has no job #%d", repo, n)}
	}
	return ids[0], nil
}

// findIDs lists the IDs of up to f.Limit jobs that f selects, following
// the cursors of a sparse DynamoDB listing (docs/api.md), for at most
// maxResolvePages pages.
func (c *Client) findIDs(ctx context.Context, f ci.JobFilter) ([]string, error) {
	var ids []string
	for range maxResolvePages {
		page, err := c.Jobs(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, j := range page.Jobs {
			ids = append(ids, j.ID)
		}
		if len(ids) >= f.Limit || page.Cursor == "" {
			break
		}
		f.Cursor = page.Cursor
	}
	return ids[:min(len(ids), f.Limit)], nil
}
