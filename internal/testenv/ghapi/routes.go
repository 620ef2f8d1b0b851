package ghapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/golang-jwt/jwt/v4"
)

func (a *App) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /repos/{owner}/{repo}/installation", a.asApp(a.installation))
	mux.HandleFunc("POST /app/installations/{id}/access_tokens", a.asApp(a.accessToken))
	mux.HandleFunc("POST /repos/{owner}/{repo}/statuses/{sha}", a.asInstallation(a.status))
	mux.HandleFunc("GET /repos/{owner}/{repo}/contents/{path...}", a.asInstallation(func(w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
	}))
	return mux
}

// asApp runs h for requests with a JWT the App's key signed (RS256, issuer
// AppID, not expired); others get 401.
func (a *App) asApp(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		var claims jwt.RegisteredClaims
		_, err := jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return &a.key.PublicKey, nil },
			jwt.WithValidMethods([]string{"RS256"}))
		if !ok || err != nil || claims.Issuer != strconv.Itoa(AppID) {
			reply(w, http.StatusUnauthorized, map[string]string{"message": "A JSON web token could not be decoded"})
			return
		}
		h(w, r)
	}
}

// asInstallation runs h for requests with a valid token for the path's
// repository; others get 401.
func (a *App) asInstallation(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !a.Valid(bearer(r), r.PathValue("owner")+"/"+r.PathValue("repo")) {
			reply(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
			return
		}
		h(w, r)
	}
}

func (a *App) installation(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	id, ok := a.installs[strings.ToLower(r.PathValue("owner")+"/"+r.PathValue("repo"))]
	a.mu.Unlock()
	if !ok {
		reply(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	reply(w, http.StatusOK, map[string]any{"id": id, "app_id": AppID})
}

// accessToken mints a token for the one repository the request names, which
// must be in the installation, with the permissions narwhal asks for.
func (a *App) accessToken(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Repositories []string          `json:"repositories"`
		Permissions  map[string]string `json:"permissions"`
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.Repositories) != 1 {
		reply(w, http.StatusUnprocessableEntity, map[string]string{"message": "want exactly one repository"})
		return
	}
	repo, ok := a.installed(id, body.Repositories[0])
	if !ok {
		reply(w, http.StatusUnprocessableEntity, map[string]string{"message": "repository not in installation"})
		return
	}
	tok, exp := a.mint(repo)
	reply(w, http.StatusCreated, map[string]any{"token": tok, "expires_at": exp, "permissions": body.Permissions})
}

// installed finds the repository named name in installation id.
func (a *App) installed(id int64, name string) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for repo, inst := range a.installs {
		if _, n, _ := strings.Cut(repo, "/"); inst == id && strings.EqualFold(n, name) {
			return repo, true
		}
	}
	return "", false
}

func (a *App) status(w http.ResponseWriter, r *http.Request) {
	var body struct {
		State string `json:"state"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	a.mu.Lock()
	a.statuses = append(a.statuses, Status{Repo: r.PathValue("owner") + "/" + r.PathValue("repo"),
		SHA: r.PathValue("sha"), State: body.State, Token: bearer(r)})
	a.mu.Unlock()
	reply(w, http.StatusCreated, map[string]string{"state": body.State})
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// bearer is the token of an Authorization header, in GitHub's "token X" or
// the "Bearer X" form.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(h, "token "); ok {
		return tok
	}
	tok, _ := strings.CutPrefix(h, "Bearer ")
	return tok
}
