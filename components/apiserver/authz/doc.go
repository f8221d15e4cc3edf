// Package authz is the apiserver's authorization: the second link of its handler chain, answering
// "may this user do this?".
//
//	request ─> authn.Middleware ─> authz.Middleware ─> admission ─> registry ─> etcd
//	           (who: *authn.User)    │
//	                                 ├─ attrsFrom(r): user, verb, namespace, group, resource, name, …
//	                                 ├─ Authorizer.Authorize(attrs) -> Allow | Deny | NoOpinion
//	                                 └─ anything but Allow: 403 Forbidden, as a metav1.Status
//
// An authorizer sees only Attributes, never the request body: it decides on "bob wants to list pods
// in namespace default", not on what a pod says. (Decisions about content are admission's job.)
// Turning a URL into Attributes is the apiserver's request-info parser, which the Middleware takes as
// attrsFrom so this package knows nothing about URL layout.
//
// The seam for the authorizers still to come: kube-apiserver's --authorization-mode=Node,RBAC is a
// Union of authorizers, each of which may allow, deny, or have no opinion and pass the question on.
// AlwaysAllow (today's default) and AlwaysDeny are the trivial ones; RBAC will implement the same
// interface by reading Roles and RoleBindings from informers, and a node authorizer will restrict
// kubelets (group system:nodes) to their own node's objects.
package authz
