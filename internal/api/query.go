package api

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
)

// query reads the query parameters of a request: it knows which names an
// endpoint accepts, and every problem is a 400 error.
type query struct {
	values url.Values
}

// parseQuery parses raw and rejects parameters outside allowed or given more
// than once, so that a typo ("stauts=failure") is an error rather than an
// unfiltered answer.
func parseQuery(raw string, allowed ...string) (query, error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return query{}, fail(http.StatusBadRequest, "malformed query string", err)
	}
	for name, vals := range v {
		if !slices.Contains(allowed, name) {
			return query{}, fail(http.StatusBadRequest, fmt.Sprintf("unknown query parameter %q", name), nil)
		}
		if len(vals) > 1 {
			return query{}, fail(http.StatusBadRequest, fmt.Sprintf("query parameter %q given more than once", name), nil)
		}
	}
	return query{values: v}, nil
}

func (q query) str(name string) string { return q.values.Get(name) }

// intIn returns the integer parameter name, def when absent; a value that is
// not an integer in [lo, hi] is an error.
func (q query) intIn(name string, def, lo, hi int64) (int64, error) {
	if !q.values.Has(name) {
		return def, nil
	}
	n, err := strconv.ParseInt(q.values.Get(name), 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, fail(http.StatusBadRequest, fmt.Sprintf("%s must be an integer from %d to %d", name, lo, hi), err)
	}
	return n, nil
}

// boolean returns the boolean parameter name (1, true, 0, false, ...), false
// when absent and true when given without a value ("?follow").
func (q query) boolean(name string) (bool, error) {
	if !q.values.Has(name) || q.values.Get(name) == "" {
		return q.values.Has(name), nil
	}
	b, err := strconv.ParseBool(q.values.Get(name))
	if err != nil {
		return false, fail(http.StatusBadRequest, fmt.Sprintf("%s must be 1 or 0", name), err)
	}
	return b, nil
}
