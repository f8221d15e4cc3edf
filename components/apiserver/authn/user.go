package authn

import (
	"context"
	"net/http"
	"slices"
)

// Well-known user and group names, the same strings Kubernetes uses (RBAC rules refer to them).
const (
	// Anonymous is the user name of a request that carried no credentials.
	Anonymous = "system:anonymous"
	// AllUnauthenticated is the group of every anonymous request.
	AllUnauthenticated = "system:unauthenticated"
	// AllAuthenticated is the group the Middleware adds to every authenticated user.
	AllAuthenticated = "system:authenticated"
)

// User is who made a request.
type User struct {
	Name   string
	UID    string // optional, stable identifier (the token file's third column)
	Groups []string
}

// InGroup reports whether u is a member of group.
func (u *User) InGroup(group string) bool {
	return slices.Contains(u.Groups, group)
}

// Authenticator finds out who sent a request. It returns:
//
//	user, true, nil   credentials found and valid
//	nil, false, nil   this authenticator found no credentials of its kind (try the next one)
//	nil, false, err   credentials of its kind were present but invalid
//
// The difference between the last two matters: only the middle one may become anonymous.
type Authenticator interface {
	Authenticate(r *http.Request) (*User, bool, error)
}

// AuthenticatorFunc lets a plain function be an Authenticator.
type AuthenticatorFunc func(r *http.Request) (*User, bool, error)

// Authenticate calls f(r).
func (f AuthenticatorFunc) Authenticate(r *http.Request) (*User, bool, error) { return f(r) }

// userKey is the context key for the User; an unexported type means no other package can collide
// with it or overwrite it.
type userKey struct{}

// WithUser returns a copy of ctx carrying u.
func WithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the User the Middleware stored in ctx.
func UserFrom(ctx context.Context) (*User, bool) {
	u, ok := ctx.Value(userKey{}).(*User)
	return u, ok && u != nil
}
