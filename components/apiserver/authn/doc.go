// Package authn is the apiserver's authentication: the first link of its handler chain, answering
// "who is making this request?".
//
//	request ─> authn.Middleware ─> authz.Middleware ─> admission ─> registry ─> etcd
//	              │
//	              ├─ Authenticator (Union of X509, TokenFile, …): credentials -> *User
//	              ├─ success: User (+ group system:authenticated) stored in the request context
//	              ├─ no credentials: system:anonymous, if anonymous requests are allowed
//	              └─ otherwise: 401 Unauthorized, as a metav1.Status
//
// Authentication only names the caller; whether that caller may do what it asks is the next link's
// question (components/apiserver/authz). Kubernetes has no user database: a user is whatever a
// trusted credential says. With client certificates the CA's signature vouches for the subject
// (CN = user name, O = groups), with the static token file the file's author vouches for each token.
// Groups are how permissions are handed out in bulk: "system:masters" is the admin group,
// "system:nodes" the kubelets, "system:authenticated" everyone who proved an identity.
//
// Credentials that are present but wrong (a certificate from another CA, an unknown token) fail the
// request even when anonymous access is on, as in kube-apiserver: falling back to anonymous would
// hide the mistake, and would make a revoked credential quietly keep working with anonymous rights.
package authn
