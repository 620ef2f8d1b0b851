package api_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/api"
	"github.com/narwhal-ci/narwhal/internal/secrets"
	"github.com/narwhal-ci/narwhal/internal/secrets/embedded"
)

const secretValue = "sup3r-s3cret-value"

// secretRig is the API over a real embedded secret store.
func secretRig(t *testing.T) (*rig, *secrets.Store) {
	t.Helper()
	dir := t.TempDir()
	b, err := embedded.Open(t.Context(), filepath.Join(dir, "narwhal.db"), filepath.Join(dir, "secrets.key"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	st := secrets.New(b)
	return newRig(t, func(d *api.Deps) { d.Secrets = st }), st
}

// put sends an authenticated request with a JSON body.
func (r *rig) put(t *testing.T, method, target, body string) response {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// noValue fails when a response or the request log shows a secret.
func noValue(t *testing.T, r *rig, resp response, values ...string) {
	t.Helper()
	for _, v := range values {
		if bytes.Contains(resp.body, []byte(v)) {
			t.Fatalf("the answer shows %q: %s", v, resp.body)
		}
		if strings.Contains(r.log.String(), v) {
			t.Fatalf("the request log shows %q", v)
		}
	}
}

func TestSecretsPutListDelete(t *testing.T) {
	t.Parallel()
	r, st := secretRig(t)
	resp := r.put(t, "PUT", "/repos/acme/app/secrets/DEPLOY_TOKEN", `{"value":"`+secretValue+`","allow_pull_requests":true}`)
	expect(t, resp, http.StatusOK)
	noValue(t, r, resp, secretValue)
	var put secrets.Secret
	resp.decode(t, &put)
	if put.Name != "DEPLOY_TOKEN" || !put.AllowPullRequests || put.UpdatedAt.IsZero() {
		t.Fatalf("PUT answered %+v", put)
	}
	expect(t, r.put(t, "PUT", "/repos/acme/app/secrets/OTHER", `{"value":"x2"}`), http.StatusOK)

	resp = r.do(t, "GET", "/repos/acme/app/secrets")
	expect(t, resp, http.StatusOK)
	noValue(t, r, resp, secretValue)
	var list api.SecretList
	resp.decode(t, &list)
	if len(list.Secrets) != 2 || list.Secrets[0].Name != "DEPLOY_TOKEN" || list.Secrets[1].AllowPullRequests {
		t.Fatalf("list %+v", list)
	}
	if strings.Contains(string(resp.body), `"value"`) {
		t.Fatalf("the list has a value field: %s", resp.body)
	}

	expect(t, r.do(t, "DELETE", "/repos/acme/app/secrets/OTHER"), http.StatusOK)
	expect(t, r.do(t, "DELETE", "/repos/acme/app/secrets/OTHER"), http.StatusNotFound)
	if got, _ := st.Resolve(t.Context(), "acme/app"); len(got.Secrets) != 1 || got.Secrets["DEPLOY_TOKEN"].Value != secretValue {
		t.Fatalf("store holds %+v", got.Secrets)
	}
}

func TestSecretsBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	r, st := secretRig(t)
	expect(t, r.put(t, "PUT", "/repos/acme/app/secrets/KEEP", `{"value":"kept"}`), http.StatusOK)
	for name, c := range map[string]struct{ method, target, body string }{
		"bad name":      {"PUT", "/repos/acme/app/secrets/BAD-NAME", `{"value":"x"}`},
		"no value":      {"PUT", "/repos/acme/app/secrets/KEEP", `{"allow_pull_requests":true}`},
		"empty value":   {"PUT", "/repos/acme/app/secrets/KEEP", `{"value":""}`},
		"unknown field": {"PUT", "/repos/acme/app/secrets/KEEP", `{"value":"x","valeu":"y"}`},
		"not JSON":      {"PUT", "/repos/acme/app/secrets/KEEP", `value=x`},
		"two values":    {"PUT", "/repos/acme/app/secrets/KEEP", `{"value":"x"}{"value":"y"}`},
		"huge value":    {"PUT", "/repos/acme/app/secrets/KEEP", `{"value":"` + strings.Repeat("v", secrets.MaxValueLen+1) + `"}`},
		"bad repo":      {"PUT", "/repos/ac%20me/app/secrets/KEEP", `{"value":"x"}`},
		"bad host":      {"PUT", "/repos/acme/app/registries/a%20b", `{"username":"u","password":"p"}`},
		"no password":   {"PUT", "/repos/acme/app/registries/ghcr.io", `{"username":"u"}`},
		"query":         {"PUT", "/repos/acme/app/secrets/KEEP?x=1", `{"value":"x"}`},
	} {
		resp := r.put(t, c.method, c.target, c.body)
		if resp.status != http.StatusBadRequest {
			t.Errorf("%s: status %d %s, want 400", name, resp.status, resp.body)
			continue
		}
		expect(t, resp, http.StatusBadRequest)
	}
	got, _ := st.Resolve(t.Context(), "acme/app")
	if len(got.Secrets) != 1 || got.Secrets["KEEP"].Value != "kept" || got.Secrets["KEEP"].AllowPullRequests || len(got.Registries) != 0 {
		t.Fatalf("bad input changed the store: %+v", got)
	}
	expect(t, r.do(t, "DELETE", "/repos/acme/app/registries/ghcr.io"), http.StatusNotFound)
}

func TestRegistriesPutListDelete(t *testing.T) {
	t.Parallel()
	r, st := secretRig(t)
	resp := r.put(t, "PUT", "/repos/acme/app/registries/127.0.0.1:5055", `{"username":"puller","password":"`+secretValue+`"}`)
	expect(t, resp, http.StatusOK)
	noValue(t, r, resp, secretValue)
	resp = r.do(t, "GET", "/repos/acme/app/registries")
	expect(t, resp, http.StatusOK)
	noValue(t, r, resp, secretValue)
	var list api.RegistryList
	resp.decode(t, &list)
	if len(list.Registries) != 1 || list.Registries[0].Host != "127.0.0.1:5055" || list.Registries[0].Username != "puller" {
		t.Fatalf("list %+v", list)
	}
	if got, _ := st.Resolve(t.Context(), "acme/app"); len(got.Registries) != 1 || got.Registries[0].Password != secretValue {
		t.Fatalf("store holds %+v", got.Registries)
	}
	expect(t, r.do(t, "DELETE", "/repos/acme/app/registries/127.0.0.1:5055"), http.StatusOK)
	if got, _ := st.Resolve(t.Context(), "acme/app"); len(got.Registries) != 0 {
		t.Fatalf("after delete the store holds %+v", got.Registries)
	}
}

func TestSecretsNeedTokenAndStore(t *testing.T) {
	t.Parallel()
	r, _ := secretRig(t)
	expect(t, r.send(t, "GET", "/repos/acme/app/secrets", ""), http.StatusUnauthorized)
	expect(t, r.send(t, "DELETE", "/repos/acme/app/secrets/X", "Bearer wrong"), http.StatusUnauthorized)
	bare := newRig(t, nil)
	expect(t, bare.do(t, "GET", "/repos/acme/app/registries"), http.StatusNotImplemented)
}
