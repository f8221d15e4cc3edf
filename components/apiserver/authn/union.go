package authn

import (
	"errors"
	"net/http"
)

// Union returns an Authenticator that asks each of a in order and returns the first success. If none
// succeeds, the errors of those that found bad credentials are joined; a request that carried no
// credentials of any kind gets (nil, false, nil). This is how kube-apiserver combines
// --client-ca-file, --token-auth-file, service account tokens and so on: each looks at a different
// part of the request (the TLS handshake, the Authorization header), so order rarely matters.
func Union(a ...Authenticator) Authenticator {
	return AuthenticatorFunc(func(r *http.Request) (*User, bool, error) {
		var errs []error
		for _, auth := range a {
			u, ok, err := auth.Authenticate(r)
			if ok {
				return u, true, nil
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
		return nil, false, errors.Join(errs...)
	})
}
