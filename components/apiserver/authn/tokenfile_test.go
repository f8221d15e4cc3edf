package authn

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const goodTokenFile = `# token,user,uid,"groups"
31ada4fd-adec-460c-809a-9e56ceb75269,alice,1001,"developers,viewers"
admin-token,admin,1000,system:masters
plain-token,bob,1002
spaced-token,carol,1003," a , b ,,"
`

func TestNewTokenFileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, content, wantErr string
	}{
		{"too few columns", "# header\ngood,alice,1\nonly,two\n", "line 3: need at least 3 columns"},
		{"empty token", "good,alice,1\n,bob,2\n", "line 2: empty token"},
		{"empty user", "t,,1\n", "line 1: empty user name"},
		{"duplicate token", "t,alice,1\n\nt,bob,2\n", "line 3: duplicate token (first on line 1)"},
		{"bad quoting", "t,alice,1,\"unterminated\n", "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, tt.content)
			_, err := NewTokenFile(path)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
				t.Fatalf("NewTokenFile error = %v, want one naming the file and containing %q", err, tt.wantErr)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		t.Parallel()
		if _, err := NewTokenFile(filepath.Join(t.TempDir(), "nope.csv")); err == nil {
			t.Fatal("NewTokenFile of a missing file succeeded")
		}
	})
}

func TestTokenFileAuthenticate(t *testing.T) {
	t.Parallel()
	a, err := NewTokenFile(writeFile(t, goodTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		header  string
		want    *User
		wantErr bool
	}{
		{name: "quoted groups", header: "Bearer 31ada4fd-adec-460c-809a-9e56ceb75269",
			want: &User{Name: "alice", UID: "1001", Groups: []string{"developers", "viewers"}}},
		{name: "single unquoted group", header: "Bearer admin-token", want: &User{Name: "admin", UID: "1000", Groups: []string{"system:masters"}}},
		{name: "no groups column", header: "Bearer plain-token", want: &User{Name: "bob", UID: "1002"}},
		{name: "groups trimmed", header: "Bearer spaced-token", want: &User{Name: "carol", UID: "1003", Groups: []string{"a", "b"}}},
		{name: "scheme is case-insensitive", header: "bearer admin-token", want: &User{Name: "admin", UID: "1000", Groups: []string{"system:masters"}}},
		{name: "unknown token", header: "Bearer guess", wantErr: true},
		{name: "no header"},
		{name: "other scheme", header: "Basic YWRtaW46YWRtaW4="},
		{name: "empty token", header: "Bearer "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", "/api", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			u, ok, err := a.Authenticate(r)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if ok != (tt.want != nil) || !reflect.DeepEqual(u, tt.want) {
				t.Fatalf("got %+v, %v; want %+v", u, ok, tt.want)
			}
			if ok && r.Header.Get("Authorization") != "" {
				t.Error("Authorization header kept after successful authentication")
			}
		})
	}
}

// TestTokenFileReturnsCopies guards the table against callers that add groups to the returned User
// (as the middleware does).
func TestTokenFileReturnsCopies(t *testing.T) {
	t.Parallel()
	a, err := NewTokenFile(writeFile(t, goodTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	get := func() *User {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer admin-token")
		u, _, _ := a.Authenticate(r)
		return u
	}
	first := get()
	first.Groups[0] = "changed"
	if got := get().Groups[0]; got != "system:masters" {
		t.Fatalf("stored user changed through a returned one: group %q", got)
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens.csv")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
