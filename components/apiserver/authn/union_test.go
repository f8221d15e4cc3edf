package authn

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestUnion(t *testing.T) {
	t.Parallel()
	alice := &User{Name: "alice"}
	bob := &User{Name: "bob"}
	bad := errors.New("bad credentials")
	found := func(u *User) Authenticator {
		return AuthenticatorFunc(func(*http.Request) (*User, bool, error) { return u, true, nil })
	}
	none := AuthenticatorFunc(func(*http.Request) (*User, bool, error) { return nil, false, nil })
	failing := AuthenticatorFunc(func(*http.Request) (*User, bool, error) { return nil, false, bad })

	tests := []struct {
		name    string
		auths   []Authenticator
		want    *User
		wantErr error
	}{
		{name: "empty", auths: nil},
		{name: "first success wins", auths: []Authenticator{none, found(alice), found(bob)}, want: alice},
		{name: "success after an error", auths: []Authenticator{failing, found(bob)}, want: bob},
		{name: "nobody found credentials", auths: []Authenticator{none, none}},
		{name: "errors are reported", auths: []Authenticator{none, failing}, wantErr: bad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, ok, err := Union(tt.auths...).Authenticate(httptest.NewRequest("GET", "/", nil))
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if u != tt.want || ok != (tt.want != nil) {
				t.Fatalf("got %v, %v; want %v", u, ok, tt.want)
			}
		})
	}
}
