package authz

import (
	"context"
	"errors"
	"strings"

	"github.com/kubelab/kubelab/components/apiserver/authn"
)

// Decision is an authorizer's answer. The zero value is DecisionDeny, so a forgotten assignment
// fails closed.
type Decision int

const (
	// DecisionDeny refuses the request; no later authorizer is asked.
	DecisionDeny Decision = iota
	// DecisionAllow lets the request through; no later authorizer is asked.
	DecisionAllow
	// DecisionNoOpinion passes the question to the next authorizer of a Union; if none remains,
	// the request is refused (Kubernetes authorization is deny-by-default).
	DecisionNoOpinion
)

func (d Decision) String() string {
	switch d {
	case DecisionDeny:
		return "Deny"
	case DecisionAllow:
		return "Allow"
	case DecisionNoOpinion:
		return "NoOpinion"
	}
	return "Decision(?)"
}

// Attributes describe one request, in the terms RBAC rules are written in.
//
// A resource request (ResourceRequest true) is a call on the REST API such as
// GET /api/v1/namespaces/default/pods/web: verb "get", Namespace "default", APIGroup "" (core),
// Resource "pods", Name "web". Anything else — /healthz, /metrics, /version, /apis discovery — is a
// non-resource request, judged by Path and Verb alone.
type Attributes struct {
	User *authn.User

	// Verb is the Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection
	// for resources; the lower-case HTTP method (get, post, …) for non-resource paths.
	Verb string

	ResourceRequest bool
	Namespace       string // empty for cluster-scoped resources and for lists across namespaces
	APIGroup        string // "" is the core group (pods, services, …), "apps" for deployments
	Resource        string // plural, lower case: "pods"
	Subresource     string // "status", "log", "exec", "binding", …
	Name            string // empty for list, watch, create and deletecollection

	Path string // the URL path, for non-resource requests
}

// Authorizer decides whether a request may proceed. reason explains the decision in words for the
// 403 message and logs (RBAC will name the role that allowed or the absence of one). err reports
// a failure to decide, such as an unreachable webhook; the Middleware answers 500 then, unless the
// decision was Allow anyway.
type Authorizer interface {
	Authorize(ctx context.Context, a Attributes) (decision Decision, reason string, err error)
}

// AuthorizerFunc lets a plain function be an Authorizer.
type AuthorizerFunc func(ctx context.Context, a Attributes) (Decision, string, error)

// Authorize calls f(ctx, a).
func (f AuthorizerFunc) Authorize(ctx context.Context, a Attributes) (Decision, string, error) {
	return f(ctx, a)
}

// AlwaysAllow allows everything: --authorization-mode=AlwaysAllow, the state of a cluster before
// RBAC is switched on. Fine on a laptop, never on a shared cluster.
var AlwaysAllow Authorizer = AuthorizerFunc(func(context.Context, Attributes) (Decision, string, error) {
	return DecisionAllow, "", nil
})

// AlwaysDeny refuses everything: --authorization-mode=AlwaysDeny, useful in tests and to see what
// a fully locked-down apiserver answers.
var AlwaysDeny Authorizer = AuthorizerFunc(func(context.Context, Attributes) (Decision, string, error) {
	return DecisionDeny, "", nil
})

// Union asks each authorizer in order and returns the first Allow or Deny; an authorizer with no
// opinion passes the question on, and when all pass, the answer is NoOpinion (which the Middleware
// refuses). This is --authorization-mode=Node,RBAC: the node authorizer speaks only about kubelets
// and has no opinion on anyone else. Errors are collected and returned with the final NoOpinion, so
// a failing authorizer does not hide behind the ones after it.
func Union(authorizers ...Authorizer) Authorizer {
	return AuthorizerFunc(func(ctx context.Context, a Attributes) (Decision, string, error) {
		var errs []error
		var reasons []string
		for _, az := range authorizers {
			d, reason, err := az.Authorize(ctx, a)
			if d == DecisionAllow || d == DecisionDeny {
				return d, reason, err
			}
			if err != nil {
				errs = append(errs, err)
			}
			if reason != "" {
				reasons = append(reasons, reason)
			}
		}
		return DecisionNoOpinion, strings.Join(reasons, "; "), errors.Join(errs...)
	})
}
