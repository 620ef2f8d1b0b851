package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/narwhal-ci/narwhal/internal/secrets"
)

// SecretStore keeps repository secrets and registry credentials;
// *secrets.Store is one. An error matching secrets.ErrInvalid (a name, host,
// repository or value it does not accept; nothing changed) answers 400, one
// matching ci.ErrNotFound 404. Listing never returns a value or password.
type SecretStore interface {
	PutSecret(ctx context.Context, repo, name string, v secrets.Value) error
	ListSecrets(ctx context.Context, repo string) ([]secrets.Secret, error)
	DeleteSecret(ctx context.Context, repo, name string) error
	PutRegistry(ctx context.Context, repo string, c secrets.Credential) error
	ListRegistries(ctx context.Context, repo string) ([]secrets.Registry, error)
	DeleteRegistry(ctx context.Context, repo, host string) error
}

// maxSecretBody bounds the body of a PUT: the largest value, JSON-escaped
// (up to 6 bytes a byte), and the other fields.
const maxSecretBody = 6*secrets.MaxValueLen + 4096

// SecretBody is the body of PUT /repos/{owner}/{name}/secrets/{secret}.
type SecretBody struct {
	Value             *string `json:"value"`
	AllowPullRequests bool    `json:"allow_pull_requests"`
}

// RegistryBody is the body of PUT /repos/{owner}/{name}/registries/{host}.
type RegistryBody struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// SecretList is the answer of GET /repos/{owner}/{name}/secrets.
type SecretList struct {
	Secrets []secrets.Secret `json:"secrets"`
}

// RegistryList is the answer of GET /repos/{owner}/{name}/registries.
type RegistryList struct {
	Registries []secrets.Registry `json:"registries"`
}

// Deleted is the answer of a DELETE of a secret or registry.
type Deleted struct {
	Deleted string `json:"deleted"`
}

// secretRoutes adds the routes of repository secrets and registries.
func secretRoutes(mux *http.ServeMux, st SecretStore) {
	const repo = "/repos/{owner}/{name}"
	mux.Handle("GET "+repo+"/secrets", need(listSecrets(st), st))
	mux.Handle("PUT "+repo+"/secrets/{secret}", need(putSecret(st), st))
	mux.Handle("DELETE "+repo+"/secrets/{secret}", need(deleteSecret(st), st))
	mux.Handle("GET "+repo+"/registries", need(listRegistries(st), st))
	mux.Handle("PUT "+repo+"/registries/{host}", need(putRegistry(st), st))
	mux.Handle("DELETE "+repo+"/registries/{host}", need(deleteRegistry(st), st))
}

// putSecret is PUT /repos/{owner}/{name}/secrets/{secret}: 200 with the
// secret as listed (no value).
func putSecret(st SecretStore) http.Handler {
	return apiFunc(func(r *http.Request) (reply, error) {
		repo, name := repoOf(r), r.PathValue("secret")
		var body SecretBody
		if err := readBody(r, &body); err != nil {
			return reply{}, err
		}
		if body.Value == nil {
			return reply{}, fail(http.StatusBadRequest, `the body needs a "value"`, nil)
		}
		v := secrets.Value{Value: *body.Value, AllowPullRequests: body.AllowPullRequests}
		if err := st.PutSecret(r.Context(), repo, name, v); err != nil {
			return reply{}, secretFailure("secret "+name, err)
		}
		list, err := st.ListSecrets(r.Context(), repo)
		if err != nil {
			return reply{}, secretFailure("secrets of "+repo, err)
		}
		return reply{status: http.StatusOK, body: findSecret(list, name)}, nil
	})
}

func findSecret(list []secrets.Secret, name string) secrets.Secret {
	for _, s := range list {
		if s.Name == name {
			return s
		}
	}
	return secrets.Secret{Name: name} // deleted meanwhile
}

// listSecrets is GET /repos/{owner}/{name}/secrets.
func listSecrets(st SecretStore) http.Handler {
	return apiFunc(func(r *http.Request) (reply, error) {
		if err := noQuery(r); err != nil {
			return reply{}, err
		}
		list, err := st.ListSecrets(r.Context(), repoOf(r))
		if err != nil {
			return reply{}, secretFailure("secrets of "+repoOf(r), err)
		}
		return reply{status: http.StatusOK, body: SecretList{Secrets: list}}, nil
	})
}

// deleteSecret is DELETE /repos/{owner}/{name}/secrets/{secret}.
func deleteSecret(st SecretStore) http.Handler {
	return apiFunc(func(r *http.Request) (reply, error) {
		name := r.PathValue("secret")
		if err := st.DeleteSecret(r.Context(), repoOf(r), name); err != nil {
			return reply{}, secretFailure("secret "+name, err)
		}
		return reply{status: http.StatusOK, body: Deleted{Deleted: name}}, nil
	})
}

// putRegistry is PUT /repos/{owner}/{name}/registries/{host}: 200 with the
// registry as listed (no password).
func putRegistry(st SecretStore) http.Handler {
	return apiFunc(func(r *http.Request) (reply, error) {
		repo, host := repoOf(r), r.PathValue("host")
		var body RegistryBody
		if err := readBody(r, &body); err != nil {
			return reply{}, err
		}
		c := secrets.Credential{Host: host, Username: body.Username, Password: body.Password}
		if err := st.PutRegistry(r.Context(), repo, c); err != nil {
			return reply{}, secretFailure("registry "+host, err)
		}
		list, err := st.ListRegistries(r.Context(), repo)
		if err != nil {
			return reply{}, secretFailure("registries of "+repo, err)
		}
		for _, reg := range list {
			if strings.EqualFold(reg.Host, c.Host) {
				return reply{status: http.StatusOK, body: reg}, nil
			}
		}
		return reply{status: http.StatusOK, body: secrets.Registry{Host: host, Username: body.Username}}, nil
	})
}

// listRegistries is GET /repos/{owner}/{name}/registries.
func listRegistries(st SecretStore) http.Handler {
	return apiFunc(func(r *http.Request) (reply, error) {
		if err := noQuery(r); err != nil {
			return reply{}, err
		}
		list, err := st.ListRegistries(r.Context(), repoOf(r))
		if err != nil {
			return reply{}, secretFailure("registries of "+repoOf(r), err)
		}
		return reply{status: http.StatusOK, body: RegistryList{Registries: list}}, nil
	})
}

// deleteRegistry is DELETE /repos/{owner}/{name}/registries/{host}.
func deleteRegistry(st SecretStore) http.Handler {
	return apiFunc(func(r *http.Request) (reply, error) {
		host := r.PathValue("host")
		if err := st.DeleteRegistry(r.Context(), repoOf(r), host); err != nil {
			return reply{}, secretFailure("registry "+host, err)
		}
		return reply{status: http.StatusOK, body: Deleted{Deleted: host}}, nil
	})
}

func repoOf(r *http.Request) string { return r.PathValue("owner") + "/" + r.PathValue("name") }

// readBody decodes a JSON object of at most maxSecretBody bytes into v,
// refusing unknown fields and trailing data: 400.
func readBody(r *http.Request, v any) error {
	if err := noQuery(r); err != nil {
		return err
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxSecretBody+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fail(http.StatusBadRequest, "the body is not the JSON object this route takes (or over "+fmt.Sprint(maxSecretBody)+" bytes): "+err.Error(), nil)
	}
	if dec.More() {
		return fail(http.StatusBadRequest, "the body holds more than one JSON value", nil)
	}
	return nil
}

// secretFailure maps a SecretStore error: refused input is 400 with the
// store's reason (which never holds a value), the rest as failure does.
func secretFailure(what string, err error) error {
	if errors.Is(err, secrets.ErrInvalid) {
		return fail(http.StatusBadRequest, err.Error(), err)
	}
	return failure(what, err)
}
