package authn

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// unauthorizedBody is what kube-apiserver answers to a request it cannot authenticate.
const unauthorizedBody = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`

func TestMiddleware(t *testing.T) {
	t.Parallel()
	alice := AuthenticatorFunc(func(*http.Request) (*User, bool, error) {
		return &User{Name: "alice", UID: "1", Groups: []string{"dev"}}, true, nil
	})
	none := AuthenticatorFunc(func(*http.Request) (*User, bool, error) { return nil, false, nil })
	bad := AuthenticatorFunc(func(*http.Request) (*User, bool, error) { return nil, false, errors.New("invalid bearer token") })
	public := []string{"/healthz", "/livez", "/readyz", "/version"}
	aliceUser := &User{Name: "alice", UID: "1", Groups: []string{"dev", AllAuthenticated}}
	anon := &User{Name: Anonymous, Groups: []string{AllUnauthenticated}}

	tests := []struct {
		name      string
		auth      Authenticator
		anonymous bool
		path      string
		want      *User // nil: the request must be refused with 401
	}{
		{name: "authenticated", auth: alice, path: "/api/v1/pods", want: aliceUser},
		{name: "authenticated, anonymous allowed", auth: alice, anonymous: true, path: "/api", want: aliceUser},
		{name: "no credentials", auth: none, path: "/api/v1/pods"},
		{name: "no credentials, anonymous allowed", auth: none, anonymous: true, path: "/api/v1/pods", want: anon},
		{name: "bad credentials, anonymous allowed", auth: bad, anonymous: true, path: "/api/v1/pods"},
		{name: "public path", auth: none, path: "/healthz", want: anon},
		{name: "below a public path", auth: none, path: "/healthz/etcd", want: anon},
		{name: "public path with bad credentials", auth: bad, path: "/version", want: anon},
		{name: "public path with good credentials", auth: alice, path: "/readyz", want: aliceUser},
		{name: "prefix is not a subpath", auth: none, path: "/healthzz"},
		{name: "nil authenticator", auth: nil, path: "/api"},
		{name: "nil authenticator, anonymous allowed", auth: nil, anonymous: true, path: "/api", want: anon},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got *User
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, _ = UserFrom(r.Context())
				w.WriteHeader(http.StatusOK)
			})
			rec := httptest.NewRecorder()
			Middleware(next, tt.auth, tt.anonymous, public).ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))

			if tt.want == nil {
				if rec.Code != http.StatusUnauthorized || got != nil {
					t.Fatalf("code %d, user %+v; want 401 and next not called", rec.Code, got)
				}
				if body := strings.TrimSpace(rec.Body.String()); body != unauthorizedBody {
					t.Errorf("body = %s\nwant   %s", body, unauthorizedBody)
				}
				if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
				return
			}
			if rec.Code != http.StatusOK || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("code %d, user %+v; want 200 and %+v", rec.Code, got, tt.want)
			}
		})
	}
}

func TestMiddlewareAddsGroupOnce(t *testing.T) {
	t.Parallel()
	stored := &User{Name: "alice", Groups: []string{AllAuthenticated}}
	a := AuthenticatorFunc(func(*http.Request) (*User, bool, error) { return stored, true, nil })
	var got *User
	next := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got, _ = UserFrom(r.Context()) })
	Middleware(next, a, false, nil).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if !reflect.DeepEqual(got.Groups, []string{AllAuthenticated}) {
		t.Errorf("groups = %v, want [%s]", got.Groups, AllAuthenticated)
	}
	if got == stored {
		t.Error("middleware handed on the authenticator's own User instead of a copy")
	}
}

func TestUserContext(t *testing.T) {
	t.Parallel()
	if _, ok := UserFrom(context.Background()); ok {
		t.Error("UserFrom found a user in an empty context")
	}
	if _, ok := UserFrom(WithUser(context.Background(), nil)); ok {
		t.Error("UserFrom reported a nil user as found")
	}
	u := &User{Name: "bob", Groups: []string{"system:masters"}}
	got, ok := UserFrom(WithUser(context.Background(), u))
	if !ok || got != u {
		t.Fatalf("UserFrom = %v, %v; want %v", got, ok, u)
	}
	if !got.InGroup("system:masters") || got.InGroup("system:nodes") {
		t.Error("InGroup wrong")
	}
}
