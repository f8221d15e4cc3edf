package authn

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
)

// errInvalidToken is what a request with a bearer token that no authenticator knows gets: an
// error, not "no credentials", so it is refused instead of becoming anonymous.
var errInvalidToken = errors.New("invalid bearer token")

// tokenFile maps each token to its user. It is read once at start-up, like kube-apiserver's
// --token-auth-file: changing the file means restarting the apiserver.
type tokenFile struct {
	users map[string]User
}

// NewTokenFile reads a static token file, the CSV format of kube-apiserver's --token-auth-file:
//
//	token,user,uid,"group1,group2"
//
// One line per token; the groups column is optional and, since it holds commas, quoted. Lines
// starting with # are comments. Unlike kube-apiserver, which logs a warning and carries on, an empty
// token, an empty user name or a duplicate token is an error naming the line: a typo in this file is
// a security question, better asked at start-up.
func NewTokenFile(path string) (Authenticator, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading token file: %w", err)
	}
	defer f.Close()

	reader := csv.NewReader(f)
	reader.Comment = '#'
	reader.FieldsPerRecord = -1 // the groups column is optional
	users := map[string]User{}
	firstSeen := map[string]int{} // token -> line, to point at both lines of a duplicate
	for {
		record, err := reader.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			// csv.ParseError already says "record on line N".
			return nil, fmt.Errorf("reading token file %s: %w", path, err)
		}
		line, _ := reader.FieldPos(0)
		if len(record) < 3 {
			return nil, fmt.Errorf("token file %s line %d: need at least 3 columns (token, user name, uid), found %d", path, line, len(record))
		}
		token, name, uid := record[0], record[1], record[2]
		switch {
		case token == "":
			return nil, fmt.Errorf("token file %s line %d: empty token", path, line)
		case name == "":
			return nil, fmt.Errorf("token file %s line %d: empty user name", path, line)
		case firstSeen[token] != 0:
			return nil, fmt.Errorf("token file %s line %d: duplicate token (first on line %d)", path, line, firstSeen[token])
		}
		firstSeen[token] = line
		u := User{Name: name, UID: uid}
		if len(record) > 3 {
			u.Groups = splitGroups(record[3])
		}
		users[token] = u
	}
	return &tokenFile{users: users}, nil
}

// splitGroups splits "a, b,,c" into [a b c].
func splitGroups(column string) []string {
	var groups []string
	for g := range strings.SplitSeq(column, ",") {
		if g = strings.TrimSpace(g); g != "" {
			groups = append(groups, g)
		}
	}
	return groups
}

// Authenticate looks up the request's "Authorization: Bearer <token>" header.
func (t *tokenFile) Authenticate(r *http.Request) (*User, bool, error) {
	token, ok := bearerToken(r)
	if !ok {
		return nil, false, nil
	}
	u, ok := t.users[token]
	if !ok {
		return nil, false, errInvalidToken
	}
	// Like kube-apiserver, drop the header once it has done its job, so no handler further down can
	// forward the token (to a kubelet, say) by accident.
	r.Header.Del("Authorization")
	// Return a copy: the caller may append groups, and must not change the table.
	u.Groups = slices.Clone(u.Groups)
	return &u, true, nil
}

// bearerToken returns the token of an "Authorization: Bearer <token>" header. It parses the way
// kube-apiserver does: the scheme is case-insensitive (RFC 7235) and anything after the token is
// ignored.
func bearerToken(r *http.Request) (string, bool) {
	parts := strings.SplitN(strings.TrimSpace(r.Header.Get("Authorization")), " ", 3)
	if len(parts) < 2 || !strings.EqualFold(parts[0], "bearer") || parts[1] == "" {
		return "", false
	}
	return parts[1], true
}
