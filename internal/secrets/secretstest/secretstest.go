// Package secretstest is the contract suite of secrets.Backend: every
// implementation runs it, through a secrets.Store, so that the embedded store
// and Secrets Manager behave alike.
package secretstest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/secrets"
)

// Run runs the contract against backends made by open; each subtest gets a
// fresh one (open may share a service between them, but documents written in
// one must not be visible in another).
func Run(t *testing.T, open func(t *testing.T) secrets.Backend) {
	tests := []struct {
		name string
		f    func(*testing.T, secrets.Backend)
	}{
		{"BackendReadUpdate", backendReadUpdate},
		{"BackendUpdateErrorStoresNothing", backendUpdateError},
		{"EmptyRepository", emptyRepository},
		{"SecretRoundTrip", secretRoundTrip},
		{"SecretReplace", secretReplace},
		{"SecretDelete", secretDelete},
		{"RepositoriesApart", repositoriesApart},
		{"RegistryRoundTrip", registryRoundTrip},
		{"BadInputChangesNothing", badInputChangesNothing},
		{"TooLargeChangesNothing", tooLargeChangesNothing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, open(t)) })
	}
}

const repo = "acme/app"

func backendReadUpdate(t *testing.T, b secrets.Backend) {
	ctx := context.Background()
	if got, err := b.Read(ctx, repo); err != nil || got != nil {
		t.Fatalf("Read of nothing = %q, %v; want nil, nil", got, err)
	}
	put(t, b, []byte(`{"a":1}`))
	err := b.Update(ctx, repo, func(old []byte) ([]byte, error) {
		if string(old) != `{"a":1}` {
			t.Errorf("Update saw %q, want the last document", old)
		}
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Read(ctx, repo); err != nil || got != nil {
		t.Fatalf("Read after a nil Update = %q, %v; want nil, nil", got, err)
	}
	put(t, b, []byte(`{"b":2}`)) // a removed document can be written again
	if got, _ := b.Read(ctx, repo); string(got) != `{"b":2}` {
		t.Fatalf("Read = %q", got)
	}
}

func backendUpdateError(t *testing.T, b secrets.Backend) {
	put(t, b, []byte(`{"a":1}`))
	boom := errors.New("boom")
	err := b.Update(context.Background(), repo, func([]byte) ([]byte, error) { return []byte(`{"x":1}`), boom })
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want fn's error", err)
	}
	if got, _ := b.Read(context.Background(), repo); string(got) != `{"a":1}` {
		t.Fatalf("after a failed Update Read = %q, want the old document", got)
	}
}

func put(t *testing.T, b secrets.Backend, d []byte) {
	t.Helper()
	if err := b.Update(context.Background(), repo, func([]byte) ([]byte, error) { return d, nil }); err != nil {
		t.Fatal(err)
	}
}

func emptyRepository(t *testing.T, b secrets.Backend) {
	s := secrets.New(b)
	ctx := context.Background()
	if got, err := s.ListSecrets(ctx, repo); err != nil || len(got) != 0 || got == nil {
		t.Fatalf("ListSecrets = %#v, %v; want an empty list", got, err)
	}
	if got, err := s.ListRegistries(ctx, repo); err != nil || len(got) != 0 || got == nil {
		t.Fatalf("ListRegistries = %#v, %v; want an empty list", got, err)
	}
	r, err := s.Resolve(ctx, repo)
	if err != nil || len(r.Secrets) != 0 || len(r.Registries) != 0 {
		t.Fatalf("Resolve = %+v, %v; want nothing", r, err)
	}
	if err := s.DeleteSecret(ctx, repo, "NOPE"); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("DeleteSecret of nothing = %v, want ErrNotFound", err)
	}
	if err := s.DeleteRegistry(ctx, repo, "ghcr.io"); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("DeleteRegistry of nothing = %v, want ErrNotFound", err)
	}
}

func secretRoundTrip(t *testing.T, b secrets.Backend) {
	s := secrets.New(b)
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	mustPut(t, s, "TOKEN", secrets.Value{Value: "t0ken\nline two"})
	mustPut(t, s, "DEPLOY_KEY", secrets.Value{Value: "k3y", AllowPullRequests: true})
	list, err := s.ListSecrets(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "DEPLOY_KEY" || !list[0].AllowPullRequests || list[1].Name != "TOKEN" || list[1].AllowPullRequests {
		t.Fatalf("ListSecrets = %+v, want DEPLOY_KEY (allowed) then TOKEN", list)
	}
	for _, e := range list {
		if e.UpdatedAt.Before(before) || e.UpdatedAt.After(time.Now().Add(time.Second)) {
			t.Errorf("%s updated_at %v is not now", e.Name, e.UpdatedAt)
		}
	}
	r, err := s.Resolve(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]secrets.Value{"TOKEN": {Value: "t0ken\nline two"}, "DEPLOY_KEY": {Value: "k3y", AllowPullRequests: true}}
	if len(r.Secrets) != 2 || r.Secrets["TOKEN"] != want["TOKEN"] || r.Secrets["DEPLOY_KEY"] != want["DEPLOY_KEY"] {
		t.Fatalf("Resolve = %+v, want %+v", r.Secrets, want)
	}
}

func secretReplace(t *testing.T, b secrets.Backend) {
	s := secrets.New(b)
	mustPut(t, s, "TOKEN", secrets.Value{Value: "one", AllowPullRequests: true})
	mustPut(t, s, "TOKEN", secrets.Value{Value: "two"})
	r, err := s.Resolve(context.Background(), repo)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Secrets["TOKEN"]; got != (secrets.Value{Value: "two"}) || len(r.Secrets) != 1 {
		t.Fatalf("after a replace Resolve = %+v, want only TOKEN=two, not allowed", r.Secrets)
	}
}

func secretDelete(t *testing.T, b secrets.Backend) {
	s := secrets.New(b)
	ctx := context.Background()
	mustPut(t, s, "A", secrets.Value{Value: "a"})
	mustPut(t, s, "B", secrets.Value{Value: "b"})
	if err := s.DeleteSecret(ctx, repo, "A"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSecret(ctx, repo, "A"); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("second DeleteSecret = %v, want ErrNotFound", err)
	}
	list, _ := s.ListSecrets(ctx, repo)
	if len(list) != 1 || list[0].Name != "B" {
		t.Fatalf("ListSecrets = %+v, want only B", list)
	}
	if err := s.DeleteSecret(ctx, repo, "B"); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Read(ctx, repo); got != nil {
		t.Fatalf("a repository without secrets keeps a document: %q", got)
	}
}

func repositoriesApart(t *testing.T, b secrets.Backend) {
	s := secrets.New(b)
	ctx := context.Background()
	mustPut(t, s, "TOKEN", secrets.Value{Value: "mine"})
	if err := s.PutSecret(ctx, "acme/other", "TOKEN", secrets.Value{Value: "theirs"}); err != nil {
		t.Fatal(err)
	}
	for r, want := range map[string]string{repo: "mine", "acme/other": "theirs"} {
		got, err := s.Resolve(ctx, r)
		if err != nil || got.Secrets["TOKEN"].Value != want {
			t.Fatalf("Resolve(%s) = %+v, %v; want TOKEN=%s", r, got, err, want)
		}
	}
	if got, _ := s.ListSecrets(ctx, "acme/third"); len(got) != 0 {
		t.Fatalf("a third repository lists %+v", got)
	}
}

func registryRoundTrip(t *testing.T, b secrets.Backend) {
	s := secrets.New(b)
	ctx := context.Background()
	must(t, s.PutRegistry(ctx, repo, secrets.Credential{Host: "Registry.Example.com:5000", Username: "u", Password: "p1"}))
	must(t, s.PutRegistry(ctx, repo, secrets.Credential{Host: "ghcr.io", Username: "bot", Password: "p2"}))
	must(t, s.PutRegistry(ctx, repo, secrets.Credential{Host: "registry.example.com:5000", Username: "u2", Password: "p3"}))
	list, err := s.ListRegistries(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Host != "ghcr.io" || list[1].Host != "registry.example.com:5000" || list[1].Username != "u2" || list[1].UpdatedAt.IsZero() {
		t.Fatalf("ListRegistries = %+v", list)
	}
	r, _ := s.Resolve(ctx, repo)
	want := []secrets.Credential{{Host: "ghcr.io", Username: "bot", Password: "p2"}, {Host: "registry.example.com:5000", Username: "u2", Password: "p3"}}
	if len(r.Registries) != 2 || r.Registries[0] != want[0] || r.Registries[1] != want[1] {
		t.Fatalf("Resolve registries = %+v, want %+v", r.Registries, want)
	}
	must(t, s.DeleteRegistry(ctx, repo, "GHCR.io"))
	if list, _ := s.ListRegistries(ctx, repo); len(list) != 1 {
		t.Fatalf("after delete ListRegistries = %+v", list)
	}
}

func badInputChangesNothing(t *testing.T, b secrets.Backend) {
	s := secrets.New(b)
	ctx := context.Background()
	mustPut(t, s, "KEEP", secrets.Value{Value: "kept"})
	before, _ := b.Read(ctx, repo)
	bad := map[string]error{
		"name with dash":    s.PutSecret(ctx, repo, "BAD-NAME", secrets.Value{Value: "x"}),
		"name digit first":  s.PutSecret(ctx, repo, "1X", secrets.Value{Value: "x"}),
		"empty name":        s.PutSecret(ctx, repo, "", secrets.Value{Value: "x"}),
		"long name":         s.PutSecret(ctx, repo, strings.Repeat("N", secrets.MaxNameLen+1), secrets.Value{Value: "x"}),
		"empty value":       s.PutSecret(ctx, repo, "KEEP", secrets.Value{}),
		"large value":       s.PutSecret(ctx, repo, "KEEP", secrets.Value{Value: strings.Repeat("v", secrets.MaxValueLen+1)}),
		"bad repo":          s.PutSecret(ctx, "no-slash", "KEEP", secrets.Value{Value: "x"}),
		"repo with dots":    s.PutSecret(ctx, "../etc", "KEEP", secrets.Value{Value: "x"}),
		"host with scheme":  s.PutRegistry(ctx, repo, secrets.Credential{Host: "https://ghcr.io", Username: "u", Password: "p"}),
		"host with path":    s.PutRegistry(ctx, repo, secrets.Credential{Host: "ghcr.io/x", Username: "u", Password: "p"}),
		"no username":       s.PutRegistry(ctx, repo, secrets.Credential{Host: "ghcr.io", Password: "p"}),
		"no password":       s.PutRegistry(ctx, repo, secrets.Credential{Host: "ghcr.io", Username: "u"}),
		"delete bad name":   s.DeleteSecret(ctx, repo, "a b"),
		"delete bad host":   s.DeleteRegistry(ctx, repo, "a b"),
		"list bad repo":     listErr(s.ListSecrets(ctx, "x")),
		"registry bad repo": listErr(s.ListRegistries(ctx, "x/")),
	}
	for what, err := range bad {
		if !errors.Is(err, secrets.ErrInvalid) {
			t.Errorf("%s: error %v, want ErrInvalid", what, err)
		}
	}
	if after, _ := b.Read(ctx, repo); string(after) != string(before) {
		t.Fatalf("bad input changed the document:\n%s\n%s", before, after)
	}
}

func tooLargeChangesNothing(t *testing.T, b secrets.Backend) {
	s := secrets.New(b)
	ctx := context.Background()
	v := strings.Repeat("v", secrets.MaxValueLen)
	var err error
	n := 0
	for ; n < 10 && err == nil; n++ {
		err = s.PutSecret(ctx, repo, "S"+strings.Repeat("X", n), secrets.Value{Value: v})
	}
	if !errors.Is(err, secrets.ErrInvalid) {
		t.Fatalf("10 secrets of %d bytes: %v, want ErrInvalid once the document is too large", len(v), err)
	}
	if list, _ := s.ListSecrets(ctx, repo); len(list) != n-1 {
		t.Fatalf("%d secrets listed, want the %d that fit", len(list), n-1)
	}
}

func listErr[T any](_ T, err error) error { return err }

func mustPut(t *testing.T, s *secrets.Store, name string, v secrets.Value) {
	t.Helper()
	must(t, s.PutSecret(context.Background(), repo, name, v))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
