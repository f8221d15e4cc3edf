package authz

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubelab/kubelab/components/apiserver/authn"
)

// Middleware lets a request reach next only if authorizer allows it. attrsFrom describes the
// request (the apiserver's request-info parser); if it leaves User nil, the user authn.Middleware
// stored in the context is used, so put this handler inside authn's:
//
//	authn.Middleware(authz.Middleware(api, authorizer, requestInfo), authenticator, anonymous, public)
//
// Deny and NoOpinion answer 403 with the Status kube-apiserver sends; an authorizer error (with any
// decision but Allow) answers 500, because "could not decide" is not the same as "no".
func Middleware(next http.Handler, authorizer Authorizer, attrsFrom func(*http.Request) Attributes) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attrs := attrsFrom(r)
		if attrs.User == nil {
			attrs.User, _ = authn.UserFrom(r.Context())
		}
		decision, reason, err := authorizer.Authorize(r.Context(), attrs)
		// Allow first: an authorizer may have hit an error on one rule and still found another that
		// allows the request.
		if decision == DecisionAllow {
			next.ServeHTTP(w, r)
			return
		}
		if err != nil {
			slog.ErrorContext(r.Context(), "authorization failed", "path", r.URL.Path, "err", err)
			writeStatus(w, apierrors.NewInternalError(fmt.Errorf("authorizing request: %w", err)).ErrStatus)
			return
		}
		slog.DebugContext(r.Context(), "forbidden", "path", r.URL.Path, "decision", decision, "reason", reason)
		writeStatus(w, Forbidden(attrs, reason).ErrStatus)
	})
}

// Forbidden is the error kube-apiserver returns when attrs is not allowed, for example
//
//	pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "default"
//	forbidden: User "bob" cannot get path "/metrics"
//
// with ": <reason>" appended when the authorizer gave one. Other handlers (an access review, say)
// can use it to phrase a refusal the same way.
func Forbidden(attrs Attributes, reason string) *apierrors.StatusError {
	msg := forbiddenMessage(attrs)
	if reason != "" {
		msg += ": " + reason
	}
	var gr schema.GroupResource
	if attrs.ResourceRequest {
		gr = schema.GroupResource{Group: attrs.APIGroup, Resource: attrs.Resource}
	}
	// NewForbidden prefixes `<resource>[.<group>] ["<name>"] is forbidden: ` (or just `forbidden: `)
	// and fills in the Status details client-go reads.
	return apierrors.NewForbidden(gr, attrs.Name, fmt.Errorf("%s", msg))
}

func forbiddenMessage(a Attributes) string {
	user := ""
	if a.User != nil {
		user = a.User.Name
	}
	if !a.ResourceRequest {
		return fmt.Sprintf("User %q cannot %s path %q", user, a.Verb, a.Path)
	}
	resource := a.Resource
	if a.Subresource != "" {
		resource += "/" + a.Subresource
	}
	if a.Namespace != "" {
		return fmt.Sprintf("User %q cannot %s resource %q in API group %q in the namespace %q", user, a.Verb, resource, a.APIGroup, a.Namespace)
	}
	return fmt.Sprintf("User %q cannot %s resource %q in API group %q at the cluster scope", user, a.Verb, resource, a.APIGroup)
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
