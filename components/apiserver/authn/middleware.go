package authn

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Middleware authenticates every request before next sees it.
//
//   - Valid credentials: the User, plus group system:authenticated, goes into the request context
//     (read it with UserFrom).
//   - No credentials: the request continues as system:anonymous in group system:unauthenticated if
//     allowAnonymous is set; otherwise it is answered 401.
//   - Bad credentials: 401, even with allowAnonymous (see the package comment).
//   - A path in public (say /healthz, /livez, /readyz, /version) always continues: as the
//     authenticated user if the credentials are good, else as anonymous. A public entry also
//     covers the paths below it ("/healthz" covers "/healthz/etcd").
//
// The 401 body is the metav1.Status kube-apiserver sends, which kubectl turns into
// "error: You must be logged in to the server (Unauthorized)". It does not say what was wrong with
// the credentials — that would help an attacker more than a student — so the reason is logged at
// debug level instead.
//
// A nil Authenticator authenticates nobody (every request is anonymous or refused).
func Middleware(next http.Handler, a Authenticator, allowAnonymous bool, public []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var (
			u   *User
			ok  bool
			err error
		)
		if a != nil {
			u, ok, err = a.Authenticate(r)
		}
		switch {
		case ok:
			u = withAuthenticatedGroup(u)
		case isPublic(r.URL.Path, public) || (allowAnonymous && err == nil):
			u = anonymousUser()
		default:
			if err != nil {
				slog.DebugContext(r.Context(), "unable to authenticate the request", "path", r.URL.Path, "err", err)
			}
			writeStatus(w, apierrors.NewUnauthorized("Unauthorized").ErrStatus)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithUser(r.Context(), u)))
	})
}

// withAuthenticatedGroup returns a copy of u that is also in system:authenticated, the group RBAC
// uses for "anyone who logged in" (discovery, self-subject reviews).
func withAuthenticatedGroup(u *User) *User {
	out := *u
	out.Groups = slices.Clone(u.Groups)
	if !slices.Contains(out.Groups, AllAuthenticated) {
		out.Groups = append(out.Groups, AllAuthenticated)
	}
	return &out
}

func anonymousUser() *User {
	return &User{Name: Anonymous, Groups: []string{AllUnauthenticated}}
}

// isPublic reports whether path is one of public or below one of them.
func isPublic(path string, public []string) bool {
	for _, p := range public {
		if path == p || strings.HasPrefix(path, strings.TrimSuffix(p, "/")+"/") {
			return true
		}
	}
	return false
}

// writeStatus answers with a Kubernetes Status object, the error body every client-go client knows
// how to read.
func writeStatus(w http.ResponseWriter, status metav1.Status) {
	status.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(int(status.Code))
	json.NewEncoder(w).Encode(status)
}
