package authz

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubelab/kubelab/components/apiserver/authn"
)

func TestForbidden(t *testing.T) {
	t.Parallel()
	bob := &authn.User{Name: "bob"}
	tests := []struct {
		name        string
		attrs       Attributes
		reason      string
		wantMessage string
		wantDetails *metav1.StatusDetails
	}{
		{
			name:        "namespaced list",
			attrs:       Attributes{User: bob, Verb: "list", ResourceRequest: true, Namespace: "default", Resource: "pods"},
			wantMessage: `pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "default"`,
			wantDetails: &metav1.StatusDetails{Kind: "pods"},
		},
		{
			name:        "named object in a group",
			attrs:       Attributes{User: bob, Verb: "delete", ResourceRequest: true, Namespace: "prod", APIGroup: "apps", Resource: "deployments", Name: "web"},
			wantMessage: `deployments.apps "web" is forbidden: User "bob" cannot delete resource "deployments" in API group "apps" in the namespace "prod"`,
			wantDetails: &metav1.StatusDetails{Kind: "deployments", Group: "apps", Name: "web"},
		},
		{
			name:        "cluster scope",
			attrs:       Attributes{User: bob, Verb: "get", ResourceRequest: true, Resource: "nodes", Name: "node-0"},
			wantMessage: `nodes "node-0" is forbidden: User "bob" cannot get resource "nodes" in API group "" at the cluster scope`,
			wantDetails: &metav1.StatusDetails{Kind: "nodes", Name: "node-0"},
		},
		{
			name:        "subresource",
			attrs:       Attributes{User: bob, Verb: "get", ResourceRequest: true, Namespace: "default", Resource: "pods", Subresource: "log", Name: "web"},
			wantMessage: `pods "web" is forbidden: User "bob" cannot get resource "pods/log" in API group "" in the namespace "default"`,
			wantDetails: &metav1.StatusDetails{Kind: "pods", Name: "web"},
		},
		{
			name:        "non-resource path",
			attrs:       Attributes{User: bob, Verb: "get", Path: "/metrics"},
			wantMessage: `forbidden: User "bob" cannot get path "/metrics"`,
			wantDetails: &metav1.StatusDetails{},
		},
		{
			name:        "anonymous, with a reason",
			attrs:       Attributes{User: &authn.User{Name: authn.Anonymous}, Verb: "list", ResourceRequest: true, Resource: "namespaces"},
			reason:      "no RBAC policy matched",
			wantMessage: `namespaces is forbidden: User "system:anonymous" cannot list resource "namespaces" in API group "" at the cluster scope: no RBAC policy matched`,
			wantDetails: &metav1.StatusDetails{Kind: "namespaces"},
		},
		{
			name:        "no user at all",
			attrs:       Attributes{Verb: "get", Path: "/"},
			wantMessage: `forbidden: User "" cannot get path "/"`,
			wantDetails: &metav1.StatusDetails{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := Forbidden(tt.attrs, tt.reason).ErrStatus
			if s.Message != tt.wantMessage {
				t.Errorf("message = %s\nwant      %s", s.Message, tt.wantMessage)
			}
			if s.Code != http.StatusForbidden || s.Reason != metav1.StatusReasonForbidden || s.Status != metav1.StatusFailure {
				t.Errorf("status = %d %s %s", s.Code, s.Reason, s.Status)
			}
			if !reflect.DeepEqual(s.Details, tt.wantDetails) {
				t.Errorf("details = %+v, want %+v", *s.Details, *tt.wantDetails)
			}
		})
	}
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	boom := errors.New("webhook unreachable")
	fixed := func(d Decision, err error) Authorizer {
		return AuthorizerFunc(func(context.Context, Attributes) (Decision, string, error) { return d, "", err })
	}
	listPods := func(*http.Request) Attributes {
		return Attributes{Verb: "list", ResourceRequest: true, Namespace: "default", Resource: "pods"}
	}
	tests := []struct {
		name        string
		authorizer  Authorizer
		wantCode    int
		wantMessage string
	}{
		{name: "always allow", authorizer: AlwaysAllow, wantCode: 200},
		{name: "always deny", authorizer: AlwaysDeny, wantCode: 403,
			wantMessage: `pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "default"`},
		{name: "no opinion is a no", authorizer: fixed(DecisionNoOpinion, nil), wantCode: 403},
		{name: "error", authorizer: fixed(DecisionNoOpinion, boom), wantCode: 500},
		{name: "allowed despite an error", authorizer: fixed(DecisionAllow, boom), wantCode: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
			r := httptest.NewRequest("GET", "/api/v1/namespaces/default/pods", nil)
			r = r.WithContext(authn.WithUser(r.Context(), &authn.User{Name: "bob"})) // as authn.Middleware would
			rec := httptest.NewRecorder()
			Middleware(next, tt.authorizer, listPods).ServeHTTP(rec, r)
			if rec.Code != tt.wantCode {
				t.Fatalf("code = %d (%s), want %d", rec.Code, rec.Body, tt.wantCode)
			}
			if tt.wantCode == http.StatusOK {
				return
			}
			var s metav1.Status
			if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
				t.Fatal(err)
			}
			if s.Kind != "Status" || s.APIVersion != "v1" || int(s.Code) != tt.wantCode {
				t.Errorf("body is not a v1 Status with code %d: %s", tt.wantCode, rec.Body)
			}
			if tt.wantMessage != "" && s.Message != tt.wantMessage {
				t.Errorf("message = %q, want %q", s.Message, tt.wantMessage)
			}
		})
	}
}

// TestMiddlewarePassesUser checks that the authorizer sees the user from the context when attrsFrom
// leaves it out, and the one attrsFrom chose when it does not.
func TestMiddlewarePassesUser(t *testing.T) {
	t.Parallel()
	fromContext, explicit := &authn.User{Name: "ctx"}, &authn.User{Name: "explicit"}
	tests := []struct {
		name  string
		attrs Attributes
		want  *authn.User
	}{
		{name: "from context", attrs: Attributes{Verb: "get", Path: "/"}, want: fromContext},
		{name: "from attrsFrom", attrs: Attributes{User: explicit, Verb: "get", Path: "/"}, want: explicit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var seen *authn.User
			spy := AuthorizerFunc(func(_ context.Context, a Attributes) (Decision, string, error) {
				seen = a.User
				return DecisionAllow, "", nil
			})
			r := httptest.NewRequest("GET", "/", nil)
			r = r.WithContext(authn.WithUser(r.Context(), fromContext))
			h := Middleware(http.NotFoundHandler(), spy, func(*http.Request) Attributes { return tt.attrs })
			h.ServeHTTP(httptest.NewRecorder(), r)
			if seen != tt.want {
				t.Errorf("authorizer saw %v, want %v", seen, tt.want)
			}
		})
	}
}
