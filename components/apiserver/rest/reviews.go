package rest

// Reviews are the API's questions about the caller, answered without
// storing anything: "who am I?" (kubectl auth whoami) and "may I?"
// (kubectl auth can-i). They are create-only "virtual" resources: the POST
// body is the question, the response is the same object with status filled.

import (
	"net/http"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubelab/kubelab/components/apiserver/authn"
	"github.com/kubelab/kubelab/components/apiserver/authz"
	"github.com/kubelab/kubelab/components/apiserver/registry"
)

// virtualResources are served by handlers, not by the registry.
var virtualResources = map[schema.GroupVersionResource]metav1.APIResource{
	{Group: "authentication.k8s.io", Version: "v1", Resource: "selfsubjectreviews"}: {
		Name: "selfsubjectreviews", Kind: "SelfSubjectReview", Verbs: metav1.Verbs{"create"}},
	{Group: "authorization.k8s.io", Version: "v1", Resource: "selfsubjectaccessreviews"}: {
		Name: "selfsubjectaccessreviews", Kind: "SelfSubjectAccessReview", Verbs: metav1.Verbs{"create"}},
}

// serveVirtual answers a review, or reports false when gvr is not one.
func (h *Handler) serveVirtual(w http.ResponseWriter, r *http.Request, ri *RequestInfo) bool {
	res, ok := virtualResources[ri.GVR()]
	if !ok {
		return false
	}
	if ri.Verb != "create" || ri.Name != "" {
		writeError(w, apierrors.NewMethodNotSupported(schema.GroupResource{Group: ri.Group, Resource: ri.Resource}, r.Method))
		return true
	}
	data, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return true
	}
	gvk := ri.GVR().GroupVersion().WithKind(res.Kind)
	obj, _, err := decodeObject(r, data, &registry.Info{GVK: gvk, New: func() runtime.Object { o, _ := registry.Scheme.New(gvk); return o }}, gvk)
	if err != nil {
		writeError(w, err)
		return true
	}
	user, _ := authn.UserFrom(r.Context())
	if user == nil {
		user = &authn.User{Name: "system:anonymous", Groups: []string{"system:unauthenticated"}}
	}
	switch review := obj.(type) {
	case *authenticationv1.SelfSubjectReview:
		review.Status.UserInfo = authenticationv1.UserInfo{Username: user.Name, UID: user.UID, Groups: user.Groups}
		writeJSON(w, http.StatusCreated, review)
	case *authorizationv1.SelfSubjectAccessReview:
		attrs := authz.Attributes{User: user}
		if ra := review.Spec.ResourceAttributes; ra != nil {
			attrs.ResourceRequest, attrs.Verb, attrs.Namespace, attrs.APIGroup = true, ra.Verb, ra.Namespace, ra.Group
			attrs.Resource, attrs.Subresource, attrs.Name = ra.Resource, ra.Subresource, ra.Name
		} else if na := review.Spec.NonResourceAttributes; na != nil {
			attrs.Verb, attrs.Path = na.Verb, na.Path
		}
		authorizer := h.Authorizer
		if authorizer == nil {
			authorizer = authz.AlwaysAllow
		}
		decision, reason, err := authorizer.Authorize(r.Context(), attrs)
		review.Status.Allowed = decision == authz.DecisionAllow
		review.Status.Denied = decision == authz.DecisionDeny
		review.Status.Reason = reason
		if err != nil {
			review.Status.EvaluationError = err.Error()
		}
		writeJSON(w, http.StatusCreated, review)
	}
	return true
}
